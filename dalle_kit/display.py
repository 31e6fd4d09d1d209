"""Light notebook display: thumbnails in one row (``show``), streamed previews that replace each other in one place
(``show_stream`` / ``ashow_stream``) and dalle_kit's one-line notices (``notice``).

A notebook keeps a small copy of each picture it shows (a JPEG or WebP of a few kB, ``THUMB_PX`` pixels on the
long side); the full image stays where it is (the store, a file, or the PIL image the caller holds). ``show``
writes nothing anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import sys
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from .results import ImageResult, ImageSet

__all__ = ["THUMB_PX", "ashow_stream", "encode_thumbnail", "in_notebook", "notice", "row_html", "show", "show_stream"]

THUMB_PX = 256  # = results.THUMBNAIL_PX: an ImageResult shows its one cached thumbnail
_QUALITY = 80
_SHOWN: set[str] = set()  # the kinds of notice this kernel has shown (``once=...``)


def in_notebook() -> bool:
    """True in a Jupyter kernel (a notebook, nbval, nbconvert); False in a terminal, a script or plain IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def notice(message: str, *, once: str | None = None) -> None:
    """Tell the user one thing in one calm line: grey text under the cell in a notebook, a plain line on stderr
    elsewhere (never a warning). ``once="offline"``: in a notebook, only the first notice of that kind in this
    kernel shows (a terminal gets it each time: a script or command makes one ``Kit``, tests many)."""
    if in_notebook():
        if once is not None:
            if once in _SHOWN:
                return
            _SHOWN.add(once)
        from IPython.display import display

        line = f'<div style="font:12px sans-serif;color:#777;margin:2px 0">{html.escape(message)}</div>'
        display({"text/html": line, "text/plain": message}, raw=True)
    else:
        print(message, file=sys.stderr)


def encode_thumbnail(img: Image.Image, px: int = THUMB_PX, quality: int = _QUALITY) -> tuple[bytes, str]:
    """A copy of ``img`` (first frame) fitting ``px`` × ``px``, as WebP when it has alpha, else JPEG, and its MIME
    type. ``img`` is not changed."""
    small = img.copy()
    small.thumbnail((px, px))
    buffer = io.BytesIO()
    if small.mode in ("RGBA", "LA", "P", "PA") and (small.mode != "P" or "transparency" in small.info):
        small.convert("RGBA").save(buffer, format="WEBP", quality=quality)
        return buffer.getvalue(), "image/webp"
    small.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue(), "image/jpeg"


def _flatten(images: Iterable[Any], titles: Sequence[str] | None) -> list[tuple[Any, str | None]]:
    from .results import ImageSet

    items: list[tuple[Any, str | None]] = []
    for image in images:
        if isinstance(image, ImageSet):
            labels = image.labels or (None,) * len(image)
            items.extend(zip(image, labels))
        elif isinstance(image, (list, tuple)):
            items.extend((part, None) for part in image)
        else:
            items.append((image, None))
    if titles is not None:
        if isinstance(titles, str) or len(titles) != len(items):
            from .errors import InvalidArgument

            raise InvalidArgument(f"titles: give one title per image ({len(items)}), got {titles!r}")
        items = [(image, str(title)) for (image, _), title in zip(items, titles)]
    return items


def _picture(image: Any, px: int) -> tuple[bytes, str, str]:
    """(thumbnail bytes, MIME type, default caption) of one thing to show."""
    from PIL import Image

    from .errors import InvalidArgument
    from .results import THUMBNAIL_PX, ImageResult

    if isinstance(image, ImageResult):
        if image.format == "svg":
            return image.data, "image/svg+xml", image.caption()
        # the image's own small copy (made once, often by the engine's workers); a larger one means decoding it all
        data, mime = image.thumbnail() if px == THUMBNAIL_PX else \
            encode_thumbnail(image._small if px < THUMBNAIL_PX else image.pil, px)
        return data, mime, image.caption()
    if isinstance(image, Image.Image):
        return (*encode_thumbnail(image, px), f"{image.width}×{image.height} {image.mode}")
    if isinstance(image, (bytes, bytearray, memoryview)):
        source: Any = io.BytesIO(bytes(image))
        name = f"{len(image):,} bytes"
    elif isinstance(image, (str, os.PathLike)):
        source = name = os.fspath(image)
        name = os.path.basename(name)
    else:
        raise InvalidArgument(f"show() takes PIL images, ImageResult, ImageSet, bytes or file paths, "
                              f"not {type(image).__name__}")
    try:
        with Image.open(source) as opened:
            opened.load()
            return (*encode_thumbnail(opened, px), f"{name} · {opened.width}×{opened.height}")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidArgument(f"show(): cannot read {name} as an image ({exc})") from exc


