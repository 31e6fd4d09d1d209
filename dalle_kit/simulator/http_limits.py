"""What ``dalle-kit serve`` tolerates from one client, so no client can hang or crash it.

- A request (line, headers and body together) must arrive within ``REQUEST_TIMEOUT`` seconds of its first byte,
  else 408; a connection with no request in progress is closed after ``IDLE_TIMEOUT`` seconds of silence (also the
  limit for any single read or write). :class:`DeadlineReader` enforces both on every ``recv``.
- A body may be at most ``MAX_BODY`` bytes (413, refused before it is read); ``Content-Length`` must be digits and
  the body that many bytes (400); chunked bodies must be well-formed (400).
- At most ``MAX_CONNECTIONS`` connections are served at once (each holds one thread); beyond, 503 at once.
- After an error answer, :func:`linger` reads what the client is still sending for a moment before closing, so
  the client reads the answer instead of a connection reset.

Every refusal is the API's error body (:func:`error_body`).
"""

from __future__ import annotations

import io
import json
import re
import socket
import time
from typing import Any

from .forms import ApiError

__all__ = ["IDLE_TIMEOUT", "MAX_BODY", "MAX_CONNECTIONS", "REQUEST_TIMEOUT", "DeadlineReader", "check_length",
           "error_body", "late_message", "linger", "read_body"]

#: The largest body the API could take: 16 images of 50 MB, a 4 MB mask, and room for the form around them.
MAX_BODY = 16 * 50 * 1024 * 1024 + 4 * 1024 * 1024 + 1024 * 1024
#: Seconds from a request's first byte to the end of its body.
REQUEST_TIMEOUT = 30.0
#: Seconds of silence before a connection without a request in progress is closed (and per read or write).
IDLE_TIMEOUT = 60.0
#: Connections (= handler threads) served at once.
MAX_CONNECTIONS = 256
_MAX_TRAILERS = 100
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


def error_body(err: ApiError) -> bytes:
    """The API's ``{"error": {"message", "type", "param", "code"}}`` body for ``err``."""
    return json.dumps(err.body()).encode()


def late_message(seconds: float) -> str:
    return (f"Request timed out: the request line, headers and body must arrive within {seconds:g} seconds of "
            "the first byte.")


class DeadlineReader(io.RawIOBase):
    """A socket's reading side where every ``recv`` waits at most ``idle`` seconds, and at most until the current
    request's deadline (``budget`` seconds after its first byte). :meth:`request_done` ends the request.

    Silence between requests raises ``TimeoutError`` (close without a word); a late request ``ApiError(408)``."""

    def __init__(self, sock: socket.socket, idle: float, budget: float) -> None:
        self._sock = sock
        self.idle = idle
        self.budget = budget
        self._deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._deadline is None:
            wait = self.idle
        else:
            wait = min(self.idle, self._deadline - time.monotonic())
            if wait <= 0:
                raise ApiError(408, late_message(self.budget))
        self._sock.settimeout(wait)
        try:
            n = self._sock.recv_into(buffer)
        except TimeoutError:
            if self._deadline is None:
                raise  # idle between requests: the stdlib closes the connection without a word
            raise ApiError(408, late_message(self.budget)) from None
        if n and self._deadline is None:
            self._deadline = time.monotonic() + self.budget
        return n

    def request_done(self) -> None:
        """The request is read: the next one's clock starts at its first byte; writes get ``idle`` seconds."""
        self._deadline = None
        self._sock.settimeout(self.idle)


def _too_large() -> ApiError:
    return ApiError(413, f"Request too large: the body may be at most {MAX_BODY:,} bytes.")


def check_length(value: str | None) -> int:
    """The declared ``Content-Length`` (0 when absent); ``ApiError`` when malformed or over ``MAX_BODY``."""
    if value is None:
        return 0
    digits = value.strip()
    if not _DIGITS.fullmatch(digits):
        raise ApiError(400, "Invalid Content-Length header: expected a number of bytes.")
    if len(digits) > 18 or int(digits) > MAX_BODY:
        raise _too_large()
    return int(digits)


def read_body(rfile: io.BufferedIOBase, content_length: str | None, transfer_encoding: str | None) -> bytes:
    """The request body, at most ``MAX_BODY`` bytes; ``ApiError`` for one that cannot or should not be read."""
    coding = (transfer_encoding or "").strip().lower()
    if coding == "chunked":
        return _read_chunked(rfile)
    if coding not in ("", "identity"):
        raise ApiError(400, f"Unsupported Transfer-Encoding {coding[:40]!r}: send the body as is or chunked.")
    length = check_length(content_length)
    body = rfile.read(length) if length else b""
    if len(body) < length:
        raise ApiError(400, f"Incomplete body: Content-Length says {length:,} bytes, the connection ended after "
                         f"{len(body):,}.")
    return body


def _read_chunked(rfile: io.BufferedIOBase) -> bytes:
    malformed = ApiError(400, "Malformed chunked body.")
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1024)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
            raise malformed
        size = int(size_text, 16)
        if total + size > MAX_BODY:
            raise _too_large()
        if size == 0:
            for _ in range(_MAX_TRAILERS):
                trailer = rfile.readline(65537)
                if trailer in (b"\r\n", b"\n"):
                    return b"".join(chunks)
                if not trailer.endswith(b"\n"):
                    break
            raise malformed
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise malformed
        chunks.append(chunk)
        total += size


def linger(sock: socket.socket, seconds: float = 1.0, limit: int = 1 << 20) -> None:
    """Half-close, then read (and drop) what the client still sends, until it closes, falls silent for 0.2 s,
    ``seconds`` pass or ``limit`` bytes came: closing with unread bytes would reset the connection and could destroy
    the answer before the client reads it."""
    deadline = time.monotonic() + seconds
    received = 0
    try:
        sock.shutdown(socket.SHUT_WR)
        while received < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 0.2))
            data = sock.recv(65536)
            if not data:
                break
            received += len(data)
    except OSError:  # gone, reset or silent: nothing more to wait for
        pass
