"""Small pieces of ``Kit``: cleaning a key, finding the SDK method for an endpoint, reading dates and results."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from .errors import InvalidArgument
from .results import ImageResult, ImageSet

__all__ = ["MIN_OPENAI_KEY", "SDK_METHOD", "aiter_of", "as_list", "clean_key", "parse_date", "sdk_method"]

SDK_METHOD = {"generate": "generate", "edit": "edit", "variation": "create_variation"}

#: OpenAI keys are far longer; anything shorter sent to api.openai.com is a mistake (a proxy's token may be short).
MIN_OPENAI_KEY = 20


def clean_key(raw: str | None, source: str) -> str | None:
    """The key without surrounding whitespace (a file or a CRLF ``.env`` adds some), or None when empty.

    A key with whitespace inside, control or non-ASCII characters cannot be sent in a header: refused with
    ``InvalidArgument``, whose message never contains the key.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidArgument(f"{source} must be a string, got {type(raw).__name__}")
    key = raw.strip()
    if not key:
        return None
    for position, char in enumerate(key):
        if char.isspace() or not char.isprintable() or not char.isascii():
            kind = "whitespace" if char.isspace() else "a non-ASCII character" if not char.isascii() else \
                "a control character"
            raise InvalidArgument(f"{source} has {kind} at position {position + 1} of {len(key)}; a key is one "
                                  "word of ASCII letters, digits, '-' and '_'. Copy it again (dalle_kit never "
                                  "prints it)")
    return key


def sdk_method(client: Any, endpoint: str) -> tuple[Callable[..., Any], frozenset[str]]:
    """The SDK method for ``endpoint`` and the keyword names it takes.

    ``create_variation`` carries a deprecation marker (the endpoint is retired); dalle_kit calls it only for
    hosts that still serve it, so it calls the function under the marker instead of silencing warnings.
    """
    method = getattr(client.images, SDK_METHOD[endpoint])
    inner = getattr(method, "__wrapped__", None)
    call = functools.partial(inner, client.images) if inner is not None else method
    return call, _keywords(inner or method.__func__)


@functools.cache
def _keywords(function: Callable[..., Any]) -> frozenset[str]:
    """The keyword names an SDK method takes (read once per method, not per call)."""
    return frozenset(inspect.signature(function).parameters)



def as_list(result: ImageResult | ImageSet | None) -> list[ImageResult]:
    if result is None:
        return []
    return [result] if isinstance(result, ImageResult) else list(result)


async def aiter_of(results: list[ImageResult]) -> AsyncIterator[ImageResult]:
    for result in results:
        yield result


def parse_date(value: Any) -> dt.date | None:
    """A ``shutdown_date`` as the API sends it (ISO date, or a Unix time), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC).date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
