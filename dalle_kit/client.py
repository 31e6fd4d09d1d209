"""``Kit``: generate, edit and vary images through the official ``openai`` SDK (sync and async).

Configuration resolves argument, then environment, then default. With no key, ``Kit`` runs on the offline
simulator mounted into the SDK's own HTTP transport: same SDK, same retries, no network.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, Unpack, overload
from urllib.parse import urlparse

import httpx2
import openai

from . import registry
from .api_errors import annotate
from .errors import InvalidArgument
from .http_hooks import hooks as response_hooks
from .kit_types import EditOptions, GenerateOptions, ImageInput, ManyImages, PromptLike, VaryOptions
from .registry import DEFAULT_MODEL, Listing
from .request import Request
from .responses import Collector
from .results import ImageResult, ImageSet
from .store import Store
from .validation import validate

__all__ = ["DEFAULT_MODEL", "VARIATION_PROMPT", "Kit"]

VARIATION_PROMPT = ("Create a variation of this image: keep its subject, composition and palette, "
                    "and change the details.")
OFFLINE_URL = "http://simulator.dalle-kit.invalid/v1"
_OFFLINE_KEY = "offline-simulator"
_SDK_METHOD = {"generate": "generate", "edit": "edit", "variation": "create_variation"}


#: OpenAI keys are far longer; anything shorter sent to api.openai.com is a mistake (a proxy's token may be short).
MIN_OPENAI_KEY = 20


def clean_key(raw: str | None, source: str) -> str | None:
    """The key without surrounding whitespace (a file or a CRLF ``.env`` adds some), or None when empty.

    A key with whitespace inside, control or non-ASCII characters cannot be sent in a header: refused with
    ``InvalidArgument``, whose message never contains the key.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidArgument(f"{source} must be a string, got {type(raw).__name__}")
    key = raw.strip()
    if not key:
        return None
    for position, char in enumerate(key):
        if char.isspace() or not char.isprintable() or not char.isascii():
            kind = "whitespace" if char.isspace() else "a non-ASCII character" if not char.isascii() else \
                "a control character"
            raise InvalidArgument(f"{source} has {kind} at position {position + 1} of {len(key)}; a key is one "
                                  "word of ASCII letters, digits, '-' and '_'. Copy it again (dalle_kit never "
                                  "prints it)")
    return key


def _sdk_method(client: Any, endpoint: str) -> tuple[Callable[..., Any], frozenset[str]]:
    """The SDK method for ``endpoint`` and the keyword names it takes.

    ``create_variation`` carries a deprecation marker (the endpoint is retired); dalle_kit calls it only for
    hosts that still serve it, so it calls the function under the marker instead of silencing warnings.
    """
    method = getattr(client.images, _SDK_METHOD[endpoint])
    inner = getattr(method, "__wrapped__", None)
    call = functools.partial(inner, client.images) if inner is not None else method
    return call, _keywords(inner or method.__func__)


@functools.cache
def _keywords(function: Callable[..., Any]) -> frozenset[str]:
    """The keyword names an SDK method takes (read once per method, not per call)."""
    return frozenset(inspect.signature(function).parameters)


