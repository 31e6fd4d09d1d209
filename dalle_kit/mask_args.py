"""The arguments of ``dalle_kit.masks``, checked: each bad one is an ``InvalidArgument`` that names it.

Pictures and masks may be anything ``Kit.edit`` takes (a path, bytes, a binary file object, a PIL image, an
``ImageResult``); they are read upright (their EXIF orientation applied, as the API does) with 8 bits a channel.
A size is ``(width, height)`` or such a picture. Sizes stop where input images do: ``MAX_PIXELS`` (89,478,485,
Pillow's default decompression-bomb limit) and ``MAX_SIDE`` (65,535) a side, so every image dalle_kit sends can
have a mask, and no mask call can ask for more than about 360 MB a layer. Coordinates are finite numbers within
``COORD_LIMIT`` pixels of the origin: far beyond any picture, near enough for exact float arithmetic.
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterable
from typing import IO, Any, cast

import numpy as np
from PIL import Image, ImageColor

from .errors import InvalidArgument, InvalidRequest
from .image_io import MAX_PIXELS, MAX_SIDE, exif_orientation, open_image, short
from .inputs import oriented_size
from .results import ImageResult

__all__ = ["COORD_LIMIT", "ImageLike", "SizeLike", "box_of", "color_of", "flag", "image_of", "number",
           "points_of", "size_of"]

COORD_LIMIT = 1_000_000.0
ImageLike = str | os.PathLike[str] | Image.Image | bytes | bytearray | memoryview | IO[bytes] | ImageResult
SizeLike = tuple[int, int] | ImageLike
_WXH = re.compile(r"\s*\d+\s*[x×]\s*\d+\s*")


def _fail(param: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{param}: {problem}")


def number(value: Any, param: str, *, low: float | None = None, high: float | None = None,
           above: float | None = None) -> float:
    """``value`` as a finite float within ``[low, high]`` (and over ``above``); bools and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        hint = f" (pass {value.strip()}, not {value!r})" if isinstance(value, str) and _is_number(value) else ""
        raise _fail(param, f"must be a number, got {short(value)}{hint}")
    try:
        result = float(value)
    except (OverflowError, ValueError):
        result = float("inf")
    if result != result or result in (float("inf"), float("-inf")):
        raise _fail(param, f"must be a finite number, got {short(value)}")
    if above is not None and result <= above:
        raise _fail(param, f"must be more than {above:g}, got {short(value)}")
    if (low is not None and result < low) or (high is not None and result > high):
        span = f"from {low:g} to {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise _fail(param, f"must be {span}, got {short(value)}")
    return result


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _coordinate(value: Any, param: str) -> float:
    return number(value, param, low=-COORD_LIMIT, high=COORD_LIMIT)


def _items(value: Any, param: str, what: str) -> list[Any]:
    """The items of a sequence or iterable (not a string, bytes, dict or image), else a refusal saying ``what``."""
    if isinstance(value, (str, bytes, bytearray, dict, Image.Image)) or not isinstance(value, Iterable):
        raise _fail(param, f"must be {what}, got {short(value)}")
    try:
        return list(value)
    except Exception as exc:  # an iterable that fails to iterate
        raise _fail(param, f"must be {what}; iterating it failed ({type(exc).__name__}: {exc})") from None


