"""What every dalle_kit server asks of its address: is it this machine only, and a ``--port`` that is a port.

``dalle-kit serve``, ``proxy``, ``studio`` and ``lab`` bind 127.0.0.1 unless told otherwise and warn loudly when
told otherwise; they read their ``--port`` with :func:`port_type`.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Callable

__all__ = ["is_loopback", "port_type"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port_type(*, free: bool = False) -> Callable[[str], int]:
    """An argparse ``type`` for ``--port``: 1 to 65535, or from 0 when ``free`` (0 picks a free port)."""
    low = 0 if free else 1

    def port(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= 65535:
            extra = " (0 picks a free one)" if free else ""
            raise argparse.ArgumentTypeError(f"a port is a whole number from {low} to 65535{extra}, got {text!r}")
        return int(text)

    return port