def row_html(*images: Any, width: int = THUMB_PX, titles: Sequence[str] | None = None) -> str:
    """The HTML ``show`` displays: one row of thumbnails (each at most ``width`` px), captioned; the row never
    wraps (narrow windows shrink the thumbnails instead)."""
    if isinstance(width, bool) or not isinstance(width, int) or not 16 <= width <= 2048:
        from .errors import InvalidArgument

        raise InvalidArgument(f"width is the thumbnails' long side in pixels, 16 to 2048 (e.g. 320), got {width!r}")
    cells = []
    for image, title in _flatten(images, titles):
        data, mime, caption = _picture(image, width)
        src = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        text = html.escape(caption if title is None else title)
        cells.append(f'<figure style="margin:0;flex:0 1 {width}px;min-width:0">'
                     f'<img src="{src}" alt="{text}" style="display:block;max-width:100%;height:auto">'
                     f'<figcaption style="font:12px sans-serif;color:#555">{text}</figcaption></figure>')
    return f'<div style="display:flex;flex-wrap:nowrap;gap:6px;align-items:flex-start">{"".join(cells)}</div>'


def show(*images: Any, width: int = THUMB_PX, titles: Sequence[str] | None = None) -> None:
    """Show pictures as small thumbnails in one row: PIL images (``masks.overlay(...)``), ``ImageResult``,
    ``ImageSet``, image bytes or file paths. The full pictures stay where they are; nothing is written.

    Args:
        width: the thumbnails' long side in pixels (they shrink to fit a narrow window, never wrap).
        titles: one caption per image, instead of the default (an image's caption, size or file name).
    """
    page = row_html(*images, width=width, titles=titles)
    if in_notebook():
        from IPython.display import display

        count = page.count("<figure")
        display({"text/html": page, "text/plain": f"<{count} thumbnail{'s' if count != 1 else ''}>"}, raw=True)
    else:
        for caption in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", page):
            print(html.unescape(caption))


class _StreamView:
    """One display area for a stream: the newest picture of each image (previews, then the final), one row."""

    def __init__(self, width: int, title: str | None) -> None:
        row_html(width=width)  # checks ``width`` before anything is shown or sent
        self.width, self.title = width, title
        self.latest: dict[int, ImageResult] = {}  # image index -> its newest preview or final
        self.finals: dict[int, ImageResult] = {}
        self.handle: Any = None
        if in_notebook():
            from IPython.display import display

            self.handle = display(self._bundle('<div style="font:12px sans-serif;color:#777">waiting for the first '
                                               "preview…</div>", "waiting for the first preview…"),
                                  raw=True, display_id=True)

    def _bundle(self, page: str, text: str) -> dict[str, str]:
        if self.title is not None:
            page = f'<div style="font:bold 13px sans-serif">{html.escape(self.title)}</div>{page}'
            text = f"{self.title}\n{text}"
        return {"text/html": page, "text/plain": text}

    def add(self, result: ImageResult) -> None:
        self.latest[result.index] = result
        if result.partial is None:
            self.finals[result.index] = result
        if self.handle is None:
            print(result.caption())
            return
        shown = [self.latest[i] for i in sorted(self.latest)]
        self.handle.update(self._bundle(row_html(*shown, width=self.width),
                                        "\n".join(r.caption() for r in shown)), raw=True)

    def failed(self, exc: BaseException) -> None:
        if self.handle is not None and not self.latest:
            line = f"no preview arrived ({type(exc).__name__})"
            self.handle.update(self._bundle(f'<div style="font:12px sans-serif;color:#777">{html.escape(line)}</div>',
                                            line), raw=True)

    def result(self) -> ImageResult | ImageSet:
        from .errors import ResponseError
        from .results import ImageSet

        finals = [self.finals[i] for i in sorted(self.finals)]
        if not finals:
            raise ResponseError("the stream ended without a final image (only previews arrived)")
        return finals[0] if len(finals) == 1 else ImageSet(finals)


def show_stream(events: Iterable[ImageResult], *, width: int = THUMB_PX,
                title: str | None = None) -> ImageResult | ImageSet:
    """Show a stream as it arrives, in one place: each preview replaces the one before, then the final image
    replaces the last preview. Returns the final image (an ``ImageSet`` when the request had ``n > 1``; their
    pictures share the row, one per image).

    ``events``: what ``kit.generate(..., stream=True, partial_images=...)`` or ``kit.edit(..., stream=True)``
    returns (a re-run answered from the store holds only the final image; an ``ImageResult`` or ``ImageSet`` from
    a call without ``stream=True`` shows as it is). In a notebook this is one output
    that updates (``display_id``), so the saved notebook keeps one thumbnail per image, not one per preview;
    elsewhere each caption is printed as it arrives.

    Args:
        width: the thumbnails' long side in pixels.
        title: a line above the thumbnails.
    """
    from .results import ImageResult

    view = _StreamView(width, title)
    if isinstance(events, ImageResult):  # a call without stream=True: its one image
        events = [events]
    try:
        for result in events:
            view.add(result)
    except BaseException as exc:
        view.failed(exc)
        raise
    return view.result()


async def ashow_stream(events: AsyncIterable[ImageResult], *, width: int = THUMB_PX,
                       title: str | None = None) -> ImageResult | ImageSet:
    """Async twin of ``show_stream``, for ``await kit.agenerate(..., stream=True)``."""
    view = _StreamView(width, title)
    try:
        async for result in events:
            view.add(result)
    except BaseException as exc:
        view.failed(exc)
        raise
    return view.result()
