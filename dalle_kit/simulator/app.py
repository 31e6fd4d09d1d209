"""The simulator core: one request (method, path, headers, body) in, one :class:`Reply` out. No sockets here.

Routes match on the path suffix, so any base URL works: ``.../images/generations``, ``.../images/edits``,
``.../images/variations``, ``.../models`` and ``.../models/{id}``, plus the simulator's own
``/_simulator/stats`` (GET, no key needed), ``/_simulator/reset`` (POST, any Bearer key, else 401) and
``/_simulator/files/{name}`` (legacy URLs, no key), and the Files and Batch APIs of :mod:`.batches`:
``/files``, ``/files/{id}``, ``/files/{id}/content`` (GET, POST, DELETE as the API) and ``/batches``,
``/batches/{id}``, ``/batches/{id}/cancel``.

An image request goes through, in order: the key (401), the body's syntax (400), the account state
(:mod:`.account`), the parameter rules (400/404, :mod:`.rules`), an injected fault, the rate limits (429,
:mod:`.ratelimit`), moderation (400), then drawing. Every answer outside ``/_simulator/`` carries the
``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import output
from .account import account_error, account_mode
from .batches import BatchStore, FileStore, batch_route
from .faults import Faults, retry_headers
from .forms import ApiError, parse_body
from .models import ShutdownDate, known_ids, model_list, model_object, shutdown_date, shutdown_overrides
from .ratelimit import refusal_error
from .rules import Job, check

__all__ = ["DEFAULT_MODERATION_WORDS", "Core", "Reply"]
_log = logging.getLogger(__name__)

#: Trigger words (case-insensitive, anywhere in the prompt) -> (moderation stage, categories).
DEFAULT_MODERATION_WORDS: Mapping[str, tuple[str, list[str]]] = {
    "moderation-test": ("input", ["violence"]),
    "moderation-output-test": ("output", ["sexual"]),
}
URL_TTL = 3600.0
_ROUTES = (("POST", re.compile(r"/images/generations/?$"), "generate", "POST /v1/images/generations"),
           ("POST", re.compile(r"/images/edits/?$"), "edit", "POST /v1/images/edits"),
           ("POST", re.compile(r"/images/variations/?$"), "variation", "POST /v1/images/variations"),
           ("GET", re.compile(r"/models/?$"), "models", "GET /v1/models"),
           ("GET", re.compile(r"/models/(?P<id>[^/]+)$"), "model", "GET /v1/models/{model}"),
           ("GET", re.compile(r"/_simulator/stats/?$"), "stats", "GET /_simulator/stats"),
           ("POST", re.compile(r"/_simulator/reset/?$"), "reset", "POST /_simulator/reset"),
           ("GET", re.compile(r"/_simulator/files/(?P<name>[\w.-]+)$"), "file", "GET /_simulator/files"),
           ("POST", re.compile(r"/files/?$"), "files_create", "POST /v1/files"),
           ("GET", re.compile(r"/files/?$"), "files_list", "GET /v1/files"),
           ("GET", re.compile(r"/files/(?P<id>[^/]+)/content/?$"), "file_content", "GET /v1/files/{id}/content"),
           ("GET", re.compile(r"/files/(?P<id>[^/]+)/?$"), "file_get", "GET /v1/files/{id}"),
           ("DELETE", re.compile(r"/files/(?P<id>[^/]+)/?$"), "file_delete", "DELETE /v1/files/{id}"),
           ("POST", re.compile(r"/batches/?$"), "batches_create", "POST /v1/batches"),
           ("GET", re.compile(r"/batches/?$"), "batches_list", "GET /v1/batches"),
           ("POST", re.compile(r"/batches/(?P<id>[^/]+)/cancel/?$"), "batch_cancel", "POST /v1/batches/{id}/cancel"),
           ("GET", re.compile(r"/batches/(?P<id>[^/]+)/?$"), "batch_get", "GET /v1/batches/{id}"))


@dataclass
class Reply:
    """An answer: status and headers, then a body, or SSE ``events`` as (delay before, bytes) pairs.

    ``delay`` is what remains of the latency to wait before answering (the latency minus the time the answer took
    to make, never below 0); ``drop`` means close the connection without a word.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: Iterator[tuple[float, bytes]] | None = None
    delay: float = 0.0
    drop: bool = False


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": "application/json", **(headers or {})},
                 json.dumps(payload, separators=(",", ":")).encode())


