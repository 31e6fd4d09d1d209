"""``MaskPainter``: paint the area to edit over a picture in the notebook; ``.mask`` is ready for ``Kit.edit``.

The brush runs in the browser (``painter.js``); after each stroke only the finished edit area comes back, as a
PNG. Every control has a Python twin built on :mod:`dalle_kit.masks` (``add_stroke``, ``add_rect``,
``add_ellipse``, ``add_polygon``, ``undo``, ``clear``, ``invert``, ``set_mask``), so Run All, tests and Voilà
can draw without a browser. The picture is shown scaled; strokes are mapped to image pixels, and brush sizes
are in image pixels. An error, from a twin, a trait or the browser, shows under the picture (``error``) and
stays in ``last_error``; twins and trait assignments raise it as well, browser actions never do.
"""

from __future__ import annotations

import base64
import io
import pathlib
from collections.abc import Sequence
from typing import Any, cast

import anywidget
import traitlets as t
from PIL import Image, ImageColor, ImageOps

from .. import masks
from ..errors import InvalidArgument
from ..image_io import turned_upright
from ..masks import Box, Point
from .base import EXPECTED_ERRORS, WidgetBase, reported

__all__ = ["MaskPainter"]

TOOLS = ("brush", "eraser", "rect", "ellipse")


def _data_url(img: Image.Image, fmt: str = "PNG", **options: Any) -> str:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _decode(url: str) -> Image.Image:
    data = base64.b64decode(url.partition(",")[2])
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGBA")


def _picture(image: Any) -> Image.Image:
    """A path, bytes, file object, PIL image or ``ImageResult`` as an upright RGB(A) PIL image."""
    img = getattr(image, "pil", image)
    img = turned_upright(masks._open(img, "image"))
    return img if img.mode in ("RGB", "RGBA") else img.convert("RGBA" if "A" in img.getbands() else "RGB")


