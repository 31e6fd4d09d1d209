"""Where the proxy sends a checked request: the API (the teacher's key), the simulator, or a replay pack.

The API and the simulator are one path: an ``AsyncOpenAI`` client from the official SDK, over the network or over
the simulator's transport. A replay pack answers what it holds and hands a miss to the simulator (or refuses it,
strict). Every backend returns an :class:`Answer` (or an async stream of server-sent events) whose body carries
no key: errors from upstream are rebuilt from their status, type, code and a scrubbed message.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2
import openai

from .. import registry
from ..replay import Pack
from ..request import Request
from ..results import ImageResult, ImageSet
from ..simulator.forms import ApiError

__all__ = ["Answer", "Backend", "ReplayBackend", "SdkBackend", "scrub", "simulator_backend"]

_KEYISH = re.compile(r"(sk|dkp)[-_][A-Za-z0-9_\-*.]{4,}")
_RATE_HEADERS = ("retry-after", "retry-after-ms", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                 "x-ratelimit-limit-images", "x-ratelimit-remaining-images", "x-ratelimit-limit-tokens",
                 "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def scrub(text: str, *secrets: str) -> str:
    """``text`` without anything shaped like a key or token, nor any of ``secrets`` (nor their last 4 chars)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[hidden]")
    return _KEYISH.sub("[hidden]", text)


@dataclass
class Answer:
    """A backend's answer: JSON body bytes, the usage it reports, how many images, the rate-limit headers."""

    body: bytes
    usage: dict[str, Any] | None
    images: int
    headers: dict[str, str] = field(default_factory=dict)
    source: str = "backend"


@dataclass
class StreamEnd:
    """Filled in while a stream is relayed: the usage and images of its completed events."""

    usage: dict[str, Any] | None = None
    images: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    source: str = "backend"


class Backend(Protocol):
    kind: str

    async def models(self) -> dict[str, Any]: ...

    async def images(self, request: Request) -> Answer: ...

    def stream(self, request: Request, end: StreamEnd) -> AsyncGenerator[bytes, None]: ...

    async def aclose(self) -> None: ...


def _rate_headers(headers: Any, secret: str = "") -> dict[str, str]:
    return {k: scrub(str(headers[k]), secret) for k in _RATE_HEADERS if k in headers}


def upstream_error(exc: openai.OpenAIError, secret: str = "") -> ApiError:
    """The participant's view of an upstream failure: status, type and code kept, message scrubbed."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
        message = scrub(str(inner.get("message") or exc.message), secret)
        headers = _rate_headers(exc.response.headers, secret)
        if exc.status_code in (401, 403):  # the teacher's key, not the participant's token: they cannot fix it
            return ApiError(502, "The workshop proxy's own API key was refused by the backend "
                            f"({exc.status_code}); tell the teacher.", type="proxy_error", code="upstream_auth",
                            headers={"x-should-retry": "false"})
        def text(field: str) -> str | None:  # an upstream that echoes the key could do it in any field
            value = inner.get(field)
            return scrub(value, secret) if isinstance(value, str) else None

        return ApiError(exc.status_code, message, type=text("type") or "api_error", param=text("param"),
                        code=text("code"), headers=headers)
    if isinstance(exc, openai.APITimeoutError):
        return ApiError(504, "The backend did not answer in time.", type="proxy_error", code="upstream_timeout")
    return ApiError(502, f"The workshop proxy could not reach the backend ({type(exc).__name__}).",
                    type="proxy_error", code="upstream_unreachable")


def _is_image_model(model_id: str) -> bool:
    return registry.get(model_id) is not None or model_id.startswith(("gpt-image", "dall-e", "chatgpt-image"))


class SdkBackend:
    """Forwarding through the official SDK: the teacher's key to the API, or the simulator's transport."""

    def __init__(self, client: openai.AsyncOpenAI, kind: str = "openai", secret: str = "") -> None:
        self.client = client
        self.kind = kind
        self._secret = secret
        self._models: tuple[float, dict[str, Any]] | None = None

    def _method(self, endpoint: str, raw: Any) -> Any:
        return raw.generate if endpoint == "generate" else raw.edit

    async def models(self) -> dict[str, Any]:
        if self._models is None or time.monotonic() - self._models[0] > 300:
            try:
                page = await self.client.models.list()
            except openai.OpenAIError as exc:
                raise upstream_error(exc, self._secret) from None
            data = [m.model_dump(mode="json") for m in page.data if _is_image_model(m.id)]
            self._models = (time.monotonic(), {"object": "list", "data": data})
        return self._models[1]

    async def images(self, request: Request) -> Answer:
        method = self._method(request.endpoint, self.client.images.with_raw_response)
        try:
            raw = await method(**request.sdk_kwargs())
            parsed = raw.parse()
        except openai.OpenAIError as exc:
            raise upstream_error(exc, self._secret) from None
        usage = parsed.usage.model_dump(mode="json") if parsed.usage is not None else None
        return Answer(raw.http_response.content, usage, len(parsed.data or []),
                      _rate_headers(raw.headers, self._secret))

    async def stream(self, request: Request, end: StreamEnd) -> AsyncGenerator[bytes, None]:
        method = self._method(request.endpoint, self.client.images.with_raw_response)
        try:
            raw = await method(**request.sdk_kwargs())
            end.headers = _rate_headers(raw.headers, self._secret)
            events = raw.parse()
        except openai.OpenAIError as exc:
            raise upstream_error(exc, self._secret) from None
        try:
            async for event in events:
                payload = event.model_dump(mode="json", exclude_unset=True)
                if payload.get("type", "").endswith(".completed"):
                    end.images += 1
                    if isinstance(payload.get("usage"), dict):
                        end.usage = _add_usage(end.usage, payload["usage"])
                yield f"event: {payload.get('type', 'message')}\ndata: {json.dumps(payload)}\n\n".encode()
        except openai.OpenAIError as exc:
            error = upstream_error(exc, self._secret).body()
            yield f"event: error\ndata: {json.dumps(error)}\n\n".encode()
        finally:
            await events.close()

    async def aclose(self) -> None:
        await self.client.close()


def _add_usage(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Usage of several completed events (n > 1 streams one per image), summed field by field."""
    if a is None:
        return b
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, (int, float)) and isinstance(a.get(k), (int, float)):
            out[k] = a[k] + v
        elif isinstance(v, dict) and isinstance(a.get(k), dict):
            out[k] = _add_usage(a[k], v)
    return out


