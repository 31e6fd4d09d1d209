"""Turn what the SDK returns (responses and stream events) into stored ``ImageResult``s.

One path for every image: decode the Base64 (or fetch the legacy URL), write the bytes to the store, then
hand back a result that points at the stored file. Nothing is shown before it is on disk, unless the store
cannot take it (disk full, no permission): then the paid-for images still come back, in memory only
(``stored_at`` None), with one warning saying where and why, and the others are still stored.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import io
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import ResponseError, warn
from .registry import parse_size
from .request import Request
from .results import ImageResult, ImageSet
from .store import Store

__all__ = ["Collector", "from_records"]

Pricing = Callable[[str, "dict[str, Any] | None"], "float | None"]


def _sniff(data: bytes, fallback_size: str | None) -> tuple[str, int, int]:
    """Format and pixel size read from the bytes themselves (only the header is parsed)."""
    head = data[:512].lstrip()
    if head.startswith(b"<svg") or head.startswith(b"<?xml"):
        w, h = parse_size(fallback_size or "") or (0, 0)
        return "svg", w, h
    with Image.open(io.BytesIO(data)) as img:
        return (img.format or "png").lower(), img.width, img.height


def _dump(model: Any) -> dict[str, Any] | None:
    return model.model_dump(exclude_none=True) if model is not None else None


@dataclasses.dataclass
class Collector:
    """Builds results for one request, storing each image before returning it."""

    request: Request
    store: Store
    backend: str
    fetch: Callable[[str], bytes]
    started: float = dataclasses.field(default_factory=time.perf_counter)
    first_preview: float | None = None
    count: int = 0
    request_id: str | None = None  # for streams, from the response headers
    unstored: list[BaseException] = dataclasses.field(default_factory=list)  # one error per image not stored
    pricing: Pricing | None = None  # (model, usage) -> US dollars or None
    call_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)  # groups one answer's rows
    cost: float | None = None  # what this call cost in all (None: unknown), set once the answer is read
    session: str | None = None  # with a session, a whole answer's spend enters the ledger with its images

    def _unstored(self, data: bytes, *, partial: int | None = None, **fields: Any) -> ImageResult:
        """A result for ``data``, not stored yet."""
        fmt, width, height = _sniff(data, fields.pop("size_hint", None))
        elapsed = time.perf_counter() - self.started
        timings = {"total": round(elapsed, 4)}
        if self.first_preview is not None:
            timings["first_preview"] = round(self.first_preview, 4)
        return ImageResult(data=data, format=fmt, width=width, height=height, request=self.request,
                           timings=timings, backend=self.backend, partial=partial, **fields)

    def _stored(self, results: list[ImageResult], kind: str = "image",
                spend: dict[str, Any] | None = None) -> list[ImageResult]:
        """Store the images of one answer (one transaction, with its ``spend``); each comes back with
        ``stored_at``, or in memory only when the store cannot take it (the bytes are paid for, never dropped)."""
        try:
            places = self.store.put_many([(r.data, r.format, {**r.info(), "call_id": self.call_id}) for r in results],
                                         kind=kind, spend=spend)
        except sqlite3.Error as exc:  # the files are written; the next opening of the store indexes them
            self.unstored.extend(exc for _ in results)
            return results
        out = []
        for result, place in zip(results, places):
            if isinstance(place, OSError):
                self.unstored.append(place)
                out.append(result)
            else:
                out.append(dataclasses.replace(result, stored_at=place))
        return out

    def _result(self, data: bytes, *, kind: str = "image", partial: int | None = None, **fields: Any) -> ImageResult:
        return self._stored([self._unstored(data, partial=partial, **fields)], kind)[0]

    def _warn_unstored(self, total: int | None = None) -> None:
        """One warning for the images the store could not take: where, why, and how to keep them."""
        exc = self.unstored[0]
        code = errno.errorcode.get(exc.errno or 0) if isinstance(exc, OSError) else None
        why = f"{exc.strerror} [{code}]" if isinstance(exc, OSError) and exc.strerror and code else \
            f"{type(exc).__name__}: {exc}"
        where = f"could not be written to the store at {self.store.images} ({why})"
        if total is None:
            warn(f"a streamed image {where}; it, and any later one of this stream that fails too, is returned in "
                 "memory only (stored_at is None): keep it with result.save(path)")
        elif total == 1:
            warn(f"the image {where}; it is returned in memory only (stored_at is None): keep it with "
                 "result.save(path)")
        else:
            warn(f"{len(self.unstored)} of {total} images {where}; they are returned in memory only (stored_at is "
                 "None): keep each with result.save(path), or the set with images.save(folder)")

    def from_response(self, response: Any) -> ImageResult | ImageSet:
        """Every image of an ``ImagesResponse`` (an ``ImageSet`` when there are several)."""
        usage = _dump(response.usage)
        request_id = getattr(response, "_request_id", None)
        items = response.data or []
        self.cost = self.pricing(self.request.model, usage) if self.pricing and items else None
        share = self.cost / len(items) if self.cost is not None else None
        results = []
        for index, item in enumerate(items):
            data = base64.b64decode(item.b64_json) if item.b64_json else self.fetch(item.url)
            results.append(self._unstored(data, index=index, usage=usage, revised_prompt=item.revised_prompt,
                                          request_id=request_id, created=response.created, size_hint=response.size,
                                          cost=share))
        spend = None if self.session is None else {
            "backend": self.backend, "session": self.session, "model": self.request.model,
            "request_key": self.request.key, "cost": self.cost, "images": len(results)}
        results = self._stored(results, spend=spend) if results else results
        if not results:
            raise ResponseError("the API answered without images (an empty data list); nothing was stored")
        if self.unstored:
            self._warn_unstored(len(results))
        return results[0] if len(results) == 1 else ImageSet(results)

    def start_stream(self, stream: Any) -> Any:
        """Note the stream's request id (from its HTTP response) and hand the stream back."""
        response = getattr(stream, "response", None)
        self.request_id = response.headers.get("x-request-id") if response is not None else None
        return stream

    def from_event(self, event: Any) -> ImageResult:
        """A streamed preview (``*.partial_image``) or a final image (``*.completed``)."""
        data = base64.b64decode(event.b64_json)
        common = {"created": event.created_at, "size_hint": event.size, "request_id": self.request_id}
        failed = len(self.unstored)
        if event.type.endswith("partial_image"):
            if self.first_preview is None:
                self.first_preview = time.perf_counter() - self.started
            result = self._result(data, kind="partial", partial=event.partial_image_index, index=self.count, **common)
        else:
            usage = _dump(event.usage)
            cost = self.pricing(self.request.model, usage) if self.pricing else None
            if cost is not None:
                self.cost = (self.cost or 0.0) + cost
            result = self._result(data, index=self.count, usage=usage, cost=cost, **common)
            self.count += 1
        if failed == 0 and self.unstored:  # the stream's first failure (a stream does not know its total)
            self._warn_unstored()
        return result


def from_records(request: Request, records: Sequence[dict[str, Any]]) -> ImageResult | ImageSet | None:
    """The stored answer to ``request`` (``Store.find`` records) as results marked ``source="store"``, or None
    when a file cannot be read any more (then the request is simply sent)."""
    results = []
    for record in records:
        info = record["info"]
        try:
            data = Path(record["path"]).read_bytes()
        except OSError:
            return None
        width, _, height = str(info.get("size", "0x0")).partition("x")
        results.append(ImageResult(
            data=data, format=record["format"], width=int(width or 0), height=int(height or 0), request=request,
            index=int(info.get("index", 0)), usage=info.get("usage"), revised_prompt=info.get("revised_prompt"),
            request_id=info.get("request_id"), created=info.get("created"), timings=info.get("timings") or {},
            backend=info.get("backend") or "openai", stored_at=Path(record["path"]), source="store"))
    if not results:
        return None
    return results[0] if len(results) == 1 else ImageSet(results)
