"""The teacher's proxy as an ASGI app (Starlette): the Images API for a room, one budget per participant.

Only four routes exist: ``POST /v1/images/generations``, ``POST /v1/images/edits``, ``GET /v1/models`` and
``GET /v1/models/{id}``; anything else is the API's 404 body. Each image request goes, in order:

1. the token (``Authorization: Bearer``), checked against the ledger's hashes in constant time (401);
2. the body: at most ``max_body`` bytes (413, refused unread when ``Content-Length`` says so), within
   ``body_timeout`` seconds (408);
3. pre-flight (:mod:`.preflight`): the API's wire rules and dalle_kit's validation (400; never reaches the backend);
4. the budget: the most the request may cost is reserved in the ledger, or it is refused with a 429
   ``insufficient_quota`` and ``x-should-retry: false`` (the SDKs do not retry it) naming the spend and the cap;
5. a fair turn (:class:`.gate.FairGate`) and the account's pace (:class:`~dalle_kit.pacing.Pacer`);
6. the backend; the charge is settled from the answer's ``usage`` (0 for an error answer).

Log lines name the participant, never a token or the key; error bodies are the API's shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .. import costs
from ..errors import TokenRevoked
from ..pacing import Pacer, retry_after
from ..simulator.forms import ApiError
from ..simulator.http_limits import MAX_BODY
from .backends import Backend, StreamEnd, scrub
from .gate import FairGate, QueueFull
from .ledger import Ledger, Participant, Refusal, Reservation
from .preflight import Checked, preflight

__all__ = ["Room", "make_app"]


@dataclass
class Room:
    """Everything one proxy serves with: the ledger, the backend, the turns and the pace."""

    ledger: Ledger
    backend: Backend
    room_id: str
    gate: FairGate = field(default_factory=FairGate)
    pacer: Pacer = field(default_factory=Pacer)
    max_body: int = MAX_BODY
    body_timeout: float = 30.0
    log: Callable[[str], None] = print
    secret: str = ""  # the teacher's key, scrubbed from anything sent back


class _Relay(StreamingResponse):
    """A stream whose clean-up runs however the response ends (a client gone before the first byte included)."""

    def __init__(self, content: AsyncIterator[bytes], cleanup: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._cleanup = cleanup

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._cleanup()


def _error(err: ApiError) -> Response:
    return Response(json.dumps(err.body()), status_code=err.status, media_type="application/json",
                    headers=err.headers)


def _unauthorized(message: str, code: str) -> ApiError:
    return ApiError(401, message, code=code, headers={"www-authenticate": "Bearer"})


class _Handler:
    def __init__(self, room: Room) -> None:
        self.room = room

    def _line(self, who: str, request: HttpRequest, status: int, started: float, note: str = "") -> None:
        ms = (time.perf_counter() - started) * 1000
        line = f"{time.strftime('%H:%M:%S')} {who} {request.method} {request.url.path} {status} {ms:.0f}ms"
        self.room.log(scrub(f"{line} {note}".rstrip(), self.room.secret))

    async def _participant(self, request: HttpRequest) -> Participant:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("You didn't provide an API key. Use the token your teacher gave you: "
                                "Kit(base_url=..., api_key=TOKEN) or OPENAI_API_KEY.", "missing_api_key")
        who = await anyio.to_thread.run_sync(self.room.ledger.authenticate, token.strip())
        if who is None:
            raise _unauthorized("Incorrect API key provided: this is not a token of this workshop. Copy the token "
                                "your teacher gave you again.", "invalid_api_key")
        return who

    async def _body(self, request: HttpRequest) -> bytes:
        limit = self.room.max_body
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise ApiError(413 if length.isdigit() else 400, f"Request body too large: at most {limit} bytes."
                           if length.isdigit() else "Invalid Content-Length header.", code="request_too_large")
        chunks, total = [], 0
        try:
            with anyio.fail_after(self.room.body_timeout):
                async for chunk in request.stream():
                    total += len(chunk)
                    if total > limit:
                        raise ApiError(413, f"Request body too large: at most {limit} bytes.",
                                       code="request_too_large")
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, f"The request body did not arrive within {self.room.body_timeout:g} s.",
                           code="request_timeout") from None
        return b"".join(chunks)

    async def models(self, request: HttpRequest) -> Response:
        started = time.perf_counter()
        try:
            who = await self._participant(request)
            if who.revoked:
                raise _unauthorized(f"The workshop token of {who.name} was revoked by the teacher.", "token_revoked")
            listing = await self.room.backend.models()
        except ApiError as err:
            self._line("-", request, err.status, started, err.code or "")
            return _error(err)
        model_id = request.path_params.get("model_id")
        if model_id is None:
            self._line(who.name, request, 200, started)
            return Response(json.dumps(listing), media_type="application/json")
        for item in listing["data"]:
            if item.get("id") == model_id:
                self._line(who.name, request, 200, started)
                return Response(json.dumps(item), media_type="application/json")
        missing = ApiError(404, f"The model '{model_id}' does not exist or is not an image model of this workshop.",
                           code="model_not_found", param="model")
        self._line(who.name, request, 404, started)
        return _error(missing)

    async def generations(self, request: HttpRequest) -> Response:
        return await self._images(request, "generate")

    async def edits(self, request: HttpRequest) -> Response:
        return await self._images(request, "edit")

    async def _images(self, request: HttpRequest, endpoint: str) -> Response:
        started, who_name = time.perf_counter(), "-"
        try:
            who = await self._participant(request)
            who_name = who.name
            if who.revoked:
                raise _unauthorized(f"The workshop token of {who.name} was revoked by the teacher.", "token_revoked")
            body = await self._body(request)
            checked = await anyio.to_thread.run_sync(self._check, endpoint, request.headers.get("content-type"),
                                                     body, who.name)
            reservation = await anyio.to_thread.run_sync(self._reserve, who, checked)
        except ApiError as err:
            self._line(who_name, request, err.status, started, err.code or "")
            return _error(err)
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(self.room.gate.turn(who.name))
            await self.room.pacer.acquire(checked.images, checked.tokens)
            if checked.stream:
                return await self._stream(request, checked, reservation, stack, started)
            async with stack:
                answer = await self.room.backend.images(checked.request)
        except QueueFull:
            await self._settle(reservation, 0.0, 0, "failed", "queue_full")
            full = ApiError(429, f"{who.name} has {self.room.gate.max_waiting} requests waiting already; wait for "
                            "some to finish.", type="requests", code="rate_limit_exceeded",
                            headers={"retry-after": "5"})
            self._line(who.name, request, 429, started, "queue_full")
            return _error(full)
        except ApiError as err:
            await stack.aclose()
            await self._failed(checked, reservation, err)
            self._line(who.name, request, err.status, started, err.code or "")
            return _error(err)
        except BaseException:
            await stack.aclose()
            await self._settle(reservation, checked.high or 0.0, 0, "failed", "proxy_error")  # may have been paid
            raise
        self.room.pacer.done(checked.images, checked.tokens, answer.headers)
        amount = 0.0 if answer.source == "replay" else self._amount(checked, answer.usage)  # a pack costs nothing
        await self._settle(reservation, amount, answer.images, "settled", answer.source)
        where = {"replay": " from the pack", "simulator": " (not in the pack: simulator)"}.get(answer.source, "")
        self._line(who.name, request, 200, started, f"{answer.images} image(s){where} {costs.usd(amount)}")
        return Response(answer.body, media_type="application/json", headers=self._headers(answer.headers))

    async def _stream(self, request: HttpRequest, checked: Checked, reservation: Reservation, stack: AsyncExitStack,
                      started: float) -> Response:
        end = StreamEnd()
        events = self.room.backend.stream(checked.request, end)
        try:
            first = await events.__anext__()
        except StopAsyncIteration:
            first = b""
        except BaseException:
            await events.aclose()
            raise

        state = {"done": False, "closed": False}

        async def relay() -> AsyncIterator[bytes]:
            yield first
            async for chunk in events:
                yield chunk
            state["done"] = end.usage is not None

        async def cleanup() -> None:  # once, whether the stream ended, broke or never started
            if state["closed"]:
                return
            state["closed"] = True
            with anyio.CancelScope(shield=True):
                await events.aclose()
                await stack.aclose()
                self.room.pacer.done(checked.images, checked.tokens, end.headers)
                done = state["done"]
                amount = (0.0 if end.source == "replay" else self._amount(checked, end.usage)) if done else \
                    (checked.high or 0.0)
                await self._settle(reservation, amount, end.images, "settled" if done else "failed",
                                   "stream" if done else "stream_cut")
                self._line(reservation.name, request, 200, started,
                           f"stream {end.images} image(s) {costs.usd(amount)}" + ("" if done else " (cut short)"))

        return _Relay(relay(), cleanup, media_type="text/event-stream",
                      headers={"cache-control": "no-cache", **self._headers(end.headers)})

    def _headers(self, upstream: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in upstream.items() if k.startswith("x-ratelimit")}

    def _check(self, endpoint: str, content_type: str | None, body: bytes, name: str) -> Checked:
        checked = preflight(endpoint, content_type, body, room=self.room.room_id, name=name)
        if checked.high is None:
            raise ApiError(400, f"dalle_kit knows no price for this request ({checked.request.model}, quality "
                           f"{checked.request.params.get('quality', 'auto')}), so the workshop cannot hold it to a "
                           "budget. Choose another quality or model, or ask the teacher to add a price "
                           "(DALLE_KIT_PRICES).", param="quality", code="price_unknown")
        return checked

    def _reserve(self, who: Participant, checked: Checked) -> Reservation:
        try:
            got = self.room.ledger.reserve(who.name, checked.high or 0.0, endpoint=checked.request.endpoint,
                                           model=checked.request.model, images=checked.images)
        except TokenRevoked:
            raise _unauthorized(f"The workshop token of {who.name} was revoked by the teacher.",
                                "token_revoked") from None
        if isinstance(got, Refusal):
            raise ApiError(429, got.message, type="insufficient_quota", code="insufficient_quota",
                           extra={"workshop_budget": {"spent": got.spent, "in_flight": got.reserved, "cap": got.cap}},
                           headers={"x-should-retry": "false"})
        return got

    @staticmethod
    def _amount(checked: Checked, usage: dict[str, Any] | None) -> float:
        """The cost by the answer's usage; without usage, the most it could have cost."""
        amount = costs.cost(checked.request.model, usage) if usage else None
        return amount if amount is not None else (checked.high or 0.0)

    async def _settle(self, reservation: Reservation, amount: float, images: int, status: str, detail: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.room.ledger.settle(reservation, amount, images=images,
                                                                       status=status, detail=detail))

    async def _failed(self, checked: Checked, reservation: Reservation, err: ApiError) -> None:
        """An error answer costs nothing, except a timeout: the backend may have made (and billed) the images."""
        self.room.pacer.done(checked.images, checked.tokens, err.headers)
        if err.status == 429:
            wait = retry_after(err.headers)
            if wait:
                self.room.pacer.hold(wait)
        amount = (checked.high or 0.0) if err.code == "upstream_timeout" else 0.0
        await self._settle(reservation, amount, 0, "failed", err.code or str(err.status))


