"""The teacher's proxy for workshops: one OpenAI key, a token and a dollar budget per participant.

``dalle-kit proxy`` serves a room from the command line; :func:`start_proxy` serves one from a notebook (a
background thread). The ledger (:class:`Ledger`) needs only the standard library; the server needs the
``workshop`` extra (``pip install "dalle_kit[workshop]"``: Starlette and uvicorn), loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"Ledger": "ledger", "Standing": "ledger", "Proxy": "run", "start_proxy": "run", "open_room": "run"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'dalle_kit.proxy' has no attribute {name!r}")
