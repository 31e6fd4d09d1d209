"""Masks for image edits: pure functions in the style of ``PIL.ImageOps`` (image in, new image out).

The Images API edits a picture where the mask's **alpha is 0** and keeps it where alpha is 255; it does not
read black and white. Every mask made here is an RGBA image of the picture's exact size: black, opaque where
the picture is kept, fully transparent where it is edited.

Shapes take the picture (or its ``(width, height)``), add to an optional ``base`` mask, or cut out of it with
``erase=True``. Coordinates are image pixels with (0, 0) at the top-left corner of the top-left pixel (as on
an HTML canvas); boxes are ``(left, top, right, bottom)`` with right and bottom excluded, as in ``Image.crop``.

>>> from dalle_kit import masks
>>> m = masks.ellipse(photo, (300, 200, 700, 500))          # edit inside this ellipse
>>> m = masks.brush(photo, [(90, 80), (140, 95)], 24, base=m)
>>> masks.overlay(photo, masks.feather(masks.grow(m, 8), 6))  # a tinted preview
>>> image, mask = masks.prepare(photo, m, "gpt-image-2.5-flare")  # ready for Kit.edit
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps
from scipy import ndimage

from . import registry
from .errors import InvalidArgument, InvalidRequest
from .inputs import SWAPS_SIDES, TRANSPOSE, check_images, check_mask, exif_orientation, same_aspect, to_upload
from .registry import ModelSpec

__all__ = [
    "blank",
    "boxes",
    "brush",
    "changed_outside",
    "check",
    "composite",
    "coverage",
    "edit_area",
    "ellipse",
    "feather",
    "from_area",
    "from_bw",
    "grow",
    "invert",
    "overlay",
    "polygon",
    "prepare",
    "rectangle",
    "shrink",
]

SizeLike = tuple[int, int] | Image.Image
Point = tuple[float, float]
Box = tuple[float, float, float, float]
TINT = (255, 40, 120)


# -- building blocks ------------------------------------------------------------------------------------


def _size(size: SizeLike) -> tuple[int, int]:
    width, height = size.size if isinstance(size, Image.Image) else size
    if int(width) < 1 or int(height) < 1:
        raise InvalidArgument(f"a mask needs a positive size, got {width}x{height}")
    return int(width), int(height)


def _lowest(channel: Image.Image) -> int:
    """The smallest value of a one-band image."""
    low, _high = cast(tuple[int, int], channel.getextrema())
    return low


def _alpha(mask: Image.Image) -> Image.Image:
    """The alpha channel of ``mask`` ("L"); a mask without one is refused (see ``from_bw``)."""
    if mask.mode == "RGBA":
        return mask.getchannel("A")
    if mask.mode in ("LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        return mask.convert("RGBA").getchannel("A")
    raise InvalidRequest(
        f"mask: has no alpha channel (mode {mask.mode}); the API edits where alpha is 0 and does not read "
        "black and white. Convert it with dalle_kit.masks.from_bw(img, edit='white') (or edit='black')",
        param="mask", value=mask.mode, allowed="RGBA or LA")


def from_area(area: Image.Image) -> Image.Image:
    """The mask of an "edit area" image ("L" or "1": 255 = edit, 0 = keep, in between = partly kept)."""
    alpha = ImageOps.invert(area.convert("L"))
    mask = Image.new("RGBA", area.size, (0, 0, 0, 255))
    mask.putalpha(alpha)
    return mask


def edit_area(mask: Image.Image) -> Image.Image:
    """The pixels the API edits (alpha exactly 0) as an "L" image: 255 there, 0 elsewhere."""
    return _alpha(mask).point(lambda a: 255 if a == 0 else 0)


def blank(size: SizeLike) -> Image.Image:
    """A mask that keeps everything (opaque); draw on it with the shape functions."""
    return Image.new("RGBA", _size(size), (0, 0, 0, 255))


def _apply(size: SizeLike, base: Image.Image | None, erase: bool, region: Image.Image) -> Image.Image:
    """``base`` (or a blank mask) with ``region`` ("L", 255 = in the shape) added to the edit area, or erased."""
    size = _size(size)
    if base is not None and base.size != size:
        raise InvalidArgument(f"base mask is {base.size[0]}x{base.size[1]}, the shape is for {size[0]}x{size[1]}")
    alpha = _alpha(base) if base is not None else Image.new("L", size, 255)
    alpha = ImageChops.lighter(alpha, region) if erase else ImageChops.darker(alpha, ImageOps.invert(region))
    return from_area(ImageOps.invert(alpha))


def _drawn(size: SizeLike, paint: Callable[[ImageDraw.ImageDraw], None]) -> Image.Image:
    region = Image.new("L", _size(size), 0)
    paint(ImageDraw.Draw(region))
    return region


def _px(value: float) -> int:
    """A box edge rounded to the nearest pixel boundary (halves round up, as JavaScript's Math.round)."""
    return math.floor(value + 0.5)


def _window(size: tuple[int, int], x0: float, y0: float, x1: float, y1: float
            ) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Rows, columns and pixel-centre coordinates (a row and a column) of the pixels in ``[x0, x1] x [y0, y1]``."""
    c0, c1 = max(0, math.floor(x0)), min(size[0], math.ceil(x1) + 1)
    r0, r1 = max(0, math.floor(y0)), min(size[1], math.ceil(y1) + 1)
    if c0 >= c1 or r0 >= r1:
        return None
    ys, xs = np.ogrid[r0:r1, c0:c1]  # a column and a row: expressions broadcast to the window
    return slice(r0, r1), slice(c0, c1), xs + 0.5, ys + 0.5


def _stroke(size: tuple[int, int], pts: list[tuple[float, float]], r: float) -> Image.Image:
    """Pixels whose centre lies within ``r`` of the polyline: a canvas stroke with round caps and joins.

    Pillow rounds sub-pixel coordinates (a 5 px stroke drawn with ImageDraw.line matched this geometry at IoU
    0.84), and the painter's strokes come from a browser canvas in fractional image pixels.
    """
    out = np.zeros((size[1], size[0]), dtype=bool)
    segments = list(itertools.pairwise(pts)) or [(pts[0], pts[0])]
    for (ax, ay), (bx, by) in segments:
        win = _window(size, min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r)
        if win is None:
            continue
        rows, cols, xs, ys = win
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0, 1) if length2 else 0.0
        out[rows, cols] |= (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2 <= r * r
    return Image.fromarray(out.astype(np.uint8) * 255)


# -- shapes -----------------------------------------------------------------------------------------------


def rectangle(size: SizeLike, box: Box, *, base: Image.Image | None = None, erase: bool = False) -> Image.Image:
    """Edit inside ``box`` (edges rounded to whole pixels)."""
    x0, x1 = sorted((_px(box[0]), _px(box[2])))
    y0, y1 = sorted((_px(box[1]), _px(box[3])))
    region = Image.new("L", _size(size), 0)
    if x1 > x0 and y1 > y0:
        region.paste(255, (x0, y0, x1, y1))
    return _apply(size, base, erase, region)


def ellipse(size: SizeLike, box: Box, *, base: Image.Image | None = None, erase: bool = False) -> Image.Image:
    """Edit inside the ellipse inscribed in ``box`` (the pixels whose centre is inside it)."""
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    out = np.zeros(_size(size)[::-1], dtype=bool)
    win = _window(_size(size), x0, y0, x1, y1)
    if win is not None and x1 > x0 and y1 > y0:
        rows, cols, xs, ys = win
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        out[rows, cols] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
    return _apply(size, base, erase, Image.fromarray(out.astype(np.uint8) * 255))


def polygon(size: SizeLike, points: Sequence[Point], *, base: Image.Image | None = None,
            erase: bool = False) -> Image.Image:
    """Edit inside the polygon through ``points`` (at least three)."""
    if len(points) < 3:
        raise InvalidArgument(f"a polygon needs at least 3 points, got {len(points)}")
    centred = [(float(x) - 0.5, float(y) - 0.5) for x, y in points]  # Pillow's integers are pixel centres
    return _apply(size, base, erase, _drawn(size, lambda draw: draw.polygon(centred, fill=255)))


def brush(size: SizeLike, points: Sequence[Point], width: float, *, base: Image.Image | None = None,
          erase: bool = False) -> Image.Image:
    """A brush stroke through ``points``, ``width`` pixels wide, with round ends and joins.

    One point is a dot. ``erase=True`` is the eraser: the stroke is taken out of the edit area.
    """
    if width <= 0:
        raise InvalidArgument(f"brush width must be positive, got {width}")
    pts = [(float(x), float(y)) for x, y in points]
    if not pts:
        raise InvalidArgument("a stroke needs at least one point")
    return _apply(size, base, erase, _stroke(_size(size), pts, width / 2))


def boxes(size: SizeLike, boxes: Iterable[Box], *, pad: float = 0, base: Image.Image | None = None
          ) -> Image.Image:
    """Edit inside bounding boxes (e.g. a detector's ``(left, top, right, bottom)``), each grown by ``pad``."""
    mask = base
    for x0, y0, x1, y1 in boxes:
        mask = rectangle(size, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), base=mask)
    return mask if mask is not None else blank(size)


def from_bw(img: Image.Image, *, edit: Literal["white", "black"], threshold: int = 128) -> Image.Image:
    """The mask of a black-and-white picture, saying which colour marks the area to edit.

    Many tutorials paint "white = regenerate"; the API reads only alpha. ``edit`` has no default on purpose:
    ``from_bw(img, edit="white")`` edits where the picture is light (grey at least ``threshold``).
    """
    if edit not in ("white", "black"):
        raise InvalidArgument(f"edit must be 'white' or 'black', got {edit!r}")
    light = img.convert("L").point(lambda v: 255 if v >= threshold else 0)
    return from_area(light if edit == "white" else ImageOps.invert(light))


# -- operations --------------------------------------------------------------------------------------------


def invert(mask: Image.Image) -> Image.Image:
    """Edit what was kept and keep what was edited."""
    return from_area(_alpha(mask))


def _distance(inside: np.ndarray) -> np.ndarray:
    """For each True pixel, the Euclidean distance to the nearest False pixel (0 on False pixels)."""
    return ndimage.distance_transform_edt(inside)


def grow(mask: Image.Image, pixels: float) -> Image.Image:
    """The edit area widened by ``pixels`` in every direction (round corners; a hard edge: feather last)."""
    if pixels < 0:
        return shrink(mask, -pixels)
    edit = np.asarray(edit_area(mask)) > 0
    if not edit.any() or edit.all():
        return from_area(edit_area(mask))
    return from_area(Image.fromarray(((_distance(~edit) <= pixels) * 255).astype(np.uint8)))


def shrink(mask: Image.Image, pixels: float) -> Image.Image:
    """The edit area narrowed by ``pixels`` (the picture's own border does not count as kept)."""
    if pixels < 0:
        return grow(mask, -pixels)
    edit = np.asarray(edit_area(mask)) > 0
    if not edit.any() or edit.all():
        return from_area(edit_area(mask))
    return from_area(Image.fromarray(((_distance(edit) > pixels) * 255).astype(np.uint8)))


def feather(mask: Image.Image, radius: float) -> Image.Image:
    """A soft edge ``radius`` pixels wide around the edit area, which itself stays fully transparent.

    The API edits only alpha-0 pixels, so feathering does not widen the edit; it softens the seam of a
    preview and of ``composite`` (pasting an edit back onto the original).
    """
    alpha = _alpha(mask)
    if radius <= 0:
        return from_area(ImageOps.invert(alpha))
    soft = alpha.filter(ImageFilter.GaussianBlur(radius))
    return from_area(ImageOps.invert(ImageChops.darker(alpha, soft)))


def coverage(mask: Image.Image) -> float:
    """The fraction of pixels the API would edit (alpha exactly 0)."""
    alpha = _alpha(mask)
    return alpha.histogram()[0] / (alpha.width * alpha.height)


def overlay(image: Image.Image, mask: Image.Image, *, color: tuple[int, int, int] = TINT,
            opacity: float = 0.5, outline: bool = True) -> Image.Image:
    """A preview: ``image`` with the area to be edited tinted with ``color`` (and outlined)."""
    if image.size != mask.size:
        raise InvalidArgument(f"mask is {mask.size[0]}x{mask.size[1]} but the image is "
                              f"{image.size[0]}x{image.size[1]}; resize the mask or use masks.prepare")
    area = ImageOps.invert(_alpha(mask))
    tint = area.point(lambda a: round(a * opacity))
    if outline:
        edge = edit_area(mask).filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v else 0)
        tint = ImageChops.lighter(tint, edge)
    return Image.composite(Image.new("RGB", image.size, color), image.convert("RGB"), tint)