def _not_found(room: Room) -> Callable[[HttpRequest, Exception], Awaitable[Response]]:
    """Any other path or method: the API's 404/405 body, and a log line (the teacher sees probes)."""

    async def answer(request: HttpRequest, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        path = scrub(request.url.path[:200], room.secret)
        message = (f"Unknown request URL: {request.method} {path}. This workshop proxy serves only the Images API "
                   "(POST /v1/images/generations, POST /v1/images/edits, GET /v1/models).")
        if status == 405:
            message = f"Method {request.method} is not allowed on {path}."
        room.log(f"{time.strftime('%H:%M:%S')} - {scrub(request.method[:16])} {path[:80]} {status}")
        return _error(ApiError(status, message, code="unknown_url" if status == 404 else "method_not_allowed"))

    return answer


async def _crashed(request: HttpRequest, exc: Exception) -> Response:
    return _error(ApiError(500, f"The workshop proxy failed on this request ({type(exc).__name__}); the teacher "
                           "can see it in the proxy's log.", type="server_error", code="proxy_error"))


def make_app(room: Room) -> Starlette:
    handler = _Handler(room)
    routes = [Route("/v1/images/generations", handler.generations, methods=["POST"]),
              Route("/v1/images/edits", handler.edits, methods=["POST"]),
              Route("/v1/models", handler.models, methods=["GET"]),
              Route("/v1/models/{model_id:path}", handler.models, methods=["GET"])]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await room.backend.aclose()  # the backend's HTTP client lives on the server's event loop

    return Starlette(routes=routes, exception_handlers={HTTPException: _not_found(room), Exception: _crashed},
                     lifespan=lifespan)
