"""The exception root of dalle_kit.

Everything dalle_kit raises on its own account derives from :class:`DalleKitError`; errors the API returns
stay the ``openai`` SDK's own exception types, passed through with a readable note (see ``api_errors``)::

    DalleKitError
    ├── InvalidRequest (also ValueError)    a request refused before any network call: param, value, allowed
    ├── InvalidArgument (also ValueError)   a bad argument to a dalle_kit function (a mask of the wrong size,
    │   │                                   a template with a missing placeholder, a Kit without a key ...)
    │   └── PackError                       a replay pack refused on load: tampered, truncated, unsafe names,
    │                                       too large, or holding text that looks like a key (names the entry)
    ├── UnknownName (also KeyError)         a style, preset or field name that does not exist
    ├── ResponseError                       the API answered, but not with what an image call returns
    ├── TokenRevoked (also PermissionError) a workshop proxy's participant whose token the teacher revoked
    ├── BudgetExceeded                      a request or batch that would pass ``Kit(budget=...)``, never sent
    ├── BatchNotDone (also TimeoutError)    ``BatchJob.collect(timeout=...)`` gave up waiting; the job goes on
    └── ReplayMiss                          strict replay (``Kit(replay=..., strict=True)``): a request the pack
                                            does not hold; nothing was sent

    openai.OpenAIError                      the SDK's tree, unchanged: APIError, APIStatusError, BadRequestError,
                                            RateLimitError, APIConnectionError ... (``except openai.APIError``)

Warnings dalle_kit issues derive from :class:`DalleKitWarning` (a ``UserWarning``); a deprecated model gives a
``FutureWarning``.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import os
import sys
import types
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["BatchNotDone", "BudgetExceeded", "DalleKitError", "DalleKitWarning", "InvalidArgument", "InvalidRequest",
           "PackError", "ReplayMiss", "ResponseError", "TokenRevoked", "UnknownName", "closest",
           "collected_warnings", "warn"]


class DalleKitError(Exception):
    """Root of every error dalle_kit raises on its own account."""


class DalleKitWarning(UserWarning):
    """Root of dalle_kit's warnings: a value dropped, a rule skipped, a model not listed by the API."""


class InvalidRequest(DalleKitError, ValueError):
    """A request that would fail at the API, refused before any network call.

    Attributes:
        param: the parameter at fault (``"quality"``, ``"mask"``, ``"image[1]"`` ...).
        value: the value that was given (images are summarised, never echoed whole).
        allowed: what would have been accepted, as a tuple of values or a short description.
        rule: the rule that refused it, e.g. ``"quality.values"``; ``lenient=True`` skips it with a warning
            naming this rule.
    """

    def __init__(self, message: str, *, param: str, value: Any = None, allowed: Any = None,
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.value = value
        self.allowed = allowed
        self.rule = rule or param.split("[", 1)[0]

    def __repr__(self) -> str:
        return f"InvalidRequest(param={self.param!r}, message={str(self)!r})"


class InvalidArgument(DalleKitError, ValueError):
    """A bad argument to a dalle_kit function; the message says what was expected."""


class UnknownName(DalleKitError, KeyError):
    """A name (style, preset, field, style group) that does not exist; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ResponseError(DalleKitError):
    """The API answered successfully but not with images (for example an empty ``data`` list)."""


class TokenRevoked(DalleKitError, PermissionError):
    """The teacher revoked this participant's workshop token (the proxy answers 401 ``token_revoked``)."""


class BudgetExceeded(DalleKitError):
    """A request (or a whole batch) whose estimated cost would take the spend past ``Kit(budget=...)``; nothing
    was sent. ``spent``, ``estimate`` and ``cap`` are in US dollars."""

    def __init__(self, message: str, *, spent: float, estimate: float | None, cap: float) -> None:
        super().__init__(message)
        self.spent = spent
        self.estimate = estimate
        self.cap = cap


class BatchNotDone(DalleKitError, TimeoutError):
    """A Batch job still running when ``collect(timeout=...)`` stopped waiting; collect it again later."""


class PackError(InvalidArgument):
    """A replay pack that is refused: ``pack`` (its path), ``entry`` (the member or manifest entry at fault, or
    None for the pack as a whole) and ``problem`` (what is wrong)."""

    def __init__(self, pack: Any, problem: str, *, entry: str | None = None) -> None:
        where = f"{entry}: " if entry else ""
        super().__init__(f"replay pack {str(pack)!r} refused: {where}{problem}")
        self.pack = str(pack)
        self.entry = entry
        self.problem = problem


class ReplayMiss(DalleKitError):
    """Strict replay: the pack holds no answer to ``request`` (its ``key`` below); nothing was sent."""

    def __init__(self, message: str, *, request: Any, pack: str) -> None:
        super().__init__(message)
        self.request = request
        self.key = getattr(request, "key", None)
        self.pack = pack


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice that looks most like ``value``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(value).lower(), list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


#: Where :func:`warn` sends messages in this context instead of ``warnings``: a server answering many clients
#: from threads (the teacher's proxy) collects them per request; ``warnings.catch_warnings`` is process-wide.
_SINK: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("dalle_kit_warning_sink", default=None)


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """Within the block (this thread or task only), dalle_kit's warnings are appended to the list yielded."""
    found: list[str] = []
    token = _SINK.set(found)
    try:
        yield found
    finally:
        _SINK.reset(token)


def warn(message: str, category: type[Warning] = DalleKitWarning) -> None:
    """Warn at the first frame outside dalle_kit, so notebooks show the user's own line."""
    sink = _SINK.get()
    if sink is not None:
        sink.append(message)
        return
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the frame that called warn
    frame_or_none: types.FrameType | None = frame
    while frame_or_none is not None and os.path.abspath(frame_or_none.f_code.co_filename).startswith(_PACKAGE):
        level, frame_or_none = level + 1, frame_or_none.f_back
    warnings.warn(message, category, stacklevel=level)
