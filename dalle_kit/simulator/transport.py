"""In-process transports for the official SDK (``httpx2``), and the :class:`Simulator` that hands them out.

    sim = Simulator(seed=1)
    client = openai.OpenAI(api_key="sk-offline", base_url="http://simulator.local/v1",
                           http_client=httpx2.Client(transport=sim.transport()))

No port: the SDK's request is answered by a function call (for the async transport, in a worker thread, so a
batch's requests are drawn side by side rather than one after another on the event loop). Latency and stream
pacing sleep in the caller (``time.sleep`` for sync, ``asyncio.sleep`` for async); a dropped connection raises
``httpx2.RemoteProtocolError``, which the SDK treats as a connection error and retries.

The client's read timeout (``openai.OpenAI(timeout=...)``, ``Kit(timeout=...)``: ``request.extensions["timeout"]
["read"]``) is honoured as over a socket: when the simulated latency, or the wait before a stream event, is longer,
the transport waits that long and raises ``httpx2.ReadTimeout`` (the SDK's ``APITimeoutError``, retried by its rules).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx2

from .app import Core, Reply
from .forms import ApiError, parse_body
from .rules import check

__all__ = ["AsyncSimTransport", "SimTransport", "Simulator"]


def _read_timeout(request: httpx2.Request) -> float | None:
    """The longest wait for the next bytes the client allows (None: forever)."""
    read = (request.extensions.get("timeout") or {}).get("read")
    return None if read is None else float(read)


def _timed_out(request: httpx2.Request, limit: float, delay: float) -> httpx2.ReadTimeout:
    return httpx2.ReadTimeout(f"The read operation timed out (read timeout {limit:g}s; the simulator was to answer "
                              f"after {delay:g}s).", request=request)


def _wait(request: httpx2.Request, delay: float) -> None:
    limit = _read_timeout(request)
    if limit is not None and delay > limit:
        time.sleep(limit)
        raise _timed_out(request, limit, delay)
    if delay:
        time.sleep(delay)


async def _await(request: httpx2.Request, delay: float) -> None:
    limit = _read_timeout(request)
    if limit is not None and delay > limit:
        await asyncio.sleep(limit)
        raise _timed_out(request, limit, delay)
    await asyncio.sleep(delay)


class _SyncEvents(httpx2.SyncByteStream):
    def __init__(self, events: Iterator[tuple[float, bytes]], request: httpx2.Request) -> None:
        self._events = events
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for delay, chunk in self._events:
            _wait(self._request, delay)
            yield chunk

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close:
            close()


class _AsyncEvents(httpx2.AsyncByteStream):
    def __init__(self, events: Iterator[tuple[float, bytes]], request: httpx2.Request) -> None:
        self._events = events
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for delay, chunk in self._events:
            await _await(self._request, delay)
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._events, "close", None)
        if close:
            close()


def _call(core: Core, request: httpx2.Request, body: bytes) -> Reply:
    headers = {k.lower(): v for k, v in request.headers.items()}
    origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
    return core.handle(request.method, request.url.raw_path.decode("ascii"), headers, body, origin)


def _dropped(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    return httpx2.RemoteProtocolError("Server disconnected without sending a response (simulated drop).",
                                      request=request)


class SimTransport(httpx2.BaseTransport):
    """Sync transport: ``httpx2.Client(transport=SimTransport(core))``."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        reply = _call(self.core, request, request.read())
        _wait(request, reply.delay)
        if reply.drop:
            raise _dropped(request)
        if reply.events is not None:
            return httpx2.Response(reply.status, headers=reply.headers, stream=_SyncEvents(reply.events, request),
                                   request=request)
        return httpx2.Response(reply.status, headers=reply.headers, content=reply.body, request=request)


class AsyncSimTransport(httpx2.AsyncBaseTransport):
    """Async transport: ``httpx2.AsyncClient(transport=AsyncSimTransport(core))``."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        # drawn in a worker thread, as a server would: concurrent requests are not queued behind the drawing
        reply = await asyncio.to_thread(_call, self.core, request, await request.aread())
        if reply.delay:
            await _await(request, reply.delay)
        if reply.drop:
            raise _dropped(request)
        if reply.events is not None:
            return httpx2.Response(reply.status, headers=reply.headers, stream=_AsyncEvents(reply.events, request),
                                   request=request)
        return httpx2.Response(reply.status, headers=reply.headers, content=reply.body, request=request)


class Simulator(Core):
    """The offline OpenAI Images API. See :mod:`dalle_kit.simulator` for the options."""

    def transport(self) -> httpx2.BaseTransport:
        """A sync ``httpx2`` transport answered by this simulator (share one simulator, many clients)."""
        return SimTransport(self)

    def async_transport(self) -> httpx2.AsyncBaseTransport:
        """An async ``httpx2`` transport answered by this simulator."""
        return AsyncSimTransport(self)

    def validate(self, endpoint: str, *, json: dict | None = None, data: dict | None = None,
                 files: object = None) -> ApiError | None:
        """Check a request against the rules without drawing anything (fast, for property tests).

        ``endpoint`` is ``generate``, ``edit`` or ``variation``; ``json`` / ``data`` + ``files`` are encoded by
        ``httpx2`` exactly as a client would send them, then parsed and checked by the same code as a real request.
        Returns None when the request would be accepted (account, moderation, faults and rate limits aside), else the
        :class:`ApiError` the simulator would answer with (``.status``, ``.body()``).
        """
        path = {"generate": "generations", "edit": "edits", "variation": "variations"}[endpoint]
        request = httpx2.Request("POST", f"http://simulator.local/v1/images/{path}", json=json, data=data,
                                 files=files)  # type: ignore[arg-type]
        try:
            check(parse_body(request.headers.get("content-type"), request.read()), endpoint, legacy=self.legacy,
                  today=self.today)
        except ApiError as err:
            return err
        return None
