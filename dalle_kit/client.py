"""``Kit``: generate, edit and vary images through the official ``openai`` SDK (sync and async).

Configuration resolves argument, then environment, then default. With no key, ``Kit`` runs on the offline
simulator mounted into the SDK's own HTTP transport: same SDK, same retries, no network.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Literal, Unpack, overload
from urllib.parse import urlparse

import httpx2
import openai

from . import costs, registry
from .api_errors import annotate
from .display import notice
from .errors import InvalidArgument, warn
from .http_hooks import hooks as response_hooks
from .kit_many import ManyAtOnce
from .kit_support import MIN_OPENAI_KEY, SDK_METHOD, aiter_of, as_list, clean_key, sdk_method
from .kit_types import EditOptions, GenerateOptions, ImageInput, ManyImages, PromptLike, VaryOptions
from .registry import DEFAULT_MODEL
from .replay import Pack, replay_answer
from .request import Request
from .responses import Collector, from_records
from .results import ImageResult, ImageSet
from .store import Store
from .validation import validate

__all__ = ["DEFAULT_MODEL", "VARIATION_PROMPT", "Kit", "clean_key"]

VARIATION_PROMPT = ("Create a variation of this image: keep its subject, composition and palette, "
                    "and change the details.")
OFFLINE_URL = "http://simulator.dalle-kit.invalid/v1"
_OFFLINE_KEY = "offline-simulator"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The TLS settings a new HTTP client would make (certificates, ``SSL_CERT_FILE``), made once: making them
    takes ~20 ms, which a batch's own client would otherwise pay every time."""
    return httpx2.create_ssl_context()


