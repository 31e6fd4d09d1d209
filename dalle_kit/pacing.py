"""Client-side pacing: start requests no faster than the account's images and tokens per minute.

Two sources of limits, both applied:

- limits given by the caller (``images_per_minute=``, ``tokens_per_minute=``): starts are spread evenly, one
  image every ``60 / images_per_minute`` seconds (the API enforces per-minute limits over shorter windows),
  and no 60 s holds starts of more than the limit (a request of ``n`` images counts ``n``);
- limits the API reports in every answer's ``x-ratelimit-{limit,remaining}-{requests,images,tokens}`` headers: a
  bucket synced to what the API says remains, refilling at ``limit / 60`` per second, less what is in flight. A
  batch far below the limit is never slowed; one that would pass it waits for the window to free up.

After a 429 with ``Retry-After``, :meth:`Pacer.hold` keeps every start back until that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .registry import parse_size
from .request import Request

__all__ = ["Pacer", "request_tokens", "retry_after"]

WINDOW = 60.0  # seconds: the API's limits are per minute
EPSILON = 1e-6  # seconds of slack against float rounding when a start leaves the window

#: Output tokens of one 1024x1024 image per quality (the published gpt-image-1 table, forum-relayed), scaled
#: by pixels; ``auto`` is counted as ``high`` so pacing errs on the safe side.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}


def request_tokens(request: Request) -> int:
    """What a request will count against tokens per minute, known before sending (rough, on the high side)."""
    n = int(request.params.get("n") or 1)
    quality = str(request.params.get("quality") or "high")
    per_image = OUTPUT_TOKENS_1024.get(quality, OUTPUT_TOKENS_1024["high"])
    size = parse_size(str(request.params.get("size") or "")) or (1536, 1024)
    scale = max(1.0, size[0] * size[1] / (1024 * 1024))
    prompt = len(request.prompt or "") // 3 + 1
    inputs = 1500 * (len(request.images) + (request.mask is not None))
    return int(n * per_image * scale + prompt + inputs + 100 * int(request.params.get("partial_images") or 0))


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date); None
    when neither says anything usable. Never raises: a header that is not a finite number or a date is ignored."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            if math.isfinite(value := float(ms)):
                return max(0.0, value / 1000)
    text = headers.get("retry-after")
    if not text or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, value) if math.isfinite(value) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
        return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError, IndexError):  # not a date (the parser's errors vary by version)
        return None


@dataclass
class _Bucket:
    """What the API last said about one limit: its size, what remained, and when we heard."""

    limit: float
    remaining: float
    at: float

    def available(self, now: float, in_flight: float) -> float:
        refilled = self.remaining + (now - self.at) * self.limit / 60.0
        return min(self.limit, refilled) - in_flight


class Pacer:
    """Decides when the next request may start. ``acquire`` before sending, ``done`` with the answer's headers."""

    def __init__(self, images_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.images_per_minute = images_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.clock = clock
        self._next_image = 0.0
        self._next_token = 0.0
        self._held_until = 0.0
        self._in_flight = {"images": 0.0, "tokens": 0.0}
        self._buckets: dict[str, _Bucket] = {}
        self._started: deque[tuple[float, int, int]] = deque()  # (when, images, tokens) of the last 60 s's starts

    def _window_wait(self, now: float, images: int, tokens: int) -> float:
        """Seconds until the starts of the last 60 s leave room for this request under the given limits.

        Even spacing alone charges a request's images to the time *after* it starts, so a large request right
        after a small one could put more than the limit into one minute; this sliding window forbids that."""
        while self._started and self._started[0][0] + WINDOW <= now + EPSILON:
            self._started.popleft()
        wait = 0.0
        for column, need, limit in ((1, images, self.images_per_minute), (2, tokens, self.tokens_per_minute)):
            if not limit or need > limit:  # no limit given, or a request larger than it: the API says so
                continue
            excess = sum(entry[column] for entry in self._started) + need - limit
            for entry in self._started:  # oldest first: wait until enough of them have left the window
                if excess <= 0:
                    break
                excess -= entry[column]
                wait = max(wait, entry[0] + WINDOW - now)
        return wait

    def wait_for(self, images: int, tokens: int) -> float:
        """Seconds until a request of ``images`` and ``tokens`` may start; when 0, it is counted as started."""
        now = self.clock()
        wait = self._held_until - now
        if self.images_per_minute:
            wait = max(wait, self._next_image - now)
        if self.tokens_per_minute:
            wait = max(wait, self._next_token - now)
        if self.images_per_minute or self.tokens_per_minute:
            wait = max(wait, self._window_wait(now, images, tokens))
        for family, need in (("images", images), ("tokens", tokens)):
            bucket = self._buckets.get(family)
            if bucket is not None and need <= bucket.limit:  # a request larger than the limit: the API says so
                short = need - bucket.available(now, self._in_flight[family])
                if short > 0:
                    wait = max(wait, short * 60.0 / bucket.limit)
        if wait > 0:
            return wait
        if self.images_per_minute:
            self._next_image = max(self._next_image, now) + images * 60.0 / self.images_per_minute
        if self.tokens_per_minute:
            self._next_token = max(self._next_token, now) + tokens * 60.0 / self.tokens_per_minute
        if self.images_per_minute or self.tokens_per_minute:
            self._started.append((now, images, tokens))
        self._in_flight["images"] += images
        self._in_flight["tokens"] += tokens
        return 0.0

    async def acquire(self, images: int, tokens: int, remaining: float | None = None) -> bool:
        """Wait until the request may start (True), or until ``remaining`` seconds are up (False)."""
        end = None if remaining is None else self.clock() + remaining
        while (wait := self.wait_for(images, tokens)) > 0:
            if end is not None and self.clock() + wait > end:
                await asyncio.sleep(max(0.0, end - self.clock()))
                return False
            await asyncio.sleep(wait)
        return True

    def done(self, images: int, tokens: int, headers: Mapping[str, str] | None) -> None:
        """A request ended (answered or failed); learn the limits its answer reported."""
        self._in_flight["images"] = max(0.0, self._in_flight["images"] - images)
        self._in_flight["tokens"] = max(0.0, self._in_flight["tokens"] - tokens)
        if headers:
            self.learn(headers)

    def learn(self, headers: Mapping[str, str]) -> None:
        now = self.clock()
        for family, names in (("images", ("images", "requests")), ("tokens", ("tokens",))):
            for name in names:
                limit, remaining = headers.get(f"x-ratelimit-limit-{name}"), headers.get(
                    f"x-ratelimit-remaining-{name}")
                try:
                    bucket = _Bucket(float(limit or ""), float(remaining or ""), now)
                except ValueError:
                    continue
                if bucket.limit > 0:
                    self._buckets[family] = bucket
                    break

    def hold(self, seconds: float) -> None:
        """Start nothing for ``seconds`` (a 429 asked everyone to wait)."""
        self._held_until = max(self._held_until, self.clock() + seconds)

    def reported(self) -> dict[str, tuple[float, float]]:
        """``{family: (limit, remaining)}`` as last reported by the API."""
        return {family: (b.limit, b.remaining) for family, b in self._buckets.items()}
