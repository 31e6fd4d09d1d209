"""Response hooks on the HTTP client under the SDK: what dalle_kit says and decides between the SDK's retries.

- A 429 whose body says ``insufficient_quota`` gets the ``x-should-retry: false`` header the SDK obeys: no
  retry adds credit.
- A 429 or 5xx the SDK will wait for says so on stderr (``Kit(quiet=True)`` turns it off): how long, why, and
  which attempt comes next, so a notebook that pauses for a minute is not a mystery.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable

import httpx2
from openai._constants import MAX_RETRY_AFTER_DELAY

__all__ = ["NOT_RETRYABLE_CODES", "hooks"]

#: Error codes that arrive as 429 but that no retry can fix.
NOT_RETRYABLE_CODES = ("insufficient_quota",)
#: Waits shorter than this pass silently.
ANNOUNCE_AFTER = 2.0


def _error(response: httpx2.Response) -> dict[str, object]:
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _wait(response: httpx2.Response) -> float | None:
    """The wait the server asks for, in seconds (``retry-after-ms`` first, as the SDK reads it)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(response.headers[name]) / scale
        except (KeyError, ValueError):
            continue
    return None


def _decide(response: httpx2.Response, max_retries: int, quiet: bool) -> None:
    if response.status_code != 429 and response.status_code < 500:
        return
    error = _error(response)
    if response.status_code == 429 and (error.get("code") or error.get("type")) in NOT_RETRYABLE_CODES:
        response.headers["x-should-retry"] = "false"
        return
    wait = _wait(response)
    if quiet or wait is None or wait < ANNOUNCE_AFTER:
        return
    try:
        attempt = int(response.request.headers.get("x-stainless-retry-count", "0"))
    except ValueError:
        attempt = 0
    why = "rate limited" if response.status_code == 429 else f"server error {response.status_code}"
    if attempt >= max_retries:
        return  # the SDK gives up now, and the error's note says what to do
    if wait > MAX_RETRY_AFTER_DELAY:
        print(f"dalle_kit: {why}; the API asks to wait {wait:.0f} s, longer than the SDK waits, so it gives up. "
              "Try again later.", file=sys.stderr, flush=True)
        return
    print(f"dalle_kit: {why}; waiting {wait:.0f} s as the API asks, then retry {attempt + 1} of {max_retries}.",
          file=sys.stderr, flush=True)


def hooks(max_retries: int, quiet: bool) -> tuple[Callable[[httpx2.Response], None],
                                                   Callable[[httpx2.Response], Awaitable[None]]]:
    """The sync and async response hooks for a client that makes ``max_retries`` retries."""

    def sync_hook(response: httpx2.Response) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            response.read()
            _decide(response, max_retries, quiet)

    async def async_hook(response: httpx2.Response) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            await response.aread()
            _decide(response, max_retries, quiet)

    return sync_hook, async_hook
