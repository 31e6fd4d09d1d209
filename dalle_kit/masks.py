"""Masks for image edits: pure functions in the style of ``PIL.ImageOps`` (image in, new image out).

The Images API edits a picture where the mask's **alpha is 0** and keeps it where alpha is 255; it does not
read black and white. Every mask made here is an RGBA image of the picture's exact size: black, opaque where
the picture is kept, fully transparent where it is edited.

Shapes take the picture (or its ``(width, height)``), add to an optional ``base`` mask, or cut out of it with
``erase=True``. Coordinates are image pixels with (0, 0) at the top-left corner of the top-left pixel (as on
an HTML canvas); boxes are ``(left, top, right, bottom)`` with right and bottom excluded, as in ``Image.crop``.

Pictures and masks may be given as ``Kit.edit`` takes them (path, bytes, file object, PIL image, ``ImageResult``)
and are read upright, as the API reads them. Sizes are capped as input images are (89,478,485 pixels, 65,535 a
side); a bad argument is an ``InvalidArgument`` that names it (see ``dalle_kit.mask_args``).

>>> from dalle_kit import masks
>>> m = masks.ellipse(photo, (300, 200, 700, 500))          # edit inside this ellipse
>>> m = masks.brush(photo, [(90, 80), (140, 95)], 24, base=m)
>>> masks.overlay(photo, masks.feather(masks.grow(m, 8), 6))  # a tinted preview
>>> image, mask = masks.prepare(photo, m, "gpt-image-2.5-flare")  # ready for Kit.edit
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from . import registry
from .errors import InvalidArgument, InvalidRequest
from .image_io import open_image, short, turned_upright
from .inputs import SWAPS_SIDES, TRANSPOSE, check_images, check_mask, exif_orientation, same_aspect, to_upload
from .mask_args import ImageLike, SizeLike, box_of, color_of, flag, image_of, number, points_of, size_of
from .mask_geometry import Box, Point, ellipse_region, grown, polygon_region, rectangles, shrunk, stroke
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

TINT = (255, 40, 120)
_EDITED = [255] + [0] * 255  # a point() table: 255 where alpha is 0


# -- building blocks ------------------------------------------------------------------------------------


def _alpha(mask: Any, param: str = "mask") -> Image.Image:
    """The alpha channel ("L") of a mask given in any form; a mask without one is refused (see ``from_bw``)."""
    img = image_of(mask, param)
    if img.mode == "RGBA":
        return img.getchannel("A")
    if img.mode in ("LA", "PA") or "transparency" in img.info:
        return img.convert("RGBA").getchannel("A")
    raise InvalidArgument(
        f"{param}: has no alpha channel (mode {img.mode}); the API edits where alpha is 0 and does not read "
        "black and white. Convert it with dalle_kit.masks.from_bw(img, edit='white') (or edit='black')")


def from_area(area: ImageLike) -> Image.Image:
    """The mask of an "edit area" image ("L" or "1": 255 = edit, 0 = keep, in between = partly kept)."""
    img = image_of(area, "area")
    mask = Image.new("RGBA", img.size, (0, 0, 0, 255))
    mask.putalpha(ImageOps.invert(img.convert("L")))
    return mask


def edit_area(mask: ImageLike) -> Image.Image:
    """The pixels the API edits (alpha exactly 0) as an "L" image: 255 there, 0 elsewhere."""
    return _alpha(mask).point(_EDITED)


def blank(size: SizeLike) -> Image.Image:
    """A mask that keeps everything (opaque); draw on it with the shape functions."""
    return Image.new("RGBA", size_of(size), (0, 0, 0, 255))


def _apply(size: tuple[int, int], base: ImageLike | None, erase: bool, region: Image.Image) -> Image.Image:
    """``base`` (or a blank mask) with ``region`` ("L", 255 = in the shape) added to the edit area, or erased."""
    alpha = _alpha(base, "base") if base is not None else Image.new("L", size, 255)
    if alpha.size != size:
        raise InvalidArgument(f"base: the base mask is {alpha.width}x{alpha.height}, the shape is for "
                              f"{size[0]}x{size[1]}; draw on a mask of the picture's size")
    alpha = ImageChops.lighter(alpha, region) if erase else ImageChops.darker(alpha, ImageOps.invert(region))
    return from_area(ImageOps.invert(alpha))


# -- shapes -----------------------------------------------------------------------------------------------


def rectangle(size: SizeLike, box: Box, *, base: ImageLike | None = None, erase: bool = False) -> Image.Image:
    """Edit inside ``box`` (edges rounded to whole pixels)."""
    box, erase = box_of(box), flag(erase, "erase")
    size = size_of(size)
    return _apply(size, base, erase, rectangles(size, [box]))


def ellipse(size: SizeLike, box: Box, *, base: ImageLike | None = None, erase: bool = False) -> Image.Image:
    """Edit inside the ellipse inscribed in ``box`` (the pixels whose centre is inside it)."""
    box, erase = box_of(box), flag(erase, "erase")
    size = size_of(size)
    return _apply(size, base, erase, ellipse_region(size, box))


def polygon(size: SizeLike, points: Sequence[Point], *, base: ImageLike | None = None,
            erase: bool = False) -> Image.Image:
    """Edit inside the polygon through ``points`` (at least three)."""
    pts, erase = points_of(points, least=3), flag(erase, "erase")
    size = size_of(size)
    return _apply(size, base, erase, polygon_region(size, pts))


def brush(size: SizeLike, points: Sequence[Point], width: float, *, base: ImageLike | None = None,
          erase: bool = False) -> Image.Image:
    """A brush stroke through ``points``, ``width`` pixels wide, with round ends and joins.

    One point is a dot. ``erase=True`` is the eraser: the stroke is taken out of the edit area.
    """
    width = number(width, "width", above=0, high=4e6)
    pts, erase = points_of(points), flag(erase, "erase")
    size = size_of(size)
    return _apply(size, base, erase, stroke(size, pts, width / 2))


def boxes(size: SizeLike, boxes: Iterable[Box], *, pad: float = 0, base: ImageLike | None = None
          ) -> Image.Image:
    """Edit inside bounding boxes (e.g. a detector's ``(left, top, right, bottom)``), each grown by ``pad``."""
    pad = number(pad, "pad", low=-1e6, high=1e6)
    if isinstance(boxes, (str, bytes)) or not isinstance(boxes, Iterable):
        raise InvalidArgument(f"boxes: must be a list of (left, top, right, bottom), got {type(boxes).__name__}")
    found = [box_of(box, f"boxes[{i}]") for i, box in enumerate(boxes)]
    size = size_of(size)
    padded = [(x0 - pad, y0 - pad, x1 + pad, y1 + pad) for x0, y0, x1, y1 in found]
    if not padded:
        return blank(size) if base is None else _apply(size, base, False, Image.new("L", size, 0))
    return _apply(size, base, False, rectangles(size, padded))


def from_bw(img: ImageLike, *, edit: Literal["white", "black"], threshold: float = 128) -> Image.Image:
    """The mask of a black-and-white picture, saying which colour marks the area to edit.

    Many tutorials paint "white = regenerate"; the API reads only alpha. ``edit`` has no default on purpose:
    ``from_bw(img, edit="white")`` edits where the picture is light (grey at least ``threshold``, 0-256).
    """
    if not isinstance(edit, str) or edit not in ("white", "black"):
        raise InvalidArgument(f"edit: must be 'white' or 'black', got {short(edit)}")
    threshold = number(threshold, "threshold", low=0, high=256)
    table = [255 if v >= threshold else 0 for v in range(256)]
    light = image_of(img, "img").convert("L").point(table)
    return from_area(light if edit == "white" else ImageOps.invert(light))


# -- operations --------------------------------------------------------------------------------------------


def invert(mask: ImageLike) -> Image.Image:
    """Edit what was kept and keep what was edited."""
    return from_area(_alpha(mask))


def _edit_pixels(mask: ImageLike) -> np.ndarray | None:
    """Where the API edits, as booleans; None when that is nothing or everything (grow and shrink keep it)."""
    edit = np.asarray(edit_area(mask)) > 0
    return None if not edit.any() or edit.all() else edit


def grow(mask: ImageLike, pixels: float) -> Image.Image:
    """The edit area widened by ``pixels`` in every direction (round corners; a hard edge: feather last)."""
    pixels = number(pixels, "pixels")
    if pixels < 0:
        return shrink(mask, -pixels)
    edit = _edit_pixels(mask)
    if edit is None:
        return from_area(edit_area(mask))
    return from_area(grown(edit, pixels))


def shrink(mask: ImageLike, pixels: float) -> Image.Image:
    """The edit area narrowed by ``pixels`` (the picture's own border does not count as kept)."""
    pixels = number(pixels, "pixels")
    if pixels < 0:
        return grow(mask, -pixels)
    edit = _edit_pixels(mask)
    if edit is None:
        return from_area(edit_area(mask))
    return from_area(shrunk(edit, pixels))


def feather(mask: ImageLike, radius: float) -> Image.Image:
    """A soft edge ``radius`` pixels wide around the edit area, which itself stays fully transparent.

    The API edits only alpha-0 pixels, so feathering does not widen the edit; it softens the seam of a
    preview and of ``composite`` (pasting an edit back onto the original).
    """
    radius = number(radius, "radius", low=0)
    alpha = _alpha(mask)
    if radius == 0:
        return from_area(ImageOps.invert(alpha))
    soft = alpha.filter(ImageFilter.GaussianBlur(min(radius, max(alpha.size))))  # wider changes nothing
    return from_area(ImageOps.invert(ImageChops.darker(alpha, soft)))


def coverage(mask: ImageLike) -> float:
    """The fraction of pixels the API would edit (alpha exactly 0)."""
    alpha = _alpha(mask)
    return alpha.histogram()[0] / (alpha.width * alpha.height)


def overlay(image: ImageLike, mask: ImageLike, *, color: tuple[int, int, int] | str = TINT,
            opacity: float = 0.5, outline: bool = True) -> Image.Image:
    """A preview: ``image`` with the area to be edited tinted with ``color`` (and outlined)."""
    rgb, opacity = color_of(color), number(opacity, "opacity", low=0, high=1)
    outline = flag(outline, "outline")
    picture, alpha = image_of(image, "image"), _alpha(mask)
    if picture.size != alpha.size:
        raise InvalidArgument(f"mask: is {alpha.width}x{alpha.height} but the image is "
                              f"{picture.width}x{picture.height}; resize the mask or use masks.prepare")
    area = ImageOps.invert(alpha)
    tint = area.point([round(a * opacity) for a in range(256)])
    if outline:
        edge = alpha.point(_EDITED).filter(ImageFilter.FIND_EDGES).point([0] + [255] * 255)
        tint = ImageChops.lighter(tint, edge)
    return Image.composite(Image.new("RGB", picture.size, rgb), picture.convert("RGB"), tint)


def _three(original: ImageLike, edited: ImageLike, mask: ImageLike) -> tuple[Image.Image, Image.Image, Image.Image]:
    """The two pictures and the mask's alpha, refused unless all three have one size."""
    before, after, alpha = image_of(original, "original"), image_of(edited, "edited"), _alpha(mask)
    if not before.size == after.size == alpha.size:
        raise InvalidArgument(f"edited: sizes differ: original {before.size}, edited {after.size}, mask "
                              f"{alpha.size}; ask for the edit at the original's size")
    return before, after, alpha


def composite(original: ImageLike, edited: ImageLike, mask: ImageLike) -> Image.Image:
    """``edited`` where the mask edits, ``original`` where it keeps (blended on a feathered edge).

    GPT image models treat the mask as guidance and may touch other pixels; this guarantees they do not.
    """
    before, after, alpha = _three(original, edited, mask)
    mode = "RGBA" if "A" in before.getbands() or "A" in after.getbands() else "RGB"
    return Image.composite(before.convert(mode), after.convert(mode), alpha)


def changed_outside(original: ImageLike, edited: ImageLike, mask: ImageLike) -> int:
    """How many pixels the edit changed where the mask keeps the picture (alpha above 0); 0 is a clean edit."""
    before, after, alpha = _three(original, edited, mask)
    kept = np.asarray(alpha) > 0
    changed = np.asarray(before.convert("RGBA")) != np.asarray(after.convert("RGBA"))
    return int((changed.any(axis=-1) & kept).sum())



# -- checks before sending ------------------------------------------------------------------------------


def _spec(model: str) -> ModelSpec:
    if not isinstance(model, str):
        raise InvalidRequest(f"model={short(model)} must be a model id such as 'gpt-image-2.5-flare'",
                             param="model", value=short(model), allowed=registry.model_ids())
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

    ``image`` and ``mask`` may be anything ``Kit.edit`` takes: paths, PIL images, bytes, file objects,
    ``ImageResult``s.
    """
    spec = _spec(model)
    first = to_upload(image, "image")
    check_images((first,), spec, "edit")
    check_mask(to_upload(mask, "mask"), first, spec)


def _open(obj: Any, param: str) -> Image.Image:
    """A picture given in any form, as stored (EXIF orientation not applied), or ``InvalidRequest``."""
    return open_image(obj, param, upright=False)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def _lowest(channel: Image.Image) -> int:
    """The smallest value of a one-band image."""
    low, _high = cast(tuple[int, int], channel.getextrema())
    return low


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
    if edit is not None and (not isinstance(edit, str) or edit not in ("white", "black")):
        raise InvalidArgument(f"edit: must be 'white', 'black' or None, got {short(edit)}")
    spec = _spec(model)
    stored = _open(image, "image")
    turn = exif_orientation(stored)
    img = turned_upright(stored)  # the tag is dropped from its EXIF and XMP
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    raw = turned_upright(_open(mask, "mask"))  # a mask's own tag counts too, as for the API
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