class Kit(ManyAtOnce):
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
        cache: answer a request whose key is in the store from the store (nothing sent, nothing paid); turn it
            off here, or per call with ``fresh=True``.
        budget: US dollars this store may spend per day on this backend; a request or batch whose estimate
            would pass it is refused before sending with ``BudgetExceeded``. The spend is kept in the store.
        replay: a replay pack (a path or a ``dalle_kit.replay.Pack``), else ``DALLE_KIT_REPLAY``: every request
            whose key is in the pack is answered from it (after the store; nothing sent, no key needed; the
            caption says "replayed"). A miss goes to the backend (the simulator without a key) with a warning.
        strict: with ``replay``, a miss raises ``ReplayMiss`` instead (else ``DALLE_KIT_REPLAY_STRICT=1``).
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None, offline: bool | None = None,
                 model: str = DEFAULT_MODEL, home: str | os.PathLike[str] | None = None, simulator: Any = None,
                 lenient: bool = False, max_retries: int = 2, timeout: float | None = None,
                 quiet: bool = False, cache: bool = True, budget: float | None = None,
                 replay: str | os.PathLike[str] | Pack | None = None, strict: bool | None = None) -> None:
        source = "api_key" if api_key is not None else "OPENAI_API_KEY"
        key = clean_key(api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"), source)
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "").strip() or None
        self.offline = (key is None or simulator is not None) if offline is None else offline
        self.model = model
        self.lenient = lenient
        self.cache = cache
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or not budget >= 0):
            raise InvalidArgument(f"budget must be a number of US dollars, 0 or more (e.g. budget=2.00), got "
                                  f"{budget!r}")
        self.budget = None if budget is None else float(budget)
        self.session = uuid.uuid4().hex
        self.quiet = quiet
        source_pack = replay if replay is not None else (os.environ.get("DALLE_KIT_REPLAY") or "").strip() or None
        self.replay: Pack | None = Pack.load(source_pack) if source_pack is not None else None
        if strict is None:
            strict = os.environ.get("DALLE_KIT_REPLAY_STRICT", "").strip().lower() in ("1", "true", "yes", "on")
        self.strict = bool(strict)
        self._missed: set[str] = set()
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
            self.serves_legacy = self.other_host  # the legacy simulator is known to serve DALL·E 2 and 3
            if not quiet and self.replay is not None:
                notice(f"dalle_kit: replaying {self.replay.name} ({len(self.replay)} answers); "
                       + ("a request it does not hold raises ReplayMiss (strict)." if self.strict else
                          f"{reason}, so a request it does not hold goes to the offline simulator."))
            elif not quiet:  # one calm line, once per process (a grey line in a notebook, stderr elsewhere)
                notice(f"dalle_kit: {reason}, so the offline simulator draws the images (marked SIMULATED).",
                       once="offline")
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
            self.serves_legacy = False  # another host may or may not still serve a retired model: it warns
        self._http = http
        sim = self.simulator
        self._new_async_http: Callable[[], httpx2.AsyncClient] = (  # a batch's own client, for its own loop
            (lambda: httpx2.AsyncClient(transport=sim.async_transport())) if sim is not None
            else lambda: openai.DefaultAsyncHttpx2Client(verify=_ssl_context()))
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
        """Close the HTTP connections and the store's (``with Kit() as kit:`` does it on leaving the block)."""
        self._client.close()
        self.store.close()

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
                        serves_legacy=self.serves_legacy, **params)

    def _vary_request(self, image: Any, n: int, prompt: str | None, params: dict[str, Any]) -> Request:
        spec = registry.get(params.setdefault("model", self.model))
        if spec is not None and "variation" in spec.endpoints:
            return self.request("variation", image=image, n=n, **params)
        return self.request("edit", image=image, prompt=prompt or VARIATION_PROMPT, n=n, **params)

    def _collector(self, request: Request) -> Collector:
        return Collector(request, self.store, self.backend, self._fetch, pricing=costs.cost, session=self.session)

    def _cached(self, request: Request, fresh: bool = False) -> ImageResult | ImageSet | None:
        """The stored answer to ``request`` (the cache), or None: cache off, ``fresh``, a miss or an unreadable
        store (then the request is sent)."""
        if not (fresh or not self.cache):
            try:
                records = self.store.find(request.key, int(request.params.get("n") or 1))
            except sqlite3.Error:
                records = []
            if records and (stored := from_records(request, records)) is not None:
                return stored
        return self._replayed(request) if self.replay is not None else None

    def _replayed(self, request: Request) -> ImageResult | ImageSet | None:
        """The pack's answer (also put in the store); a miss: ``ReplayMiss`` when strict, else None and a warning."""
        assert self.replay is not None
        return replay_answer(self.replay, self.store, request, strict=self.strict, missed=self._missed,
                             backend=self.backend)

    def check_budget(self, requests: Sequence[Request], what: str) -> costs.Estimate | None:
        """Refuse with ``BudgetExceeded`` when ``requests`` could take today's spend past ``budget``."""
        if self.budget is None:
            return None
        estimate = costs.estimate_many(requests)
        costs.check_budget(cap=self.budget, spent=self.store.spent(self.backend), estimate=estimate, what=what,
                           where=f"today on {self.backend}")
        return estimate

    def _record_spend(self, collector: Collector, images: int) -> None:
        try:
            self.store.record_spend(backend=self.backend, session=self.session, model=collector.request.model,
                                    request_key=collector.request.key, cost=collector.cost, images=images)
        except (OSError, sqlite3.Error) as exc:
            warn(f"the spend of this call could not be written to the store at {self.store.home} "
                 f"({type(exc).__name__}: {exc}); kit.spend() will not count it")

    def _fetch(self, url: str) -> bytes:
        """Download a legacy URL result (served by the simulator offline, by the provider online)."""
        response = self._http.get(url)
        response.raise_for_status()
        return response.content

    def _raw_method(self, client: Any, request: Request) -> Callable[[], Awaitable[Any]]:
        """The SDK call for ``request`` that returns the raw answer (headers, then ``.parse()``)."""
        _, accepted = sdk_method(client, request.endpoint)
        kwargs = request.sdk_kwargs()
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in accepted}
        if extra:
            kwargs["extra_body"] = extra
        method = getattr(client.images.with_raw_response, SDK_METHOD[request.endpoint])
        return functools.partial(method, **kwargs)

    def _call(self, client: Any, request: Request) -> Any:
        method, accepted = sdk_method(client, request.endpoint)
        kwargs = request.sdk_kwargs()
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in accepted}
        if extra:  # parameters this SDK version does not name (lenient=True, or a newer API)
            kwargs["extra_body"] = extra
        return method(**kwargs)

    # -- sync -----------------------------------------------------------------------------------------------

    def run(self, request: Request, *, fresh: bool = False) -> ImageResult | ImageSet | Iterator[ImageResult]:
        """Send a validated request (or answer it from the store); a streaming request returns an iterator of
        previews then images (from the store: the images only)."""
        cached = self._cached(request, fresh)
        if request.params.get("stream"):
            return iter(as_list(cached)) if cached is not None else self._stream(request)
        if cached is not None:
            return cached
        self.check_budget([request], "this request")
        collector = self._collector(request)
        with annotate(self._client.api_key):
            response = self._call(self._client, request)
        return collector.from_response(response)  # its spend is in the ledger with its images

    def _stream(self, request: Request) -> Iterator[ImageResult]:
        self.check_budget([request], "this request")
        collector = self._collector(request)
        try:
            with annotate(self._client.api_key):
                for event in collector.start_stream(self._call(self._client, request)):
                    yield collector.from_event(event)
        finally:
            if collector.count:
                self._record_spend(collector, collector.count)

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
        fresh = bool(params.pop("fresh", False))
        return self.run(self.request("generate", prompt=prompt, **params), fresh=fresh)

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
        fresh = bool(params.pop("fresh", False))
        return self.run(self.request("edit", image=image, prompt=prompt, mask=mask, **params), fresh=fresh)

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
        fresh = bool(params.pop("fresh", False))
        return self.run(self._vary_request(image, n, prompt, dict(params)), fresh=fresh)

    # -- async ----------------------------------------------------------------------------------------------

    async def arun(self, request: Request, *, fresh: bool = False) -> Any:
        """Async twin of ``run``; a streaming request returns an async iterator."""
        cached = self._cached(request, fresh)
        if request.params.get("stream"):
            return aiter_of(as_list(cached)) if cached is not None else self._astream(request)
        if cached is not None:
            return cached
        self.check_budget([request], "this request")
        collector = self._collector(request)
        with annotate(self._client.api_key):
            response = await self._call(self._aclient, request)
        return collector.from_response(response)  # its spend is in the ledger with its images

    async def _astream(self, request: Request) -> AsyncIterator[ImageResult]:
        self.check_budget([request], "this request")
        collector = self._collector(request)
        try:
            with annotate(self._client.api_key):
                async for event in collector.start_stream(await self._call(self._aclient, request)):
                    yield collector.from_event(event)
        finally:
            if collector.count:
                self._record_spend(collector, collector.count)

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
        fresh = bool(params.pop("fresh", False))
        return await self.arun(self.request("generate", prompt=prompt, **params), fresh=fresh)

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
        fresh = bool(params.pop("fresh", False))
        return await self.arun(self.request("edit", image=image, prompt=prompt, mask=mask, **params), fresh=fresh)

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
        fresh = bool(params.pop("fresh", False))
        return await self.arun(self._vary_request(image, n, prompt, dict(params)), fresh=fresh)
