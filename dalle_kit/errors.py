"""The exception root of dalle_kit.

Errors raised by dalle_kit itself derive from :class:`DalleKitError`. Errors the API returns are the
``openai`` SDK's own exception types, passed through with a readable note added (see ``api_errors``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["DalleKitError", "InvalidRequest", "closest"]


class DalleKitError(Exception):
    """Root of every error dalle_kit raises on its own account."""


class InvalidRequest(DalleKitError, ValueError):
    """A request that would fail at the API, refused before any network call.

    Attributes:
        param: the parameter at fault (``"quality"``, ``"mask"``, ``"image[1]"`` ...).
        value: the value that was given (images are summarised, never echoed whole).
        allowed: what would have been accepted, as a tuple of values or a short description.
    """

    def __init__(self, message: str, *, param: str, value: Any = None, allowed: Any = None) -> None:
        super().__init__(message)
        self.param = param
        self.value = value
        self.allowed = allowed

    def __repr__(self) -> str:
        return f"InvalidRequest(param={self.param!r}, message={str(self)!r})"


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice that looks most like ``value``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(value).lower(), list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None