class MaskPainter(WidgetBase, anywidget.AnyWidget):
    """Paint where to edit; ``painter.mask`` is an RGBA mask of the picture's exact size (alpha 0 = edit).

    Args:
        image: the picture (path, bytes, PIL image or ``ImageResult``); EXIF orientation is applied.
        brush_size: brush diameter in image pixels (default: 1/20 of the shorter side).
        display_width: shown width in screen pixels (never wider than the cell).
        history: how many steps ``undo`` can go back.
    """

    expected_errors = (*EXPECTED_ERRORS, ValueError, t.TraitError)  # masks' and the traits' fix-it messages
    _esm = pathlib.Path(__file__).with_name("painter.js")
    _css = pathlib.Path(__file__).with_name("painter.css")

    image_url = t.Unicode("").tag(sync=True)
    width = t.Int(0).tag(sync=True)
    height = t.Int(0).tag(sync=True)
    area_url = t.Unicode("").tag(sync=True)
    tool = t.Unicode("brush").tag(sync=True)  # one of TOOLS, checked by _check
    brush_size = t.Int(40).tag(sync=True)
    display_width = t.Int(640).tag(sync=True)
    color = t.Unicode("#ff2878").tag(sync=True)
    opacity = t.Float(0.5).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    can_undo = t.Bool(False).tag(sync=True)
    revision = t.Int(0).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, image: Any, *, brush_size: int | None = None, display_width: int = 640,
                 history: int = 50, **kwargs: Any) -> None:
        picture = _picture(image)
        shown = picture.copy()
        shown.thumbnail((1600, 1600))
        has_alpha = "A" in shown.getbands()
        url = _data_url(shown) if has_alpha else _data_url(shown.convert("RGB"), "JPEG", quality=88)
        size = brush_size or max(4, min(picture.size) // 20)
        super().__init__(image_url=url, width=picture.width, height=picture.height, brush_size=size,
                         display_width=display_width, **kwargs)
        self._image = picture
        self._alpha = Image.new("L", picture.size, 255)
        self._undo: list[Image.Image] = []
        self._history = history
        self._sent = ""
        self.observe(self.handler(self._from_browser), names="area_url")
        self.on_msg(self.handler(self._on_message))
        self._show()

    # -- what you get -------------------------------------------------------------------------------------

    @property
    def image(self) -> Image.Image:
        """The picture (upright, full size)."""
        return self._image.copy()

    @property
    def size(self) -> tuple[int, int]:
        return self._image.size

    @property
    def mask(self) -> Image.Image:
        """The mask for ``Kit.edit``: RGBA, the picture's size, alpha 0 where painted."""
        mask = masks.blank(self.size)
        mask.putalpha(self._alpha)
        return mask

    @property
    def empty(self) -> bool:
        """True while nothing is painted."""
        return cast(tuple[int, int], self._alpha.getextrema())[0] > 0

    def preview(self, max_side: int = 768) -> Image.Image:
        """A static picture of the painted area over the image (it stays in a saved notebook)."""
        img = masks.overlay(self._image, self.mask, color=ImageColor.getrgb(self.color)[:3], opacity=self.opacity)
        img.thumbnail((max_side, max_side))
        return img

    # -- Python twins of the controls ------------------------------------------------------------------------

    @reported
    def add_stroke(self, points: Sequence[Point], size: float | None = None, *, erase: bool = False) -> None:
        """A brush stroke through ``points`` (image pixels), ``size`` pixels wide; ``erase=True`` is the eraser."""
        self._push(masks.brush(self.size, points, size or self.brush_size, base=self.mask, erase=erase))

    @reported
    def add_rect(self, box: Box, *, erase: bool = False) -> None:
        """The rectangle tool: ``box`` is ``(left, top, right, bottom)`` in image pixels."""
        self._push(masks.rectangle(self.size, box, base=self.mask, erase=erase))

    @reported
    def add_ellipse(self, box: Box, *, erase: bool = False) -> None:
        """The ellipse tool: the ellipse inscribed in ``box``."""
        self._push(masks.ellipse(self.size, box, base=self.mask, erase=erase))

    @reported
    def add_polygon(self, points: Sequence[Point], *, erase: bool = False) -> None:
        """A filled polygon (no button: for code and for masks from outlines)."""
        self._push(masks.polygon(self.size, points, base=self.mask, erase=erase))

    @reported
    def set_mask(self, mask: Image.Image) -> None:
        """Replace the painted area with ``mask`` (RGBA, the picture's size), e.g. one from ``dalle_kit.masks``."""
        if mask.size != self.size:
            raise InvalidArgument(f"mask is {mask.size[0]}x{mask.size[1]}, the picture {self.size[0]}x{self.size[1]}; "
                             "use dalle_kit.masks.prepare to fit it")
        if "A" not in mask.getbands():
            raise InvalidArgument(f"mask has no alpha (mode {mask.mode}); convert it with "
                             "dalle_kit.masks.from_bw(img, edit='white') or edit='black'")
        self._push(mask.convert("RGBA"))

    @reported
    def undo(self) -> None:
        """Go back one step (a stroke, a shape, clear or invert); does nothing at the start."""
        if self._undo:
            self._alpha = self._undo.pop()
            self._show()

    @reported
    def clear(self) -> None:
        """Nothing painted (undo brings it back)."""
        self._push(masks.blank(self.size))

    @reported
    def invert(self) -> None:
        """Edit everything except what is painted."""
        self._push(masks.invert(self.mask))

    # -- plumbing --------------------------------------------------------------------------------------------

    @t.validate("tool", "brush_size", "display_width", "opacity")
    def _check(self, proposal: dict[str, Any]) -> Any:
        """Refuse a bad control value with a fix-it message, shown in the painter as well as raised."""
        name, value = proposal["trait"].name, proposal["value"]
        problem = ""
        if name == "tool" and value not in TOOLS:
            problem = f"tool must be one of {', '.join(TOOLS)}, not {value!r}"
        elif name in ("brush_size", "display_width") and value < 1:
            unit = "image" if name == "brush_size" else "screen"
            problem = f"{name} is in {unit} pixels and must be at least 1, not {value}"
        elif name == "opacity" and not 0 <= value <= 1:
            problem = f"opacity must be between 0 and 1, not {value}"
        if problem:
            error = t.TraitError(problem)
            self.show_error(error)
            raise error
        return value

    def _push(self, mask: Image.Image) -> None:
        self._undo = (self._undo + [self._alpha])[-self._history:]
        self._alpha = mask.getchannel("A")
        self._show()

    def _show(self) -> None:
        """Send the painted area to the browser (alpha = edit area) and update the status line."""
        area = Image.new("LA", self.size, 255)
        area.putalpha(ImageOps.invert(self._alpha))
        self._sent = _data_url(area)
        share = masks.coverage(self.mask)
        self.set_trait("area_url", self._sent)
        self.can_undo = bool(self._undo)
        self.status = (f"{share:.1%} of {self.size[0]}x{self.size[1]} to edit" if share
                       else f"nothing painted yet ({self.size[0]}x{self.size[1]})")
        self.revision += 1

    def _from_browser(self, change: dict[str, Any]) -> None:
        """A finished stroke from the browser: its whole edit area, anti-aliased edges cut at half alpha."""
        if change["new"] == self._sent:
            return  # our own picture coming back
        area = _decode(change["new"]).getchannel("A")
        if area.size != self.size:
            area = area.resize(self.size, Image.Resampling.NEAREST)
        binary = area.point(lambda a: 255 if a >= 128 else 0)
        self._undo = (self._undo + [self._alpha])[-self._history:]
        self._alpha = ImageOps.invert(binary)
        self._sent = change["new"]
        self.can_undo = True
        share = masks.coverage(self.mask)
        self.status = f"{share:.1%} of {self.size[0]}x{self.size[1]} to edit"
        self.revision += 1

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        action = {"undo": self.undo, "clear": self.clear, "invert": self.invert}.get(content.get("event", ""))
        if action is not None:
            action()

    def __repr__(self) -> str:
        return f"MaskPainter({self.size[0]}x{self.size[1]}, {masks.coverage(self.mask):.1%} to edit)"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The live widget, plus a small static preview for viewers without a kernel (GitHub, nbviewer, exports).

        The widget itself needs none of it (the picture travels as ``image_url``); the preview is only the saved
        notebook's fallback, so it is the smaller of a palette PNG (flat, drawn pictures) and a JPEG (photos)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        mime, preview = _small_copy(self.preview(PREVIEW_PX).convert("RGB"))
        data[mime] = base64.b64encode(preview).decode()
        return data, metadata


PREVIEW_PX = 512


def _small_copy(img: Image.Image) -> tuple[str, bytes]:
    """``img`` as the smaller of a 256-colour PNG and a JPEG, with its MIME type."""
    png, jpeg = io.BytesIO(), io.BytesIO()
    img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(png, format="PNG",
                                                                                        optimize=True)
    img.save(jpeg, format="JPEG", quality=75)
    return min(("image/png", png.getvalue()), ("image/jpeg", jpeg.getvalue()), key=lambda pair: len(pair[1]))

