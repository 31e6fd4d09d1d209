"""Notebook controls: thin views over dalle_kit's calls, each control with a Python twin.

Import the one you need, e.g. ``from dalle_kit.widgets import PromptWidget``; ipywidgets and anywidget load
only then.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "MaskPainter": "painter",
    "PromptWidget": "prompt",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'dalle_kit.widgets' has no attribute {name!r}")