def composite(original: Image.Image, edited: Image.Image, mask: Image.Image) -> Image.Image:
    """``edited`` where the mask edits, ``original`` where it keeps (blended on a feathered edge).

    GPT image models treat the mask as guidance and may touch other pixels; this guarantees they do not.
    """
    if not original.size == edited.size == mask.size:
        raise InvalidArgument(f"sizes differ: original {original.size}, edited {edited.size}, mask {mask.size}; "
                         "ask for the edit at the original's size")
    mode = "RGBA" if "A" in original.getbands() or "A" in edited.getbands() else "RGB"
    return Image.composite(original.convert(mode), edited.convert(mode), _alpha(mask))


def changed_outside(original: Image.Image, edited: Image.Image, mask: Image.Image) -> int:
    """How many pixels the edit changed where the mask keeps the picture (alpha above 0); 0 is a clean edit."""
    if not original.size == edited.size == mask.size:
        raise InvalidArgument(f"sizes differ: original {original.size}, edited {edited.size}, mask {mask.size}")
    before = np.asarray(original.convert("RGBA"), dtype=np.int16)
    after = np.asarray(edited.convert("RGBA"), dtype=np.int16)
    kept = np.asarray(_alpha(mask)) > 0
    return int(((before != after).any(axis=-1) & kept).sum())


