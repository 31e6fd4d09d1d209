"""uvicorn's HTTP/1.1 protocol with a deadline for request headers.

uvicorn times out a connection idle *between* requests, but not one that opens and then sends its headers a byte
at a time, or never: a few hundred such connections would hold every slot of the room's proxy. Here a request's
line and headers must be complete within ``HEADER_TIMEOUT`` seconds of the connection opening (or of the last
answer on a kept-alive connection), else the connection is closed. The body has its own deadline in the app.
Subclasses uvicorn's ``H11Protocol`` (uvicorn is pinned below 1.0 in the ``workshop`` extra).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "TimelyH11Protocol"]

HEADER_TIMEOUT = 15.0


class TimelyH11Protocol(H11Protocol):
    header_timeout = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # the headers did not arrive in time (a request in progress is the app's)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