def _whole(value: Any, param: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _fail(param, f"must be a whole number of pixels, got {short(value)}")
    as_float = number(value, param)
    if not as_float.is_integer():
        raise _fail(param, f"must be a whole number of pixels, got {short(value)}")
    return int(as_float)


def _capped(width: int, height: int, param: str) -> tuple[int, int]:
    if width < 1 or height < 1:
        raise _fail(param, f"{width}x{height} has no pixels; a mask is at least 1x1")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise _fail(param, f"{width}x{height} is {width * height:,} pixels; masks are at most {MAX_PIXELS:,} pixels "
                    f"and {MAX_SIDE:,} a side, as input images are (the API works at up to 3840x2160)")
    return width, height


def image_of(obj: Any, param: str) -> Image.Image:
    """A picture or mask given in any form, decoded upright with 8 bits a channel (a PIL image: no copy)."""
    try:
        return open_image(obj, param)
    except InvalidRequest as exc:
        raise InvalidArgument(str(exc)) from None


def size_of(size: Any, param: str = "size") -> tuple[int, int]:
    """``(width, height)``, or the upright size of a picture (a PIL image's pixels are not read)."""
    if isinstance(size, Image.Image):
        width, height = oriented_size(size.size, exif_orientation(size))
        return _capped(width, height, param)
    pair = isinstance(size, (tuple, list, np.ndarray)) and len(size) == 2 and \
        not isinstance(size[0], str) and not isinstance(size[1], (bytes, bytearray, Image.Image))
    if pair:
        return _capped(_whole(size[0], f"{param}[0]"), _whole(size[1], f"{param}[1]"), param)
    if isinstance(size, str) and _WXH.fullmatch(size) and not os.path.exists(size):
        raise _fail(param, f"{size!r} is not a file; for a size, pass a tuple such as (1024, 1536)")
    if isinstance(size, (tuple, list)) and not (len(size) in (2, 3) and isinstance(size[0], str)):
        raise _fail(param, f"must be (width, height) or a picture, got {short(size)}")
    return image_of(size, param).size


def box_of(box: Any, param: str = "box") -> tuple[float, float, float, float]:
    """``(left, top, right, bottom)``: four finite numbers."""
    values = _items(box, param, "4 numbers (left, top, right, bottom)")
    if len(values) != 4:
        raise _fail(param, f"must be 4 numbers (left, top, right, bottom), got {len(values)}: {short(box)}")
    left, top, right, bottom = (_coordinate(v, f"{param}[{i}]") for i, v in enumerate(values))
    return left, top, right, bottom


def points_of(points: Any, param: str = "points", *, least: int = 1) -> list[tuple[float, float]]:
    """A list of ``(x, y)`` pairs of finite numbers, at least ``least`` of them."""
    items = _items(points, param, "a list of (x, y) pairs")
    pts = []
    for i, item in enumerate(items):
        if isinstance(item, numbers.Real):
            raise _fail(param, f"must be a list of (x, y) pairs, got a flat list of numbers {short(points)}; "
                        "pair them: list(zip(xs, ys))")
        pair = _items(item, f"{param}[{i}]", "an (x, y) pair")
        if len(pair) != 2:
            raise _fail(f"{param}[{i}]", f"must be an (x, y) pair, got {short(item)}")
        pts.append((_coordinate(pair[0], f"{param}[{i}][0]"), _coordinate(pair[1], f"{param}[{i}][1]")))
    if len(pts) < least:
        raise _fail(param, f"needs at least {least} point{'s' if least > 1 else ''}, got {len(pts)}")
    return pts


def flag(value: Any, param: str) -> bool:
    """True or False (not a truthy string: ``erase="no"`` would erase)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(param, f"must be True or False, got {short(value)}")
    return bool(value)


def color_of(color: Any, param: str = "color") -> tuple[int, int, int]:
    """An RGB colour: ``(r, g, b)`` of whole numbers 0-255, or a name or ``#rrggbb`` that PIL knows."""
    if isinstance(color, str):
        try:
            return cast(tuple[int, int, int], tuple(ImageColor.getrgb(color)[:3]))
        except ValueError:
            raise _fail(param, f"{color!r} is not a colour PIL knows; pass (r, g, b) or e.g. '#ff2878'") from None
    values = _items(color, param, "(r, g, b) or a colour name")
    if len(values) not in (3, 4):
        raise _fail(param, f"must be (r, g, b), got {short(color)}")
    rgb = [_whole(v, f"{param}[{i}]") for i, v in enumerate(values[:3])]
    if not all(0 <= v <= 255 for v in rgb):
        raise _fail(param, f"values must be 0 to 255, got {short(color)}")
    return rgb[0], rgb[1], rgb[2]