# -- checks before sending ------------------------------------------------------------------------------


def _spec(model: str) -> ModelSpec:
    spec = registry.get(model)
    if spec is None:
        raise InvalidRequest(f"model={model!r} is not a known image model; see dalle_kit.models()",
                             param="model", value=model, allowed=registry.model_ids())
    if not spec.mask:
        masked = [s.id for s in registry.all_specs() if s.mask and s.status() != "retired"]
        raise InvalidRequest(f"model={model!r} takes no mask; use one that does, e.g. {masked[0]!r}",
                             param="mask", value=model, allowed=tuple(masked))
    return spec


def check(image: Any, mask: Any, model: str) -> None:
    """Raise ``InvalidRequest`` (with how to fix it) unless ``Kit.edit(image, ..., mask=mask)`` would pass.

    ``image`` and ``mask`` may be anything ``Kit.edit`` takes: paths, PIL images, bytes, file objects.
    """
    spec = _spec(model)
    first = to_upload(image, "image")
    check_images((first,), spec, "edit")
    check_mask(to_upload(mask, "mask"), first, spec)


def _open(obj: Any, param: str) -> Image.Image:
    if isinstance(obj, Image.Image):
        return obj
    with Image.open(io.BytesIO(to_upload(obj, param).data)) as img:
        img.load()
        return img.copy()


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def prepare(image: Any, mask: Any, model: str, *, edit: Literal["white", "black"] | None = None
            ) -> tuple[Image.Image, Image.Image]:
    """``(image, mask)`` fixed so that ``Kit.edit`` accepts them, or ``InvalidRequest`` saying what to do.

    Fixes: the photo's EXIF orientation (the image comes back upright and untagged, as the API sees it; a mask
    drawn on the photo as stored, before a quarter-turn orientation, is turned with it); image modes PNG cannot
    hold; a mask without alpha, or an opaque one, when ``edit`` says which colour marks the edit; a mask
    painted on a scaled copy (same aspect); colour data in the mask (dropped: only alpha counts); a square
    crop (centre) and the largest accepted size for models that take only square images. Refused: unknown
    models or models without masks, a black-and-white mask without ``edit``, a mask of another shape, and
    anything ``check`` still refuses.
    """
    spec = _spec(model)
    stored = _open(image, "image")
    turn = exif_orientation(stored)
    img = ImageOps.exif_transpose(stored)  # upright; the tag is dropped from its EXIF and XMP
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    raw = ImageOps.exif_transpose(_open(mask, "mask"))  # a mask's own tag counts too, as for the API
    if not _has_alpha(raw) or (_lowest(_alpha(raw)) > 0 and edit is not None):
        if edit is None:
            raise InvalidRequest(
                f"mask: has no alpha channel (mode {raw.mode}); the API edits where alpha is 0. Say which colour "
                "marks the area to edit: masks.prepare(image, mask, model, edit='white') or edit='black'",
                param="mask", value=raw.mode, allowed="RGBA, or edit='white'/'black'")
        raw = from_bw(raw, edit=edit)
    m = from_area(ImageOps.invert(_alpha(raw)))  # black, only alpha kept
    if _lowest(_alpha(m)) > 0:
        raise InvalidRequest(
            "mask: no pixel is fully transparent, so nothing would be edited. If black or white marks the area "
            "in it, say which: masks.prepare(image, mask, model, edit='white'); else draw one with dalle_kit.masks",
            param="mask", value="opaque", allowed="alpha 0 where to edit")
    if turn in SWAPS_SIDES and same_aspect(m.size, stored.size) and not same_aspect(m.size, img.size):
        m = m.transpose(TRANSPOSE[turn])  # drawn on the photo as stored: turn it with the photo
    if m.size != img.size:
        if not same_aspect(m.size, img.size):
            raise InvalidRequest(
                f"mask: {m.width}x{m.height} is not the shape of the image ({img.width}x{img.height}); paint it on "
                "this image (e.g. with dalle_kit.widgets.MaskPainter) or crop both the same way",
                param="mask", value=m.size, allowed=img.size)
        m = m.resize(img.size, Image.Resampling.NEAREST)
    if spec.sizes.square_only and img.width != img.height:
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        box = (left, top, left + side, top + side)
        img, m = img.crop(box), m.crop(box)
    if spec.sizes.square_only:
        largest = max(w for w, _ in filter(None, map(registry.parse_size, spec.sizes.fixed)))
        if img.width > largest:
            img = img.resize((largest, largest), Image.Resampling.LANCZOS)
            m = m.resize((largest, largest), Image.Resampling.NEAREST)
    check(img, m, model)
    return img, m
