"""Rate limits like the real API's: images and tokens per minute over a sliding 60 s window, and the
``x-ratelimit-*`` headers that every API answer carries.

Header families (sent on every API answer, whether a limit is configured or not):

- ``x-ratelimit-{limit,remaining,reset}-requests``: the images-per-minute budget (gpt-image limits are counted
  in images, and the real API reports them in its ``requests`` family);
- ``x-ratelimit-{limit,remaining,reset}-images``: the same three numbers under the simulator's explicit name;
- ``x-ratelimit-{limit,remaining,reset}-tokens``: the tokens-per-minute budget.

``limit`` is the configured limit, else a Tier-5-like default (250 images, 8,000,000 tokens) that is reported but
never enforced. ``remaining`` is the limit minus what the last 60 s used (never below 0), after counting the
answered request. ``reset`` is the time until everything counted in the window has left it, i.e. until
``remaining`` is back to ``limit``, in OpenAI's duration format (``0s``, ``20ms``, ``1.2s``, ``6m0s``).
One budget is shared by all models (the real API keeps one per model).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidArgument
from .forms import ApiError

__all__ = ["DEFAULT_IMAGES_PER_MINUTE", "DEFAULT_TOKENS_PER_MINUTE", "HEADER_NAMES", "RateLimits", "Refusal",
           "duration", "refusal_error", "retry_headers"]

DEFAULT_IMAGES_PER_MINUTE = 250
DEFAULT_TOKENS_PER_MINUTE = 8_000_000
WINDOW_SECONDS = 60.0
ORGANIZATION = "org-simulated"
_FAMILIES = ("requests", "images", "tokens")
HEADER_NAMES = tuple(f"x-ratelimit-{what}-{family}" for family in _FAMILIES
                     for what in ("limit", "remaining", "reset"))
_LEARN_MORE = "Visit https://platform.openai.com/account/rate-limits to learn more."


def duration(seconds: float) -> str:
    """OpenAI's (Go-style) duration text, rounded up to the millisecond: ``0s``, ``20ms``, ``1.2s``, ``6m0s``,
    ``1m30.5s``, ``1h0m0s``."""
    ms = max(0, math.ceil(round(seconds * 1000, 6)))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    return f"{hours}h{text}" if hours else text


def retry_headers(seconds: float) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) and ``retry-after-ms`` (which the SDK reads first)."""
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": str(max(1, math.ceil(seconds * 1000)))}


class _Window:
    """(time, amount) entries of the last 60 s. Not locked: :class:`RateLimits` holds the lock."""

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()

    def used(self, now: float) -> int:
        while self._entries and now - self._entries[0][0] >= WINDOW_SECONDS:
            self._entries.popleft()
        return sum(amount for _, amount in self._entries)

    def add(self, now: float, amount: int) -> None:
        self._entries.append((now, amount))

    def clear(self) -> None:
        self._entries.clear()

    def wait(self, now: float, amount: int, limit: int) -> float | None:
        """Seconds until ``amount`` more fits under ``limit`` (0 if it fits now); None if it never can."""
        if amount > limit:
            return None
        used = self.used(now)
        freed = 0
        for stamp, count in ((now, 0), *self._entries):
            freed += count
            if used - freed + amount <= limit:
                return max(0.0, stamp + WINDOW_SECONDS - now) if count else 0.0
        return WINDOW_SECONDS  # unreachable: the whole window frees at most 60 s from now

    def reset_in(self, now: float) -> float:
        """Seconds until every entry has left the window."""
        self.used(now)
        return max(0.0, self._entries[-1][0] + WINDOW_SECONDS - now) if self._entries else 0.0


@dataclass(frozen=True)
class Refusal:
    """Why a request was not admitted: which budget, its limit, what was used and requested, and the wait
    (None when the request is larger than the limit itself, so no wait helps)."""

    kind: str  # "images" | "tokens"
    limit: int
    used: int
    requested: int
    wait: float | None


class RateLimits:
    """The images-per-minute and tokens-per-minute budgets of one simulator (thread-safe).

    ``None`` limits are not enforced, but reported in the headers as the defaults.
    """

    def __init__(self, images_per_minute: int | None = None, tokens_per_minute: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        for name, value in (("rate_limit", images_per_minute), ("tpm", tokens_per_minute)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidArgument(f"{name} must be a positive whole number per minute, or None, got {value!r}")
        self.images_per_minute = images_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.clock = clock
        self._lock = threading.Lock()
        self._images = _Window()
        self._tokens = _Window()

    def reset(self) -> None:
        """Empty both windows."""
        with self._lock:
            self._images.clear()
            self._tokens.clear()

    def admit(self, images: int, tokens: int) -> Refusal | None:
        """Count a request against both budgets if it fits both (images first); else the first refusal."""
        with self._lock:
            now = self.clock()
            checks = (("images", self._images, self.images_per_minute, images),
                      ("tokens", self._tokens, self.tokens_per_minute, tokens))
            for kind, window, limit, amount in checks:
                if limit is None:
                    continue
                wait = window.wait(now, amount, limit)
                if wait is None or wait > 0:
                    return Refusal(kind, limit, window.used(now), amount, wait)
            self._images.add(now, images)
            self._tokens.add(now, tokens)
            return None

    def used(self) -> tuple[int, int]:
        """(images, tokens) counted in the current 60 s window."""
        with self._lock:
            now = self.clock()
            return self._images.used(now), self._tokens.used(now)

    def headers(self) -> dict[str, str]:
        """The nine ``x-ratelimit-*`` headers for the current state of the windows."""
        with self._lock:
            now = self.clock()
            image_limit = self.images_per_minute or DEFAULT_IMAGES_PER_MINUTE
            token_limit = self.tokens_per_minute or DEFAULT_TOKENS_PER_MINUTE
            images = (str(image_limit), str(max(0, image_limit - self._images.used(now))),
                      duration(self._images.reset_in(now)))
            tokens = (str(token_limit), str(max(0, token_limit - self._tokens.used(now))),
                      duration(self._tokens.reset_in(now)))
        values = {"requests": images, "images": images, "tokens": tokens}
        return {f"x-ratelimit-{what}-{family}": values[family][i] for family in _FAMILIES
                for i, what in enumerate(("limit", "remaining", "reset"))}


def refusal_error(refusal: Refusal, model: str) -> ApiError:
    """The API's 429 ``rate_limit_exceeded`` for a refusal, with retry headers when waiting helps."""
    budget = "images per min (IPM)" if refusal.kind == "images" else "tokens per min (TPM)"
    kind = "requests" if refusal.kind == "images" else "tokens"
    where = f"for {model} in organization {ORGANIZATION} on {budget}"
    if refusal.wait is None:
        fix = ("Request fewer images (n) in order to run successfully." if refusal.kind == "images" else
               "The input or output tokens must be reduced in order to run successfully.")
        return ApiError(429, f"Request too large {where}: Limit {refusal.limit}, Requested {refusal.requested}. "
                        f"{fix} {_LEARN_MORE}", type=kind, code="rate_limit_exceeded")
    return ApiError(429, f"Rate limit reached {where}: Limit {refusal.limit}, Used {refusal.used}, Requested "
                    f"{refusal.requested}. Please try again in {duration(refusal.wait)}. {_LEARN_MORE}",
                    type=kind, code="rate_limit_exceeded", headers=retry_headers(refusal.wait))
