"""Faults on demand, deterministic under a seed: latency, injected failures, and the rate limits of
:mod:`.ratelimit` (images and tokens per minute).

Each decision draws from its own ``random.Random`` seeded from the simulator seed, so a given sequence of
requests meets the same faults on every run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping

from ..errors import InvalidArgument
from .ratelimit import RateLimits, Refusal, retry_headers

__all__ = ["Faults", "parse_fail", "retry_headers"]


def parse_fail(spec: str) -> dict[int | str, float]:
    """``"429:0.25,500:0.05,drop:0.1"`` -> ``{429: 0.25, 500: 0.05, "drop": 0.1}``.

    Keys are HTTP statuses 400-599 or ``drop`` (close the connection without an answer); values are
    probabilities per request, summing to at most 1. Raises ValueError on anything else.
    """
    out: dict[int | str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition(":")
        if not sep:
            raise InvalidArgument(f"expected STATUS:RATE or drop:RATE, got {item!r}")
        key = key.strip().lower()
        try:
            rate = float(value)
        except ValueError:
            raise InvalidArgument(f"rate must be a number, got {value!r}") from None
        if not 0.0 <= rate <= 1.0:
            raise InvalidArgument(f"rate must be between 0 and 1, got {rate}")
        if key == "drop":
            out["drop"] = rate
        elif key.isdigit() and 400 <= int(key) <= 599:
            out[int(key)] = rate
        else:
            raise InvalidArgument(f"fault must be an HTTP status 400-599 or 'drop', got {key!r}")
    if sum(out.values()) > 1.0 + 1e-9:
        raise InvalidArgument(f"fault rates add up to more than 1: {sum(out.values()):g}")
    return out


def _normalise(fail: Mapping[int | str, float] | None) -> list[tuple[int | str, float]]:
    if not fail:
        return []
    text = ",".join(f"{k}:{v}" for k, v in fail.items())
    return sorted(parse_fail(text).items(), key=lambda kv: str(kv[0]))


class Faults:
    """Latency, rate limits and failure injection for one simulator.

    ``clock`` (monotonic seconds) drives the rate-limit windows; tests may replace it.
    """

    def __init__(self, *, seed: int = 0, latency: float | tuple[float, float] = 0.0, rate_limit: int | None = None,
                 tpm: int | None = None, fail: Mapping[int | str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(latency, tuple):
            lo, hi = latency
            if lo < 0 or hi < lo:
                raise InvalidArgument("latency range must be (low, high) with 0 <= low <= high")
        elif latency < 0:
            raise InvalidArgument("latency must be >= 0")
        self.latency = latency
        self.fail = _normalise(fail)
        self.clock = clock
        self.limits = RateLimits(rate_limit, tpm, clock=lambda: self.clock())
        self._lock = threading.Lock()
        self._seed = seed
        self.reset()

    @property
    def rate_limit(self) -> int | None:
        """The configured images per minute (None: not enforced)."""
        return self.limits.images_per_minute

    @property
    def tpm(self) -> int | None:
        """The configured tokens per minute (None: not enforced)."""
        return self.limits.tokens_per_minute

    def reset(self) -> None:
        """Restart the random sequences and empty the rate-limit windows."""
        with self._lock:
            self._fail_rng = random.Random(f"{self._seed}:fail")
            self._latency_rng = random.Random(f"{self._seed}:latency")
            self._retry_rng = random.Random(f"{self._seed}:retry")
        self.limits.reset()

    def delay(self) -> float:
        """Seconds to wait before answering an image request."""
        if isinstance(self.latency, tuple):
            with self._lock:
                return self._latency_rng.uniform(*self.latency)
        return float(self.latency)

    def draw(self) -> int | str | None:
        """The injected fault for this request (a status or ``"drop"``), or None. One draw per image request."""
        if not self.fail:
            return None
        with self._lock:
            u = self._fail_rng.random()
        acc = 0.0
        for key, rate in self.fail:
            acc += rate
            if u < acc:
                return key
        return None

    def retry_after_ms(self) -> int:
        """A small, seeded wait for injected 429/5xx answers: 20-150 ms."""
        with self._lock:
            return self._retry_rng.randint(20, 150)

    def admit(self, images: int, tokens: int = 0) -> Refusal | None:
        """Count a request's images and tokens against the per-minute limits; None if admitted."""
        return self.limits.admit(images, tokens)

    def current(self) -> int:
        """Images counted in the current one-minute window."""
        return self.limits.used()[0]
