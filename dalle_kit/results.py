"""Image results: the bytes exactly as received, their provenance, and a light notebook display."""

from __future__ import annotations

import base64
import builtins
import html
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from PIL import Image

from .errors import InvalidArgument
from .metadata import write_with_metadata
from .request import Request

__all__ = ["THUMBNAIL_PX", "ImageResult", "ImageSet"]

THUMBNAIL_PX = 256


def usd(amount: float) -> str:
    """US dollars for a caption: ``$0.053``, ``$1.20``."""
    return f"${amount:.3f}" if abs(amount) < 1 else f"${amount:,.2f}"


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")
    return slug[:limit].rstrip("-") or "image"


@dataclass(frozen=True, eq=False)
class ImageResult:
    """One image from the API. ``.bytes`` are exactly what was received (never re-encoded).

    ``stored_at`` is where the store wrote it before it was returned; ``partial`` is set on streamed previews.
    ``source`` is ``"api"`` for an image just received, ``"store"`` for one answered from the store (a re-run:
    nothing was sent, nothing paid), ``"replay"`` for one answered from a replay pack (``Kit(replay=...)``).
    ``cost`` is this image's share of its answer's cost in US dollars, from the answer's ``usage`` and the price
    table (None when either is unknown).
    """

    data: bytes = field(repr=False)
    format: str
    width: int
    height: int
    request: Request = field(repr=False)
    index: int = 0
    usage: dict[str, Any] | None = field(default=None, repr=False)
    revised_prompt: str | None = None
    request_id: str | None = None
    created: int | None = None
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    backend: str = "openai"
    stored_at: Path | None = None
    partial: int | None = None
    source: str = "api"
    cost: float | None = None

    @property
    def bytes(self) -> bytes:
        return self.data

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def prompt(self) -> str | None:
        return self.request.prompt

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def b64(self) -> str:
        """The image as Base64 text (as the API sent it)."""
        return base64.b64encode(self.data).decode("ascii")

    @cached_property
    def pil(self) -> Image.Image:
        """A PIL image decoded from the bytes (a copy; the bytes stay as received)."""
        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img

    def info(self) -> dict[str, Any]:
        """Provenance: prompt, model, parameters, usage, request id, time, backend."""
        return {
            "software": "dalle_kit",
            "request": self.request.describe(),
            "request_key": self.request.key,
            "index": self.index,
            "format": self.format,
            "size": self.size,
            "usage": self.usage,
            "revised_prompt": self.revised_prompt,
            "request_id": self.request_id,
            "created": self.created,
            "timings": self.timings,
            "backend": self.backend,
            "partial": self.partial,
            "cost": self.cost,
        }

    def save(self, path: str | os.PathLike[str] = ".") -> Path:
        """Write the original bytes with provenance (PNG chunk, else ``<file>.json``) and return the path.

        ``path`` may be a folder: the file is then named from the prompt.
        """
        target = Path(path)
        if target.is_dir() or str(path).endswith(os.sep):
            ext = "jpg" if self.format == "jpeg" else self.format
            name = f"{_slug(self.prompt or self.model)}-{self.request.key[:8]}-{self.index}.{ext}"
            target = target / name
        return write_with_metadata(target, self.data, self.info())

    def caption(self) -> str:
        parts = [self.model, f"{self.size} {self.format}"]
        if "quality" in self.request.params:
            parts.append(self.request.params["quality"])
        if self.usage and "total_tokens" in self.usage:
            parts.append(f"{self.usage['total_tokens']:,} tokens")
        if "total" in self.timings:
            parts.append(f"{self.timings['total']:.1f} s")
        if self.cost is not None:
            parts.append(usd(self.cost))
        if self.partial is not None:
            parts.append(f"preview {self.partial + 1}")
        if self.backend != "openai":
            parts.append(self.backend)
        if self.source == "store":
            parts.append("from the store")
        elif self.source == "replay":
            parts.append("replayed")
        return " · ".join(parts)

    @cached_property
    def _small(self) -> Image.Image:
        """The first frame, shrunk to fit ``THUMBNAIL_PX`` (made once; the engine makes it in a worker thread)."""
        img = self.pil.copy()
        img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        return img

    def thumbnail(self) -> tuple[builtins.bytes, str]:
        """A small copy for display (WebP when the image has alpha, else JPEG: a few kB) and its MIME type. It is
        the one picture a notebook keeps of the image (the full bytes stay on disk); encoded once."""
        return self._thumbnail

    @cached_property
    def _thumbnail(self) -> tuple[builtins.bytes, str]:
        from .display import encode_thumbnail

        return encode_thumbnail(self._small, THUMBNAIL_PX)

    def _img_tag(self) -> str:
        if self.format == "svg":
            src = "data:image/svg+xml;base64," + self.b64
        else:
            data, mime = self.thumbnail()
            src = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        alt = html.escape(self.prompt or "", quote=True)
        return (f'<img src="{src}" alt="{alt}" style="display:block;max-width:100%;max-height:{THUMBNAIL_PX}px;'
                'height:auto">')

    def _repr_html_(self) -> str:
        """One thumbnail and its caption (the only picture of it the notebook keeps; no PNG twin)."""
        title = html.escape(str(self.stored_at or ""), quote=True)
        return (f'<figure style="margin:0;display:inline-block;max-width:{THUMBNAIL_PX}px;vertical-align:top">'
                f"{self._img_tag()}"
                f'<figcaption title="{title}" style="font:12px sans-serif;color:#555">'
                f"{html.escape(self.caption())}</figcaption></figure>")

    def __repr__(self) -> str:
        where = f", stored_at={str(self.stored_at)!r}" if self.stored_at else ""
        return f"ImageResult({self.caption()!r}{where})"


class ImageSet(Sequence[ImageResult]):
    """Several images (one request with ``n > 1``, or results put side by side): they show as a row.

    ``labels`` (one per image) are shown above the thumbnails, e.g. the preset or style each one used.
    """

    def __init__(self, results: Sequence[ImageResult], labels: Sequence[str] | None = None) -> None:
        self._results = tuple(results)
        if labels is not None and len(labels) != len(self._results):
            raise InvalidArgument(f"{len(labels)} labels for {len(self._results)} images")
        self.labels = tuple(labels) if labels is not None else None

    @overload
    def __getitem__(self, index: int) -> ImageResult: ...
    @overload
    def __getitem__(self, index: slice) -> ImageSet: ...
    def __getitem__(self, index: int | slice) -> ImageResult | ImageSet:
        if isinstance(index, slice):
            return ImageSet(self._results[index], self.labels[index] if self.labels else None)
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[ImageResult]:
        return iter(self._results)

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._results[0].usage if self._results else None

    def save(self, folder: str | os.PathLike[str] = ".") -> list[Path]:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return [r.save(folder) for r in self._results]

    def _repr_html_(self) -> str:
        labels = self.labels or ("",) * len(self._results)
        cells = []
        for label, result in zip(labels, self._results):
            head = f"<div style='font:bold 13px sans-serif'>{html.escape(label)}</div>" if label else ""
            cells.append(f"<div style='flex:0 1 {THUMBNAIL_PX}px;min-width:0'>{head}{result._repr_html_()}</div>")
        # one row, never 2 + 2: a narrow window shrinks the thumbnails instead of wrapping them
        return ('<div style="display:flex;flex-wrap:nowrap;gap:6px;align-items:flex-start">' + "".join(cells)
                + "</div>")

    def __repr__(self) -> str:
        return f"ImageSet({len(self)} images: {self._results[0].caption() if self._results else ''!r})"
