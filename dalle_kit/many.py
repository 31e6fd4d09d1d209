"""Many images at once: the engine behind ``Kit.generate_many`` / ``edit_many`` and their async twins.

A batch goes: every request validated (an invalid one is reported and never sent) → repeats of one request told
apart (``Request.take``) → answered from the store where it holds them (the cache) → the budget checked for what
remains → sent, at most ``concurrency`` at a time, paced (:class:`~dalle_kit.pacing.Pacer`) to the images and
tokens per minute given or reported by the API's ``x-ratelimit-*`` headers → retried on 429 (``retry-after-ms`` /
``Retry-After`` honoured, with jitter; the whole batch holds back), 5xx, dropped connections and timeouts, until
``retries`` or ``deadline``; never on moderation or any other 4xx. ``insufficient_quota``, a billing limit or a
refused key stop the batch: the requests not sent yet are marked "not sent".

The engine owns retries (the SDK's are off for its calls), so a 429 is waited out once, by everyone. Each answer
is parsed, decoded, stored, priced and thumbnailed in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import openai
from tqdm.auto import tqdm

from . import costs
from .api_errors import annotate
from .errors import DalleKitError, InvalidArgument, warn
from .inputs import to_uploads
from .many_result import ManyResult, Outcome
from .pacing import Pacer, request_tokens, retry_after
from .request import Request
from .results import ImageResult, ImageSet, usd

if TYPE_CHECKING:
    from .client import Kit

__all__ = ["Options", "prepare", "run_many", "run_sync"]

T = TypeVar("T")
#: Account-wide refusals: nothing else in the batch can succeed, so the rest is not sent.
STOP_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
#: Seconds a 429's ``Retry-After`` may ask for and still be waited out (the SDK's own limit); asking more stops
#: the batch: the rest would only wait too. ``retry_failed()`` later sends what was left.
LONGEST_WAIT = 120.0


@dataclass(frozen=True)
class Options:
    """How a batch is sent. ``deadline``: seconds for the whole batch, retries and answers awaited included (None:
    no limit); a call still unanswered then ends in ``TimeoutError``."""

    concurrency: int = 8
    images_per_minute: float | None = None
    tokens_per_minute: float | None = None
    retries: int = 10
    deadline: float | None = 900.0
    progress: bool = True
    fresh: bool = False
    on_outcome: Callable[[Outcome], None] | None = None  # called as each sent request ends (the batch's thread)

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise InvalidArgument(f"concurrency must be a whole number, 1 or more, got {self.concurrency!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidArgument(f"retries must be a whole number, 0 or more, got {self.retries!r}")
        for name in ("images_per_minute", "tokens_per_minute", "deadline"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                                      not value > 0):
                raise InvalidArgument(f"{name} must be a positive number or None, got {value!r}")


# -- preparing -------------------------------------------------------------------------------------------------

def _to_request(kit: Kit, endpoint: str, given: Any, common: Mapping[str, Any]) -> Request:
    if isinstance(given, Request):
        if given.endpoint != endpoint:
            raise InvalidArgument(f"a {given.endpoint} request was given to {endpoint}_many; pass it to "
                                  f"{given.endpoint}_many, or build it with kit.request({endpoint!r}, ...)")
        return given
    if isinstance(given, Mapping):
        params = {**common, **given}
    elif isinstance(given, str) or hasattr(given, "render"):
        if endpoint == "edit" and "image" not in common:
            raise InvalidArgument("edit_many needs an image for each request: pass dicts such as "
                                  "{'image': 'photo.png', 'prompt': '...'}, or image=... for all of them")
        params = {**common, "prompt": given}
    else:
        raise InvalidArgument(f"each request must be a prompt (str), a dict of {endpoint}() arguments or a Request "
                              f"from kit.request(), got {type(given).__name__}")
    if params.pop("stream", False):
        raise InvalidArgument(f"stream=True is for one image at a time; {endpoint}_many sends whole answers "
                              "(leave stream out)")
    params.pop("fresh", None)
    return kit.request(endpoint, **params)


def _shared_uploads(common: Mapping[str, Any]) -> dict[str, Any]:
    """``common`` with its input images and masks read, checked and digested once for the whole batch (a bad
    one is left as given: each request then reports it)."""
    out = dict(common)
    for name in ("image", "mask", "markup"):
        value = out.get(name)
        if value is not None:
            with contextlib.suppress(DalleKitError):
                uploads = to_uploads(value, name)
                several = isinstance(value, list) or (isinstance(value, tuple) and len(uploads) > 1)
                out[name] = list(uploads) if several else uploads[0]
    return out


def prepare(kit: Kit, endpoint: str, items: Iterable[Any], common: Mapping[str, Any]) -> list[Outcome]:
    """Validate every request before any is sent; repeats of one request get takes 1, 2 ... (own keys)."""
    if isinstance(items, (str, bytes, Mapping, Request)) or hasattr(items, "render"):  # one request (a Prompt)
        items = [items]
    common = _shared_uploads(common)
    outcomes = []
    seen: Counter[str] = Counter()
    used: set[str] = set()  # the keys given out: a take the caller set by hand may not share one with a repeat
    for index, given in enumerate(items):
        outcome = Outcome(index, given)
        try:
            request = _to_request(kit, endpoint, given, common)
        except DalleKitError as exc:
            outcome.error, outcome.source = exc, "invalid"
        else:
            take = seen[request.key] + request.take
            seen[request.key] += 1
            taken = replace(request, take=take) if take != request.take else request
            while taken.key in used:
                take += 1
                taken = replace(request, take=take)
            used.add(taken.key)
            outcome.request = taken
        outcomes.append(outcome)
    return outcomes


# -- running ---------------------------------------------------------------------------------------------------

def _classify(exc: BaseException) -> str:
    """``retry`` (429, 5xx, connection), ``stop`` (account-wide: no credit, bad key) or ``final``."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        code = exc.code or body.get("code")
        if code in STOP_CODES or exc.status_code == 401:
            return "stop"
        should = exc.response.headers.get("x-should-retry")
        if should == "false" or code in ("moderation_blocked", "content_policy_violation"):  # the same refusal again
            return "final"
        if exc.status_code == 429 and (retry_after(exc.response.headers) or 0.0) > LONGEST_WAIT:
            return "stop"  # a daily or account limit, not a per-minute one: every other request would wait too
        if should == "true" or exc.status_code == 429 or exc.status_code >= 500:
            return "retry"
        return "final"
    return "retry" if isinstance(exc, openai.APIConnectionError) else "final"


