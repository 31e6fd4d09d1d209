"""Light notebook display: thumbnails in one row (``show``) and dalle_kit's one-line notices (``notice``).

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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["THUMB_PX", "encode_thumbnail", "in_notebook", "notice", "row_html", "show"]

THUMB_PX = 320
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
        data, mime = image.thumbnail() if px == THUMBNAIL_PX else encode_thumbnail(image.pil, px)
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