def simulator_backend(simulator: Any = None) -> SdkBackend:
    """The offline simulator behind the SDK's own transport (no network, no key)."""
    from ..simulator import Simulator

    sim = simulator if simulator is not None else Simulator()
    client = openai.AsyncOpenAI(api_key="offline-simulator", base_url="http://simulator.dalle-kit.invalid/v1",
                                http_client=httpx2.AsyncClient(transport=sim.async_transport()), max_retries=0)
    backend = SdkBackend(client, kind="simulator")
    backend.simulator = sim  # type: ignore[attr-defined]  # tests read its stats
    return backend


class ReplayBackend:
    """Answers from a replay pack; a miss goes to ``fallback`` (the simulator), or is refused when strict."""

    kind = "replay"

    def __init__(self, pack: Pack, fallback: SdkBackend | None) -> None:
        self.pack = pack
        self.fallback = fallback

    async def models(self) -> dict[str, Any]:
        if self.fallback is not None:
            return await self.fallback.models()
        ids = sorted(str(m) for m in self.pack.summary()["models"])
        return {"object": "list", "data": [{"id": i, "object": "model", "owned_by": "replay"} for i in ids]}

    def _recorded(self, request: Request) -> ImageResult | ImageSet | None:
        """The pack's answer: recorded by a teacher's own kit, so without the participant's safety_identifier."""
        params = {k: v for k, v in request.params.items() if k not in ("safety_identifier", "user")}
        answer = self.pack.answer(dataclasses.replace(request, params=params))
        if answer is None and params.get("stream"):
            plain = {k: v for k, v in params.items() if k not in ("stream", "partial_images")}
            answer = self.pack.answer(dataclasses.replace(request, params=plain))
        return answer

    def _miss(self, request: Request) -> ApiError:
        return ApiError(400, f"The workshop's replay pack {self.pack.name} holds no answer to this request "
                        f"({request.model}, {request.prompt!r:.60}); this proxy answers only what the pack holds.",
                        param="prompt", code="replay_miss")

    async def images(self, request: Request) -> Answer:
        answer = self._recorded(request)
        if answer is None:
            if self.fallback is None:
                raise self._miss(request)
            return dataclasses.replace(await self.fallback.images(request), source="simulator")
        results = list(answer) if isinstance(answer, ImageSet) else [answer]
        return Answer(json.dumps(_body(results)).encode(), results[0].usage, len(results), source="replay")

    async def stream(self, request: Request, end: StreamEnd) -> AsyncGenerator[bytes, None]:
        answer = self._recorded(request)
        if answer is None:
            if self.fallback is None:
                raise self._miss(request)
            async for chunk in self.fallback.stream(request, end):
                yield chunk
            return
        results = list(answer) if isinstance(answer, ImageSet) else [answer]
        kind = "image_generation" if request.endpoint == "generate" else "image_edit"
        end.usage, end.images, end.source = results[0].usage or {}, len(results), "replay"
        for r in results:
            event = {"type": f"{kind}.completed", "b64_json": base64.b64encode(r.data).decode(),
                     "created_at": r.created or int(time.time()), "size": r.size, "output_format": r.format,
                     "usage": r.usage if r is results[0] else None}
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    async def aclose(self) -> None:
        if self.fallback is not None:
            await self.fallback.aclose()


def _body(results: list[ImageResult]) -> dict[str, Any]:
    first = results[0]
    data: list[dict[str, Any]] = []
    for r in results:
        item: dict[str, Any] = {"b64_json": base64.b64encode(r.data).decode()}
        if r.revised_prompt:
            item["revised_prompt"] = r.revised_prompt
        data.append(item)
    body: dict[str, Any] = {"created": first.created or int(time.time()), "data": data,
                            "output_format": first.format, "size": first.size}
    if first.usage is not None:
        body["usage"] = first.usage
    return body