class Kit:
    """A client for the Images API.

    Args:
        api_key: the key; else ``OPENAI_API_KEY``; with neither, the offline simulator is used.
        base_url: else ``OPENAI_BASE_URL``; any OpenAI-compatible host or proxy. On a non-OpenAI host, retired
            and unknown models pass with a warning, since such providers may still serve them.
        offline: force the simulator (True) or the network (False); default: offline when there is no key or
            a ``simulator`` is given.
        model: the model used when a call names none.
        home: the store folder; else ``DALLE_KIT_HOME``; else the user data folder.
        simulator: a configured ``dalle_kit.simulator.Simulator`` (latency, faults, legacy mode) for offline use.
        lenient: skip every pre-flight rule that would refuse, with a warning naming it (for users who know
            the API takes something dalle_kit's registry does not); also ``lenient=True`` per call.
        max_retries, timeout: passed to the SDK, which owns retries (429 and 5xx) and timeouts. An
            ``insufficient_quota`` 429 is never retried: waiting does not add credit.
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None, offline: bool | None = None,
                 model: str = DEFAULT_MODEL, home: str | os.PathLike[str] | None = None, simulator: Any = None,
                 lenient: bool = False, max_retries: int = 2, timeout: float | None = None,
                 quiet: bool = False) -> None:
        source = "api_key" if api_key is not None else "OPENAI_API_KEY"
        key = clean_key(api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"), source)
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "").strip() or None
        self.offline = (key is None or simulator is not None) if offline is None else offline
        self.model = model
        self.lenient = lenient
        self.store = Store(home)
        self.simulator = None
        sync_hook, async_hook = response_hooks(max_retries, quiet)
        hooks, ahooks = {"response": [sync_hook]}, {"response": [async_hook]}
        if self.offline:
            reason = ("offline=True" if offline else "a simulator was given" if simulator is not None
                      else "no OPENAI_API_KEY is set")
            if simulator is None:
                from .simulator import Simulator

                simulator = Simulator()
            self.simulator = simulator
            key, base_url = _OFFLINE_KEY, OFFLINE_URL
            http = httpx2.Client(transport=self.simulator.transport(), event_hooks=hooks)
            ahttp = httpx2.AsyncClient(transport=self.simulator.async_transport(), event_hooks=ahooks)
            self.backend = "simulator"
            self.other_host = bool(getattr(self.simulator, "legacy", False))
            if not quiet:
                print(f"dalle_kit: {reason}, so images come from the offline simulator "
                      "(drawn locally, marked SIMULATED).", file=sys.stderr)
        else:
            if key is None:
                raise InvalidArgument("Kit(offline=False) needs a key: pass api_key=... or set OPENAI_API_KEY")
            http = openai.DefaultHttpx2Client(event_hooks=hooks)
            ahttp = openai.DefaultAsyncHttpx2Client(event_hooks=ahooks)
            host = urlparse(base_url).hostname if base_url else "api.openai.com"
            self.backend = "openai" if host and host.endswith("openai.com") else host or "custom"
            if self.backend == "openai" and len(key) < MIN_OPENAI_KEY:
                count = f"{len(key)} character{'s' if len(key) != 1 else ''}"
                raise InvalidArgument(f"{source} is {count} long; an OpenAI key (sk-...) is much "
                                      "longer. Copy it again from platform.openai.com/api-keys (dalle_kit never "
                                      "prints it), or leave it unset to use the offline simulator")
            self.other_host = self.backend != "openai"
        self._http = http
        options: dict[str, Any] = {"api_key": key, "base_url": base_url, "max_retries": max_retries}
        if timeout is not None:
            options["timeout"] = timeout
        self._client = openai.OpenAI(http_client=http, **options)
        self._aclient = openai.AsyncOpenAI(http_client=ahttp, **options)
        if registry.listing() is None and (cached := self.store.listing(self.backend)) is not None:
            registry.apply_listing(cached)

    def __repr__(self) -> str:
        return f"Kit(backend={self.backend!r}, model={self.model!r}, home={str(self.store.home)!r})"

    def close(self) -> None:
        """Close the HTTP connections (``with Kit() as kit:`` does it on leaving the block)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the async client's HTTP connections."""
        await self._aclient.close()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------------------------

    def request(self, endpoint: str, *, lenient: bool | None = None, **params: Any) -> Request:
        """The validated request a call would send (nothing is sent).

        ``prompt`` may be a string or anything with ``render(model)`` (a ``dalle_kit.prompts.Prompt``).
        """
        params.setdefault("model", self.model)
        prompt = params.get("prompt")
        if prompt is not None and not isinstance(prompt, str) and hasattr(prompt, "render"):
            params["prompt"] = prompt.render(model=params["model"])
        return validate(endpoint, lenient=self.lenient if lenient is None else lenient, other_host=self.other_host,
                        **params)

    def _vary_request(self, image: Any, n: int, prompt: str | None, params: dict[str, Any]) -> Request:
        spec = registry.get(params.setdefault("model", self.model))
        if spec is not None and "variation" in spec.endpoints:
            return self.request("variation", image=image, n=n, **params)
        return self.request("edit", image=image, prompt=prompt or VARIATION_PROMPT, n=n, **params)

    def _collector(self, request: Request) -> Collector:
        return Collector(request, self.store, self.backend, self._fetch)

    def _fetch(self, url: str) -> bytes:
        """Download a legacy URL result (served by the simulator offline, by the provider online)."""
        response = self._http.get(url)
        response.raise_for_status()
        return response.content

    def _call(self, client: Any, request: Request) -> Any:
        method, accepted = _sdk_method(client, request.endpoint)
        kwargs = request.sdk_kwargs()
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in accepted}
        if extra:  # parameters this SDK version does not name (lenient=True, or a newer API)
            kwargs["extra_body"] = extra
        return method(**kwargs)

    # -- sync -----------------------------------------------------------------------------------------------

    def run(self, request: Request) -> ImageResult | ImageSet | Iterator[ImageResult]:
        """Send a validated request; a streaming request returns an iterator of previews then images."""
        if request.params.get("stream"):
            return self._stream(request)
        collector = self._collector(request)
        with annotate(self._client.api_key):
            response = self._call(self._client, request)
        return collector.from_response(response)

    def _stream(self, request: Request) -> Iterator[ImageResult]:
        collector = self._collector(request)
        with annotate(self._client.api_key):
            for event in collector.start_stream(self._call(self._client, request)):
                yield collector.from_event(event)

    @overload
    def generate(self, prompt: PromptLike, *, stream: Literal[True], n: int | None = ...,
                 **params: Unpack[GenerateOptions]) -> Iterator[ImageResult]: ...
    @overload
    def generate(self, prompt: PromptLike, *, n: ManyImages, stream: Literal[False] | None = ...,
                 **params: Unpack[GenerateOptions]) -> ImageSet: ...
    @overload
    def generate(self, prompt: PromptLike, *, n: Literal[1] | None = ..., stream: Literal[False] | None = ...,
                 **params: Unpack[GenerateOptions]) -> ImageResult: ...
    @overload
    def generate(self, prompt: PromptLike, *, n: int | None = ..., stream: bool | None = ...,
                 **params: Unpack[GenerateOptions]) -> ImageResult | ImageSet | Iterator[ImageResult]: ...

    def generate(self, prompt: PromptLike, **params: Any) -> Any:
        """Generate images. Returns an ``ImageResult`` (an ``ImageSet`` when ``n > 1``).

        With ``stream=True`` (and ``partial_images=0..3``) it returns an iterator that yields previews
        (``result.partial`` is their index) and then the final image(s).
        """
        return self.run(self.request("generate", prompt=prompt, **params))

    @overload
    def edit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
             stream: Literal[True], n: int | None = ..., **params: Unpack[EditOptions]) -> Iterator[ImageResult]: ...
    @overload
    def edit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
             n: ManyImages, stream: Literal[False] | None = ..., **params: Unpack[EditOptions]) -> ImageSet: ...
    @overload
    def edit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
             n: Literal[1] | None = ..., stream: Literal[False] | None = ...,
             **params: Unpack[EditOptions]) -> ImageResult: ...
    @overload
    def edit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
             n: int | None = ..., stream: bool | None = ...,
             **params: Unpack[EditOptions]) -> ImageResult | ImageSet | Iterator[ImageResult]: ...

    def edit(self, image: Any, prompt: PromptLike, mask: Any = None, **params: Any) -> Any:
        """Edit ``image`` (a path, PIL image, bytes, BytesIO, or a list of them up to the model's limit).

        ``mask``: a PNG of the image's size whose fully transparent pixels mark where to edit (applied to the
        first image). ``markup`` (2.5/2.6 models): a transparent PNG drawn over the first image instead.
        """
        return self.run(self.request("edit", image=image, prompt=prompt, mask=mask, **params))

    @overload
    def vary(self, image: ImageInput, n: Literal[1] = ..., *, prompt: str | None = ...,
             **params: Unpack[VaryOptions]) -> ImageResult: ...
    @overload
    def vary(self, image: ImageInput, n: ManyImages, *, prompt: str | None = ...,
             **params: Unpack[VaryOptions]) -> ImageSet: ...
    @overload
    def vary(self, image: ImageInput, n: int, *, prompt: str | None = ...,
             **params: Unpack[VaryOptions]) -> ImageResult | ImageSet: ...

    def vary(self, image: Any, n: int = 1, *, prompt: str | None = None, **params: Any) -> Any:
        """Variations of ``image``.

        The variations endpoint is retired for current models, so on them this is an edit whose prompt asks
        for a variation (``VARIATION_PROMPT``, or ``prompt`` to steer it). Models that still have the endpoint
        (DALL·E 2 on a legacy provider or the simulator's legacy mode) use the real variations endpoint.
        """
        return self.run(self._vary_request(image, n, prompt, dict(params)))

    # -- async ----------------------------------------------------------------------------------------------

    async def arun(self, request: Request) -> Any:
        """Async twin of ``run``; a streaming request returns an async iterator."""
        if request.params.get("stream"):
            return self._astream(request)
        collector = self._collector(request)
        with annotate(self._client.api_key):
            response = await self._call(self._aclient, request)
        return collector.from_response(response)

    async def _astream(self, request: Request) -> AsyncIterator[ImageResult]:
        collector = self._collector(request)
        with annotate(self._client.api_key):
            async for event in collector.start_stream(await self._call(self._aclient, request)):
                yield collector.from_event(event)

    @overload
    async def agenerate(self, prompt: PromptLike, *, stream: Literal[True], n: int | None = ...,
                        **params: Unpack[GenerateOptions]) -> AsyncIterator[ImageResult]: ...
    @overload
    async def agenerate(self, prompt: PromptLike, *, n: ManyImages, stream: Literal[False] | None = ...,
                        **params: Unpack[GenerateOptions]) -> ImageSet: ...
    @overload
    async def agenerate(self, prompt: PromptLike, *, n: Literal[1] | None = ..., stream: Literal[False] | None = ...,
                        **params: Unpack[GenerateOptions]) -> ImageResult: ...
    @overload
    async def agenerate(self, prompt: PromptLike, *, n: int | None = ..., stream: bool | None = ...,
                        **params: Unpack[GenerateOptions]) -> ImageResult | ImageSet | AsyncIterator[ImageResult]: ...

    async def agenerate(self, prompt: PromptLike, **params: Any) -> Any:
        """Async twin of ``generate``."""
        return await self.arun(self.request("generate", prompt=prompt, **params))

    @overload
    async def aedit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
                    stream: Literal[True], n: int | None = ...,
                    **params: Unpack[EditOptions]) -> AsyncIterator[ImageResult]: ...
    @overload
    async def aedit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
                    n: ManyImages, stream: Literal[False] | None = ..., **params: Unpack[EditOptions]) -> ImageSet: ...
    @overload
    async def aedit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
                    n: Literal[1] | None = ..., stream: Literal[False] | None = ...,
                    **params: Unpack[EditOptions]) -> ImageResult: ...
    @overload
    async def aedit(self, image: ImageInput | list[ImageInput], prompt: PromptLike, mask: ImageInput | None = ..., *,
                    n: int | None = ..., stream: bool | None = ...,
                    **params: Unpack[EditOptions]) -> ImageResult | ImageSet | AsyncIterator[ImageResult]: ...

    async def aedit(self, image: Any, prompt: PromptLike, mask: Any = None, **params: Any) -> Any:
        """Async twin of ``edit``."""
        return await self.arun(self.request("edit", image=image, prompt=prompt, mask=mask, **params))

    @overload
    async def avary(self, image: ImageInput, n: Literal[1] = ..., *, prompt: str | None = ...,
                    **params: Unpack[VaryOptions]) -> ImageResult: ...
    @overload
    async def avary(self, image: ImageInput, n: ManyImages, *, prompt: str | None = ...,
                    **params: Unpack[VaryOptions]) -> ImageSet: ...
    @overload
    async def avary(self, image: ImageInput, n: int, *, prompt: str | None = ...,
                    **params: Unpack[VaryOptions]) -> ImageResult | ImageSet: ...

    async def avary(self, image: Any, n: int = 1, *, prompt: str | None = None, **params: Any) -> Any:
        """Async twin of ``vary``."""
        return await self.arun(self._vary_request(image, n, prompt, dict(params)))

    # -- the store and the model list -----------------------------------------------------------------------

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest images in the store."""
        return self.store.history(limit)

    def refresh_models(self, today: dt.date | None = None) -> Listing:
        """Read ``/v1/models`` (its ``shutdown_date`` per model), keep it in the store, and make the registry
        prefer its dates. Models it does not list get a warning when used, never a refusal."""
        with annotate(self._client.api_key):
            page = self._client.models.list()
        shutdown: dict[str, dt.date | None] = {}
        for model in page:
            if registry.builtin(model.id) is None and "image" not in model.id and not model.id.startswith("dall-e"):
                continue  # chat, audio, embedding ... models: not ours to keep
            date = getattr(model, "shutdown_date", None)
            shutdown[model.id] = _parse_date(date)
        listing = Listing(shutdown=shutdown, read_on=today or dt.date.today(), host=self.backend)
        self.store.save_listing(listing)
        registry.apply_listing(listing)
        return listing


def _parse_date(value: Any) -> dt.date | None:
    """A ``shutdown_date`` as the API sends it (ISO date, or a Unix time), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC).date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