class Core:
    """State shared by every transport and the server: rules, faults, limits, account, counters, legacy files.

    ``account``, ``shutdown_dates`` (a dict) and ``unlisted`` (a set) may be changed between requests.
    """

    def __init__(self, *, seed: int = 0, latency: float | tuple[float, float] = 0.0, rate_limit: int | None = None,
                 tpm: int | None = None, fail: Mapping[int | str, float] | None = None,
                 moderation_words: Mapping[str, tuple[str, list[str]]] | None = None, legacy: bool = False,
                 partial_delay: float = 0.0, today: dt.date | None = None, account: str | None = None,
                 shutdown_dates: Mapping[str, ShutdownDate] | None = None, unlisted: Iterable[str] = (),
                 batch_seconds_per_line: float | None = 0.01, batch_fail_lines: Iterable[str | int] = (),
                 batch_fail_rate: float = 0.0, file_max_bytes: int = 200 * 1024 * 1024,
                 files_max_bytes: int = 512 * 1024 * 1024, files_max_count: int = 1000) -> None:
        self.seed = seed
        self.legacy = legacy
        self.partial_delay = partial_delay
        self.today = today
        self.faults = Faults(seed=seed, latency=latency, rate_limit=rate_limit, tpm=tpm, fail=fail)
        self.limits = self.faults.limits
        self.account = account  # the setter checks it and turns None into "ok"
        self.shutdown_dates: dict[str, ShutdownDate] = dict(shutdown_overrides(shutdown_dates))
        self.unlisted: set[str] = set(known_ids([unlisted] if isinstance(unlisted, str) else unlisted, "unlisted"))
        words = DEFAULT_MODERATION_WORDS if moderation_words is None else moderation_words
        self.moderation_words = {w.lower(): (stage, list(cats)) for w, (stage, cats) in words.items()}
        self._lock = threading.Lock()
        self._files: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()
        self._drawn: OrderedDict[str, int] = OrderedDict()  # fingerprint -> pictures drawn for it (the newest 10,000)
        self.clock = time.monotonic  # for URL expiry; tests may replace it
        self._ids = 0
        self.files = FileStore(self._new_id, max_file_bytes=file_max_bytes, max_total_bytes=files_max_bytes,
                               max_count=files_max_count)
        self.batches = BatchStore(self.files, self.answer_line, self._new_id, seed=seed,
                                  seconds_per_line=batch_seconds_per_line, fail_lines=batch_fail_lines,
                                  fail_rate=batch_fail_rate)
        self.reset_stats()

    @property
    def account(self) -> str:
        """The account state: ``ok``, ``insufficient_quota``, ``billing_hard_limit_reached`` or ``unverified``."""
        return self._account

    @account.setter
    def account(self, value: str | None) -> None:
        self._account = account_mode(value)

    def set_shutdown_date(self, model: str, date: ShutdownDate) -> None:
        """Report ``date`` (ISO text, a date, or None for "not announced") as ``model``'s ``shutdown_date``.

        ``del sim.shutdown_dates[model]`` goes back to the registry's date.
        """
        known_ids([model], "shutdown_dates")
        self.shutdown_dates[model] = shutdown_date(date)

    # -- counters -------------------------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._pairs: dict[str, Counter[str]] = {}
            self._made: Counter[str] = Counter()
            self._counter = 0
        if hasattr(self, "batches"):
            self.batches.reset_counts()

    def _count(self, endpoint: str, status: int | str, images: int = 0, kind: str = "") -> None:
        with self._lock:
            self._requests[endpoint] += 1
            self._statuses[str(status)] += 1
            self._pairs.setdefault(endpoint, Counter())[str(status)] += 1
            if images:
                self._made["generated"] += images
            if kind:
                self._made[kind] += 1

    def stats(self) -> dict[str, Any]:
        """Requests per endpoint and per status, images made and faults injected (the stats endpoint's JSON)."""
        batches, files = self.batches.stats(), self.files.stats()
        with self._lock:
            return {"simulator": "dalle_kit", "seed": self.seed, "legacy": self.legacy,
                    "total": sum(self._requests.values()), "requests": dict(self._requests),
                    "statuses": dict(self._statuses), "by_endpoint": {k: dict(v) for k, v in self._pairs.items()},
                    "images": self._made.get("generated", 0),
                    "faults": {k: v for k, v in self._made.items() if k != "generated"},
                    "account": self._account, "rate_limit": self._rate_limit_stats(), "batches": batches,
                    "files": files}

    def _rate_limit_stats(self) -> dict[str, Any]:
        images, tokens = self.limits.used()
        return {"images_per_minute": self.limits.images_per_minute, "used": images,
                "tokens_per_minute": self.limits.tokens_per_minute, "tokens_used": tokens}

    def _request_id(self) -> str:
        with self._lock:
            self._counter += 1
            n = self._counter
        return "req_" + hashlib.sha256(f"{self.seed}:{n}".encode()).hexdigest()[:32]

    def _new_id(self, prefix: str) -> str:
        """Ids for files, batches and batch lines (seeded, never repeated within a simulator)."""
        with self._lock:
            self._ids += 1
            n = self._ids
        return prefix + hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()[:24]

    def run_batches(self, steps: int | None = None) -> int:
        """Advance the batches in this thread (clock-free tests, with ``batch_seconds_per_line=None``): ``steps``
        steps (validating, one line, finalizing: one step each) or until no batch is active. Returns the steps."""
        return self.batches.run(steps)

    def wait_batches(self, timeout: float = 60.0) -> bool:
        """Wait until the background worker has no active batch left; True if so within ``timeout`` seconds."""
        return self.batches.wait(timeout)

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, origin: str) -> Reply:
        """Answer one request. ``headers`` must be case-insensitive (lower-case keys); ``origin`` is
        ``scheme://host[:port]`` as the client sees it (for legacy URLs)."""
        path, _, query = path.partition("?")
        request_id = self._request_id()
        for verb, pattern, name, label in _ROUTES:
            m = pattern.search(path)
            if m and (name in ("stats", "reset", "file") or not path.startswith("/_simulator")):
                if verb != method.upper():
                    continue
                try:
                    reply = self._route(name, m, method, headers, body, origin, request_id, label, query)
                except Exception as exc:  # a simulator bug answers 500, like a server would
                    _log.exception("simulator failed on %s %s", method, label)
                    reply = self._error(ApiError(500, f"The simulator failed: {type(exc).__name__}: {exc}",
                                                 type="server_error"), request_id)
                break
        else:
            label = "other"
            reply = self._error(ApiError(404, f"Invalid URL ({method.upper()} {path})"), request_id)
        reply.headers.setdefault("x-request-id", request_id)
        reply.headers.setdefault("openai-version", "2020-10-01")
        reply.headers["x-simulator"] = "dalle_kit; images are simulated"
        if not label.startswith(("GET /_simulator", "POST /_simulator")):
            reply.headers.update(self.limits.headers())
        if label not in ("GET /_simulator/stats", "POST /_simulator/reset"):
            self._count(label, "dropped" if reply.drop else reply.status, kind="dropped" if reply.drop else "")
        return reply

    def _error(self, err: ApiError, request_id: str) -> Reply:
        return _json(err.status, err.body(), err.headers)

    def _route(self, name: str, m: re.Match[str], method: str, headers: Mapping[str, str], body: bytes,
               origin: str, request_id: str, label: str, query: str = "") -> Reply:
        if name == "stats":  # read-only, no key: readiness checks and curl examples use it
            return _json(200, self.stats())
        if name == "file":  # image URLs work without a key, as the real (signed) ones do
            return self._file(m.group("name"))
        auth = headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return self._error(ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                                        "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                                        "YOUR_KEY), or as the password field (with blank username) if you're "
                                        "accessing the API from your browser and are prompted for a username and "
                                        "password. You can obtain an API key from "
                                        "https://platform.openai.com/account/api-keys."), request_id)
        if name == "reset":  # changes state: any key, like the image routes
            self.reset_stats()
            self.faults.reset()
            return _json(200, {"reset": True})
        try:
            dates, unlisted = dict(self.shutdown_dates), set(self.unlisted)  # copies: they may change meanwhile
            if name == "models":
                return _json(200, model_list(legacy=self.legacy, today=self.today, shutdown_dates=dates,
                                             unlisted=unlisted))
            if name == "model":
                return _json(200, model_object(m.group("id"), legacy=self.legacy, today=self.today,
                                               shutdown_dates=dates, unlisted=unlisted))
            if name.startswith(("file", "batch")):
                return self._batch_route(name, m, headers, body, query)
            return self._images(name, headers, body, origin, request_id)
        except ApiError as err:
            return self._error(err, request_id)

    def _batch_route(self, name: str, m: re.Match[str], headers: Mapping[str, str], body: bytes,
                     query: str) -> Reply:
        form = None
        if name == "files_create" and len(body) > self.files.max_file_bytes + 64 * 1024:
            raise self.files._too_large(len(body))  # before parsing: no copy of a body too large anyway
        if name in ("files_create", "batches_create"):
            form = parse_body(headers.get("content-type"), body)
        ident = m.groupdict().get("id")
        status, payload, ctype = batch_route(self.files, self.batches, name, ident, query, form, len(body))
        if isinstance(payload, bytes):
            return Reply(status, {"content-type": ctype}, payload)
        return _json(status, payload)

    def answer_line(self, endpoint: str, body: dict[str, Any], request_id: str) -> tuple[int, dict[str, Any]]:
        """One batch line, answered as a live JSON request: same parser, file references, account state, rules,
        moderation and pictures (no latency, injected faults or per-minute limits). Returns (status, body)."""
        try:
            form = parse_body("application/json", json.dumps(body, allow_nan=False).encode())
            self.files.resolve(form)
            refused = account_error(self._account, form, endpoint, legacy=self.legacy, today=self.today)
            if refused is not None:
                self._count_kind(self._account)
                raise refused
            job = check(form, endpoint, legacy=self.legacy, today=self.today)
            if job.stream:
                raise ApiError(400, "Streaming is not supported in the Batch API.", param="stream",
                               code="invalid_value")
            if job.legacy:
                raise ApiError(400, f"The model '{job.spec.id}' is not supported in the Batch API.", param="model",
                               code="invalid_value")
            verdict = self._moderation(job)
            if verdict:
                raise self._blocked(job, verdict, request_id)
        except ApiError as err:
            return err.status, err.body()
        self._again(job)
        files = [output.encoded(job, i, self.seed)[0] for i in range(job.n)]
        self._count_kind("generated", job.n)
        return 200, output.images_response(job, files, int(time.time()))

    def _file(self, name: str) -> Reply:
        with self._lock:
            entry = self._files.get(name)
        if entry is None or self.clock() > entry[2]:
            return Reply(403, {"content-type": "text/plain"},
                         b"This simulated image URL has expired or never existed (URLs are valid for 60 minutes).")
        return Reply(200, {"content-type": entry[1], "cache-control": "private, max-age=3600"}, entry[0])

    def _moderation(self, job: Job) -> tuple[str, list[str]] | None:
        low = job.prompt.lower()
        for word, verdict in self.moderation_words.items():
            if word and word in low:
                return verdict
        return None

    def _blocked(self, job: Job, verdict: tuple[str, list[str]], request_id: str) -> ApiError:
        stage, categories = verdict
        if job.legacy:
            return ApiError(400, "Your request was rejected as a result of our safety system. Your prompt may contain "
                            "text that is not allowed by our safety system.", code="content_policy_violation")
        return ApiError(400, "Your request was rejected by the safety system. If you believe this is an error, "
                        f"contact us at help.openai.com and include the request ID {request_id}. "
                        f"safety_violations=[{', '.join(categories)}].", type="image_generation_user_error",
                        code="moderation_blocked",
                        extra={"moderation_details": {"moderation_stage": stage, "categories": list(categories)}})

    def _images(self, endpoint: str, headers: Mapping[str, str], body: bytes, origin: str,
                request_id: str) -> Reply:
        started = time.perf_counter()
        latency = self.faults.delay()

        def delay() -> float:  # the latency is the least an answer takes, drawing included: wait what remains
            return max(0.0, latency - (time.perf_counter() - started))

        form = parse_body(headers.get("content-type"), body)
        self.files.resolve(form)  # JSON edits may name uploaded files: images: [{"file_id": ...}]
        refused = account_error(self._account, form, endpoint, legacy=self.legacy, today=self.today)
        if refused is not None:
            self._count_kind(self._account)
            raise refused
        job = check(form, endpoint, legacy=self.legacy, today=self.today)
        fault = self.faults.draw()
        if fault == "drop":
            return Reply(0, drop=True, delay=delay())
        if fault is not None:
            return self._injected(int(fault), delay())
        refusal = self.faults.admit(job.n, output.request_tokens(job))
        if refusal is not None:
            self._count_kind("rate_limited" if refusal.kind == "images" else "rate_limited_tokens")
            reply = self._error(refusal_error(refusal, job.spec.id), request_id)
            reply.delay = delay()
            return reply
        verdict = self._moderation(job)
        created = int(time.time())
        if verdict and (verdict[0] != "output" or not job.stream):
            reply = self._error(self._blocked(job, verdict, request_id), request_id)
            reply.delay = delay()
            return reply
        self._again(job)
        if job.stream:
            blocked = self._blocked(job, verdict, request_id).body()["error"] if verdict else None
            self._count_kind("generated", job.n if not blocked else 0)
            events = output.stream_events(job, self.seed, created, self.partial_delay, blocked)
            return Reply(200, {"content-type": "text/event-stream", "cache-control": "no-cache"}, events=events,
                         delay=delay())
        files = [output.encoded(job, i, self.seed)[0] for i in range(job.n)]
        self._count_kind("generated", job.n)
        urls = None
        if job.response_format == "url":
            urls = [self._store(origin, job, i, blob) for i, blob in enumerate(files)]
        payload = output.images_response(job, files, created, urls)
        ms = int((time.perf_counter() - started) * 1000)
        reply = _json(200, payload, {"openai-processing-ms": str(ms)})
        reply.delay = delay()
        return reply

    def _again(self, job: Job) -> None:
        """Asked again, the API draws a new picture: a repeat of a request gets its own (still seeded: the same
        sequence of requests to a new simulator gives the same pictures)."""
        with self._lock:
            repeat = self._drawn.pop(job.fingerprint, 0)
            self._drawn[job.fingerprint] = repeat + 1
            while len(self._drawn) > 10_000:
                self._drawn.popitem(last=False)
        if repeat:
            object.__setattr__(job, "fingerprint", f"{job.fingerprint}:{repeat}")

    def _count_kind(self, kind: str, amount: int = 1) -> None:
        with self._lock:
            self._made[kind] += amount

    def _injected(self, status: int, delay: float) -> Reply:
        wait = self.faults.retry_after_ms() / 1000
        self._count_kind(f"injected_{status}")
        if status == 429:
            err = ApiError(429, "Rate limit reached for images per minute (simulated fault). Please try again in "
                           f"{wait * 1000:.0f}ms.", type="requests", code="rate_limit_exceeded",
                           headers=retry_headers(wait))
        elif status >= 500:
            err = ApiError(status, "The server had an error while processing your request. Sorry about that! "
                           "(simulated fault)", type="server_error", headers=retry_headers(wait))
        else:
            err = ApiError(status, f"Simulated fault: HTTP {status}.", code="simulated_fault")
        reply = _json(err.status, err.body(), err.headers)
        reply.delay = delay
        return reply

    def _store(self, origin: str, job: Job, index: int, blob: bytes) -> str:
        name = hashlib.sha256(f"{self.seed}:{job.fingerprint}:{index}:{time.time_ns()}".encode()).hexdigest()[:32]
        name += ".png"
        expires = self.clock() + URL_TTL
        with self._lock:
            self._files[name] = (blob, "image/png", expires)
            while len(self._files) > 256:
                self._files.popitem(last=False)
        stamp = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=URL_TTL)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{origin.rstrip('/')}/_simulator/files/{name}?se={stamp}&sp=r&sig=simulated"
