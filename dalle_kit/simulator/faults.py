"""Faults on demand, deterministic under a seed: latency, an images-per-minute limit, injected failures.

Each decision draws from its own ``random.Random`` seeded from the simulator seed, so a given sequence of
requests meets the same faults on every run.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["parse_fail", "Faults"]


def parse_fail(spec: str) -> dict[int | str, float]:
    """``"429:0.25,500:0.05,drop:0.1"`` -> ``{429: 0.25, 500: 0.05, "drop": 0.1}``.

    Keys are HTTP statuses 400-599 or ``drop`` (close the connection without an answer); values are
    probabilities per request, summing to at most 1. Raises ValueError on anything else.
    """
    out: dict[int | str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition(":")
        if not sep:
            raise ValueError(f"expected STATUS:RATE or drop:RATE, got {item!r}")
        key = key.strip().lower()
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"rate must be a number, got {value!r}") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        if key == "drop":
            out["drop"] = rate
        elif key.isdigit() and 400 <= int(key) <= 599:
            out[int(key)] = rate
        else:
            raise ValueError(f"fault must be an HTTP status 400-599 or 'drop', got {key!r}")
    if sum(out.values()) > 1.0 + 1e-9:
        raise ValueError(f"fault rates add up to more than 1: {sum(out.values()):g}")
    return out


def _normalise(fail: Mapping[int | str, float] | None) -> list[tuple[int | str, float]]:
    if not fail:
        return []
    text = ",".join(f"{k}:{v}" for k, v in fail.items())
    return sorted(parse_fail(text).items(), key=lambda kv: str(kv[0]))


class Faults:
    """Latency, rate limit and failure injection for one simulator."""

    def __init__(self, *, seed: int = 0, latency: float | tuple[float, float] = 0.0, rate_limit: int | None = None,
                 fail: Mapping[int | str, float] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(latency, tuple):
            lo, hi = latency
            if lo < 0 or hi < lo:
                raise ValueError("latency range must be (low, high) with 0 <= low <= high")
        elif latency < 0:
            raise ValueError("latency must be >= 0")
        if rate_limit is not None and rate_limit < 1:
            raise ValueError("rate_limit must be a positive number of images per minute")
        self.latency = latency
        self.rate_limit = rate_limit
        self.fail = _normalise(fail)
        self.clock = clock
        self._lock = threading.Lock()
        self._seed = seed
        self._window: deque[tuple[float, int]] = deque()
        self.reset()

    def reset(self) -> None:
        """Restart the random sequences and empty the rate-limit window."""
        with self._lock:
            self._fail_rng = random.Random(f"{self._seed}:fail")
            self._latency_rng = random.Random(f"{self._seed}:latency")
            self._retry_rng = random.Random(f"{self._seed}:retry")
            self._window.clear()

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

    def admit(self, images: int) -> float | None:
        """Record ``images`` against the per-minute limit; None if admitted, else seconds until they would be."""
        if self.rate_limit is None:
            return None
        with self._lock:
            now = self.clock()
            while self._window and now - self._window[0][0] >= 60.0:
                self._window.popleft()
            used = sum(count for _, count in self._window)
            if used + images <= self.rate_limit:
                self._window.append((now, images))
                return None
            if images > self.rate_limit:
                return 60.0
            freed = 0
            for stamp, count in self._window:
                freed += count
                if used - freed + images <= self.rate_limit:
                    return max(0.001, stamp + 60.0 - now)
            return 60.0

    def current(self) -> int:
        """Images counted in the current one-minute window."""
        with self._lock:
            now = self.clock()
            return sum(count for stamp, count in self._window if now - stamp < 60.0)


def retry_headers(seconds: float) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) and ``retry-after-ms`` (which the SDK reads first)."""
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": str(max(1, math.ceil(seconds * 1000)))}