def _backoff(attempt: int, rng: random.Random) -> float:
    """The SDK's schedule: 0.5 s doubling, at most 8 s, less up to 25 % jitter."""
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (1 - 0.25 * rng.random())


class _Run:
    """One batch in flight: the semaphore, the pacer, the progress bar and the counters."""

    def __init__(self, kit: Kit, endpoint: str, outcomes: list[Outcome], options: Options) -> None:
        self.kit, self.endpoint, self.outcomes, self.options = kit, endpoint, outcomes, options
        self.pacer = Pacer(options.images_per_minute, options.tokens_per_minute)
        self.rng = random.Random()
        self.sent = 0
        self.retrying = 0
        self.spend = 0.0
        self.stopped: BaseException | None = None
        self.done = sum(o.ok for o in outcomes)  # answered from the store
        self.failed = sum(o.source == "invalid" for o in outcomes)
        self.started = time.monotonic()
        self.bar: Any = None

    def _late(self) -> bool:
        deadline = self.options.deadline
        return deadline is not None and time.monotonic() - self.started > deadline

    def _tick(self, outcome: Outcome | None = None, *, refresh: bool = False) -> None:
        """Count ``outcome`` (when one ended) and update the bar; ``refresh``: show it now (a retry began: the
        bar may not move again until a wait of seconds is over)."""
        if outcome is not None:  # counted as they end (a batch may hold 50,000 requests)
            self.spend += outcome.cost if outcome.cost is not None and outcome.source == "api" else 0.0
            self.done += outcome.ok
            self.failed += outcome.source in ("failed", "invalid")
            if self.options.on_outcome is not None:
                try:
                    self.options.on_outcome(outcome)
                except Exception as exc:  # a view that cannot update must not lose the batch
                    warn(f"on_outcome failed for request #{outcome.index} ({type(exc).__name__}: {exc}); the batch "
                         "goes on")
        self.bar.set_postfix_str(f"done {self.done}, failed {self.failed}, retrying {self.retrying}, spend "
                                 f"{usd(self.spend)}", refresh=refresh)
        if outcome is not None:
            self.bar.update(1)

    def _finish(self, request: Request, raw: Any) -> tuple[ImageResult | ImageSet, float | None]:
        """In a worker thread: parse, decode, store, price, thumbnail."""
        collector = self.kit._collector(request)
        result = collector.from_response(raw.parse())
        images = [result] if isinstance(result, ImageResult) else list(result)
        for image in images:
            if image.format != "svg":
                with contextlib.suppress(Exception):  # a thumbnail is a nicety: the image is stored already
                    _ = image._small
        return result, collector.cost

    async def _send(self, client: Any, pool: ThreadPoolExecutor, outcome: Outcome,
                    semaphore: asyncio.Semaphore) -> None:
        request = outcome.request
        assert request is not None
        images, tokens = int(request.params.get("n") or 1), request_tokens(request)
        call = self.kit._raw_method(client, request)
        began = time.monotonic()
        while True:
            raw = None
            async with semaphore:  # checked again once a slot is ours: the batch may have stopped meanwhile
                if self._halted(outcome):
                    break
                if not await self.pacer.acquire(images, tokens, self._remaining()):
                    continue  # the deadline passed while waiting: the next round reports it
                if self._halted(outcome):  # stopped while paced: give back what acquire() counted
                    self.pacer.done(images, tokens, None)
                    break
                outcome.attempts += 1
                self.sent += 1
                remaining = self._remaining()
                try:
                    with annotate(self.kit._client.api_key):
                        # the deadline bounds the wait for an answer too: a slow or silent server ends the batch
                        raw = await (call() if remaining is None else asyncio.wait_for(call(), max(0.0, remaining)))
                except TimeoutError:
                    self.pacer.done(images, tokens, None)
                    outcome.error = TimeoutError(f"the batch's deadline ({self.options.deadline:g} s) passed while "
                                                 "waiting for this answer (it may still be billed)")
                except (openai.APIError, OSError) as exc:
                    self.pacer.done(images, tokens, getattr(getattr(exc, "response", None), "headers", None))
                    outcome.error = exc
                else:
                    self.pacer.done(images, tokens, raw.headers)
            if raw is not None:  # the slot is free again: image work in a thread never holds back the next send
                try:
                    outcome.result, outcome.cost = await asyncio.get_running_loop().run_in_executor(
                        pool, self._finish, request, raw)
                except Exception as exc:  # an answer without images, a body the SDK cannot parse
                    outcome.error, outcome.source = exc, "failed"
                    break
                outcome.error, outcome.source = None, "api"
                break
            assert outcome.error is not None  # no answer: the call raised
            kind = _classify(outcome.error)
            response = getattr(outcome.error, "response", None)
            asked = retry_after(response.headers) if kind == "stop" and response is not None else None
            if asked is not None and asked > LONGEST_WAIT:
                outcome.error.add_note(f"dalle_kit: the API asks to wait {asked:.0f} s, longer than a batch waits "
                                       f"({LONGEST_WAIT:.0f} s), so the batch stopped; run result.retry_failed() "
                                       "later to send what is left")
            if kind == "stop":
                self.stopped = self.stopped or outcome.error
            if kind != "retry" or outcome.attempts > self.options.retries:
                outcome.source = "failed"
                break
            await self._wait_to_retry(outcome)
        outcome.seconds = round(time.monotonic() - began, 4)
        self._tick(outcome)

    def _halted(self, outcome: Outcome) -> bool:
        """True (and the outcome says why) when the batch stopped or its deadline passed: send nothing more."""
        if self.stopped is None and not self._late():
            return False
        outcome.error = outcome.error or self.stopped or TimeoutError(
            f"the batch's deadline ({self.options.deadline:g} s) passed before this request was answered")
        outcome.source = "failed" if outcome.attempts else "not sent"
        return True

    def _remaining(self) -> float | None:
        deadline = self.options.deadline
        return None if deadline is None else deadline - (time.monotonic() - self.started)

    async def _wait_to_retry(self, outcome: Outcome) -> None:
        exc = outcome.error
        response = getattr(exc, "response", None)
        asked = retry_after(response.headers) if response is not None else None
        if asked is not None:
            wait = asked * (1 + 0.2 * self.rng.random())  # later, never sooner, than asked; not all at once
            if getattr(exc, "status_code", None) == 429:
                self.pacer.hold(asked)  # everyone waits: the account is over its limit
        else:
            wait = _backoff(outcome.attempts, self.rng)
        remaining = self._remaining()
        if remaining is not None and wait > remaining:
            wait = max(0.0, remaining)
        self.retrying += 1
        self._tick(refresh=True)
        try:
            await asyncio.sleep(wait)
        finally:
            self.retrying -= 1

    async def go(self) -> ManyResult:
        todo = [o for o in self.outcomes if o.source == "not sent" and o.request is not None]
        desc = f"{self.endpoint} ×{len(self.outcomes)}"
        if todo and self.options.progress:  # what the requests still to send may cost, before sending
            estimate = costs.estimate_many([o.request for o in todo if o.request is not None])
            desc += f" (est. {estimate})" if estimate.known else ""
        with tqdm(total=len(self.outcomes), desc=desc, unit="req", disable=not self.options.progress,
                  dynamic_ncols=True) as self.bar:
            self.bar.update(len(self.outcomes) - len(todo))
            self._tick()
            if todo:
                client = self.kit._aclient.with_options(http_client=self.kit._new_async_http(), max_retries=0)
                semaphore = asyncio.Semaphore(self.options.concurrency)
                try:
                    with ThreadPoolExecutor(max_workers=min(4, self.options.concurrency),
                                            thread_name_prefix="dalle_kit-images") as pool:
                        await asyncio.gather(*(self._send(client, pool, o, semaphore) for o in todo))
                finally:
                    await client.close()
            self._tick()
        return ManyResult(self.outcomes, sent=self.sent, wall=round(time.monotonic() - self.started, 4),
                          rerun=lambda failed: _rerun(self.kit, self.endpoint, failed, self.options))


async def run_many(kit: Kit, endpoint: str, outcomes: list[Outcome], options: Options) -> ManyResult:
    """Answer from the store what it holds, check the budget for the rest, then send the rest."""
    for outcome in outcomes:
        if outcome.request is not None and outcome.source == "not sent":
            cached = kit._cached(outcome.request, options.fresh)
            if cached is not None:
                outcome.result, outcome.source = cached, "store"
    todo = [o.request for o in outcomes if o.source == "not sent" and o.request is not None]
    if todo:
        kit.check_budget(todo, f"this batch of {len(todo)} request{'s' if len(todo) != 1 else ''}")
    return await _Run(kit, endpoint, outcomes, options).go()


def _rerun(kit: Kit, endpoint: str, failed: list[Outcome], options: Options) -> ManyResult:
    fresh = [Outcome(o.index, o.given, o.request) for o in failed]
    return run_sync(lambda: run_many(kit, endpoint, fresh, options))


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end from sync code; inside a running loop (Jupyter) in a helper thread."""
    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dalle_kit-batch") as pool:
        return pool.submit(asyncio.run, main()).result()
