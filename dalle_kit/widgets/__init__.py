"""Notebook controls: thin views over dalle_kit's calls, each control with a Python twin.

Import the one you need, e.g. ``from dalle_kit.widgets import PromptWidget``; ipywidgets and anywidget load
only then. All of them build on :mod:`dalle_kit.widgets.base`: an error shows inside the widget (with the
exception's fix-it message and notes) and stays in ``widget.last_error``; ``widget.busy`` is True while a request
runs; the layout keeps to the cell's width.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "CompareView": "compare",
    "Gallery": "gallery",
    "GeneratePanel": "panel",
    "LedgerView": "workshop",
    "MaskPainter": "painter",
    "PromptWidget": "prompt",
    "Studio": "studio",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'dalle_kit.widgets' has no attribute {name!r}")
