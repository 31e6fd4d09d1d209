"""The simulator core: one request (method, path, headers, body) in, one :class:`Reply` out. No sockets here.

Routes match on the path suffix, so any base URL works: ``.../images/generations``, ``.../images/edits``,
``.../images/variations``, ``.../models`` and ``.../models/{id}``, plus the simulator's own
``/_simulator/stats`` (GET), ``/_simulator/reset`` (POST) and ``/_simulator/files/{name}`` (legacy URLs).
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..registry import all_specs, get
from . import output
from .faults import Faults, retry_headers
from .forms import ApiError, parse_body
from .rules import Job, check, served

__all__ = ["Reply", "Core", "DEFAULT_MODERATION_WORDS"]
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
           ("GET", re.compile(r"/_simulator/files/(?P<name>[\w.-]+)$"), "file", "GET /_simulator/files"))


@dataclass
class Reply:
    """An answer: status and headers, then a body, or SSE ``events`` as (delay before, bytes) pairs.

    ``delay`` is the latency to wait before answering; ``drop`` means close the connection without a word.
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
    """State shared by every transport and the server: rules, faults, counters and legacy files."""

    def __init__(self, *, seed: int = 0, latency: float | tuple[float, float] = 0.0, rate_limit: int | None = None,
                 fail: Mapping[int | str, float] | None = None,
                 moderation_words: Mapping[str, tuple[str, list[str]]] | None = None, legacy: bool = False,
                 partial_delay: float = 0.0, today: dt.date | None = None) -> None:
        self.seed = seed
        self.legacy = legacy
        self.partial_delay = partial_delay
        self.today = today
        self.faults = Faults(seed=seed, latency=latency, rate_limit=rate_limit, fail=fail)
        words = DEFAULT_MODERATION_WORDS if moderation_words is None else moderation_words
        self.moderation_words = {w.lower(): (stage, list(cats)) for w, (stage, cats) in words.items()}
        self._lock = threading.Lock()
        self._files: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()
        self.clock = time.monotonic  # for URL expiry; tests may replace it
        self.reset_stats()

    # -- counters -------------------------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._pairs: dict[str, Counter[str]] = {}
            self._made: Counter[str] = Counter()
            self._counter = 0

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
        with self._lock:
            return {"simulator": "dalle_kit", "seed": self.seed, "legacy": self.legacy,
                    "total": sum(self._requests.values()), "requests": dict(self._requests),
                    "statuses": dict(self._statuses), "by_endpoint": {k: dict(v) for k, v in self._pairs.items()},
                    "images": self._made.get("generated", 0),
                    "faults": {k: v for k, v in self._made.items() if k != "generated"},
                    "rate_limit": {"images_per_minute": self.faults.rate_limit, "used": self.faults.current()}}

    def _request_id(self) -> str:
        with self._lock:
            self._counter += 1
            n = self._counter
        return "req_" + hashlib.sha256(f"{self.seed}:{n}".encode()).hexdigest()[:32]

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, origin: str) -> Reply:
        """Answer one request. ``headers`` must be case-insensitive (lower-case keys); ``origin`` is
        ``scheme://host[:port]`` as the client sees it (for legacy URLs)."""
        path = path.split("?", 1)[0]
        request_id = self._request_id()
        for verb, pattern, name, label in _ROUTES:
            m = pattern.search(path)
            if m and (name in ("stats", "reset", "file") or not path.startswith("/_simulator")):
                if verb != method.upper():
                    continue
                try:
                    reply = self._route(name, m, method, headers, body, origin, request_id, label)
                except Exception as exc:  # noqa: BLE001 - a simulator bug answers 500, like a server would
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
        if label not in ("GET /_simulator/stats", "POST /_simulator/reset"):
            self._count(label, "dropped" if reply.drop else reply.status, kind="dropped" if reply.drop else "")
        return reply

    def _error(self, err: ApiError, request_id: str) -> Reply:
        return _json(err.status, err.body(), err.headers)

    def _route(self, name: str, m: re.Match[str], method: str, headers: Mapping[str, str], body: bytes,
               origin: str, request_id: str, label: str) -> Reply:
        if name == "stats":
            return _json(200, self.stats())
        if name == "reset":
            self.reset_stats()
            self.faults.reset()
            return _json(200, {"reset": True})
        if name == "file":
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
        try:
            if name == "models":
                return _json(200, {"object": "list", "data": [self._model(s.id) for s in all_specs()
                                                              if served(s, legacy=self.legacy, today=self.today)]})
            if name == "model":
                return _json(200, self._model(m.group("id")))
            return self._images(name, headers, body, origin, request_id)
        except ApiError as err:
            return self._error(err, request_id)

    def _model(self, model_id: str) -> dict[str, Any]:
        spec = get(model_id)
        if spec is None or not served(spec, legacy=self.legacy, today=self.today):
            raise ApiError(404, f"The model `{model_id}` does not exist or you do not have access to it.",
                           code="model_not_found")
        released = dt.date.fromisoformat(spec.released) if spec.released else dt.date(2025, 1, 1)
        created = int(dt.datetime.combine(released, dt.time(), dt.timezone.utc).timestamp())
        return {"id": spec.id, "object": "model", "created": created, "owned_by": "system",
                "shutdown_date": spec.shutdown_on.isoformat() if spec.shutdown_on else None}

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
        delay = self.faults.delay()
        job = check(parse_body(headers.get("content-type"), body), endpoint, legacy=self.legacy, today=self.today)
        fault = self.faults.draw()
        if fault == "drop":
            return Reply(0, drop=True, delay=delay)
        if fault is not None:
            return self._injected(int(fault), delay)
        wait = self.faults.admit(job.n)
        if wait is not None:
            self._count_kind("rate_limited")
            limit = self.faults.rate_limit
            err = ApiError(429, f"Rate limit reached for images per minute on {job.spec.id}: Limit {limit}, Used "
                           f"{self.faults.current()}, Requested {job.n}. Please try again in {wait:.3f}s.",
                           type="requests", code="rate_limit_exceeded", headers=retry_headers(wait))
            reply = self._error(err, request_id)
            reply.headers.update({"x-ratelimit-limit-images": str(limit),
                                  "x-ratelimit-remaining-images": str(max(0, limit - self.faults.current()))})
            reply.delay = delay
            return reply
        verdict = self._moderation(job)
        created = int(time.time())
        if verdict and (verdict[0] != "output" or not job.stream):
            reply = self._error(self._blocked(job, verdict, request_id), request_id)
            reply.delay = delay
            return reply
        if job.stream:
            blocked = self._blocked(job, verdict, request_id).body()["error"] if verdict else None
            self._count_kind("generated", job.n if not blocked else 0)
            events = output.stream_events(job, self.seed, created, self.partial_delay, blocked)
            return Reply(200, {"content-type": "text/event-stream", "cache-control": "no-cache"}, events=events,
                         delay=delay)
        files = [output.encoded(job, i, self.seed)[0] for i in range(job.n)]
        self._count_kind("generated", job.n)
        urls = None
        if job.response_format == "url":
            urls = [self._store(origin, job, i, blob) for i, blob in enumerate(files)]
        payload = output.images_response(job, files, created, urls)
        ms = int((time.perf_counter() - started) * 1000)
        reply = _json(200, payload, {"openai-processing-ms": str(ms)})
        reply.delay = delay
        return reply

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
        stamp = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=URL_TTL)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{origin.rstrip('/')}/_simulator/files/{name}?se={stamp}&sp=r&sig=simulated"
