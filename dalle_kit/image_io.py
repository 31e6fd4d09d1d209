"""Reading images given in any form (path, bytes, file object, PIL image, ``ImageResult``) safely.

Everything that can go wrong becomes ``InvalidRequest`` naming the parameter and the fix, never a raw Pillow,
OS or memory error:

- not an image: empty or unreadable bytes, a missing path, a folder, a closed file, a value of another type;
  a file over ``MAX_READ_BYTES`` is not even read;
- too big: more than ``MAX_PIXELS`` pixels or ``MAX_SIDE`` a side, found from the header before any pixel is
  decoded. ``MAX_PIXELS`` is Pillow's default decompression-bomb limit (89.5 megapixels, e.g. 9459x9459 or a
  64 MP phone photo; about 360 MB as RGBA), fixed here so that a change to ``PIL.Image.MAX_IMAGE_PIXELS`` does
  not move it. The API works at up to 3840x2160 and shrinks what is larger, so nothing is lost by shrinking;
- damaged: truncated or corrupt data is found by decoding in full;
- a PIL image in mode ``I`` or ``F``: no fixed scale (0-1, 0-255 and 0-65535 are all common), so no guess.

A PIL image is sent as a PNG in a mode PNG holds: ``PNG_MODES`` as they are (16-bit grey ``I;16`` too:
lossless), the others converted (``PIL_CONVERSIONS``: premultiplied and padded modes to their plain twins,
CMYK, YCbCr, LAB and HSV to RGB, 16-bit grey of either byte order to ``I;16``).
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import InvalidRequest
from .results import ImageResult

__all__ = [
    "MAX_PIXELS",
    "MAX_READ_BYTES",
    "MAX_SIDE",
    "PIL_CONVERSIONS",
    "PNG_MODES",
    "SWAPS_SIDES",
    "TRANSPOSE",
    "check_pixels",
    "decode",
    "encode_png",
    "exif_orientation",
    "frames",
    "open_image",
    "sendable",
    "short",
    "source",
    "turned_upright",
]

MB = 1024 * 1024
MAX_PIXELS = 89_478_485  # Pillow's default Image.MAX_IMAGE_PIXELS
MAX_SIDE = 65_535  # JPEG's own limit (WebP's is 16,383; PNG's far larger)
MAX_READ_BYTES = 200 * MB  # 4x the API's 50 MB: lenient=True may still send a file over it, not a 10 GB video
PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})  # written to PNG as they are
PIL_CONVERSIONS = {"PA": "RGBA", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB",
                   "LAB": "RGB", "HSV": "RGB", "I;16B": "I;16", "I;16L": "I;16", "I;16N": "I;16"}
_SCALE_FIX = {
    "I": "img.convert('L') if its values are 0-255, img.convert('I;16') if they are 0-65535",
    "F": "img.convert('L') if its values are 0-255, img.point(lambda v: v * 255).convert('L') if they are 0-1"}
_FIX = "pass a PNG, JPEG or WebP file"
_METADATA = ("exif", "xmp", "XML:com.adobe.xmp")  # where Pillow finds an orientation
SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture a quarter turn
TRANSPOSE = {  # what PIL.ImageOps.exif_transpose does for each orientation
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90}
_KINDS = ("png", "jpeg", "webp")


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation ``PIL.ImageOps.exif_transpose`` applies to ``img`` (1-8); 1 if none or unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data": then there is no orientation to apply
            value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def turned_upright(img: Image.Image) -> Image.Image:
    """``img`` turned by its EXIF orientation (the tag dropped), or ``img`` itself without one (or none readable:
    ``ImageOps.exif_transpose`` raises on an unreadable EXIF block, and warns on a damaged one)."""
    orientation = exif_orientation(img)
    if orientation == 1:
        return img
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ImageOps.exif_transpose(img)
    except Exception:  # an orientation was read, but the rest of the block cannot be written back
        turned = img.transpose(TRANSPOSE[orientation])
        for key in _METADATA:
            turned.info.pop(key, None)
        return turned


def _metadata_readable(img: Image.Image) -> Image.Image:
    """``img``, or a copy without its EXIF and XMP when Pillow cannot parse them (so that Pillow's own
    ``exif_transpose``, which the caller may apply, does not raise)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.getexif()
        return img
    except Exception:
        clean = img.copy()
        for key in _METADATA:
            clean.info.pop(key, None)
        return clean


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message never echoes a whole Base64 text)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 5]}...{text[-2:]}"


def _refuse(param: str, problem: str, value: Any, allowed: Any) -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, value=value, allowed=allowed)


def check_pixels(size: tuple[int, int], param: str) -> None:
    """Refuse a picture without pixels, or over ``MAX_PIXELS`` / ``MAX_SIDE``, before its pixels are decoded."""
    width, height = size
    if width < 1 or height < 1:
        raise _refuse(param, f"{width}x{height} has no pixels; pass a picture at least 1x1", (width, height),
                      "at least 1x1")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise _refuse(param, f"{width}x{height} is {width * height:,} pixels; dalle_kit takes at most "
                      f"{MAX_PIXELS:,} pixels and {MAX_SIDE:,} a side (Pillow's default decompression-bomb limit; "
                      "the API works at up to 3840x2160 anyway). Shrink it first, e.g. img.thumbnail((4096, 4096)); "
                      "to open it in PIL, set PIL.Image.MAX_IMAGE_PIXELS = None", (width, height),
                      f"at most {MAX_PIXELS} pixels, {MAX_SIDE} a side")


# -- reading: what the caller passed, as a PIL image or as bytes -------------------------------------------


def _read_path(obj: str | os.PathLike[Any], param: str) -> tuple[bytes, str]:
    path = os.fsdecode(os.fspath(obj))
    where, shown, allowed = f"{param}: {short(path)}", short(path), "a path to an existing PNG, JPEG or WebP file"
    if "\x00" in path:
        problem = "contains a NUL character, which no file name can hold; pass the path of an image file"
    elif path.startswith(("http://", "https://")):
        problem = "is a URL; dalle_kit does not download: fetch it first and pass the bytes (httpx.get(url).content)"
    elif path.startswith("data:") and "," in path:
        problem = "is a data: URL; pass the bytes instead: base64.b64decode(url.split(',', 1)[1])"
    elif os.path.isdir(path):
        problem = "is a folder; pass the path of one image file in it"
    elif not os.path.isfile(path):
        base64 = len(path) > 256 and os.sep not in path[:64]
        hint = ("Base64 text? pass base64.b64decode(text)" if base64 else
                "~ is not expanded: pass os.path.expanduser(path)" if path.startswith("~") else
                "pass a path to a PNG, JPEG or WebP file")
        raise InvalidRequest(f"{param}: no file at {shown}; {hint}", param=param, value=shown, allowed=allowed)
    else:
        try:
            if os.path.getsize(path) > MAX_READ_BYTES:
                problem = (f"is {os.path.getsize(path) / MB:,.0f} MB, far over the API's 50 MB limit, so it is not "
                           "read; shrink it or save it as WebP/JPEG")
            else:
                with open(path, "rb") as handle:
                    return handle.read(), os.path.basename(path)
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
    raise InvalidRequest(f"{where} {problem}", param=param, value=shown, allowed=allowed)


def _read_file(obj: Any, param: str) -> tuple[bytes, str | None]:
    """The bytes of a file object from its current position (put back there), at most ``MAX_READ_BYTES``."""
    fix = "pass an open binary file (open(path, 'rb')), a path or the bytes"
    allowed = "a readable binary file"
    try:
        seekable = bool(obj.seekable()) if hasattr(obj, "seekable") else hasattr(obj, "seek")
        position = obj.tell() if seekable else None
        data = obj.read(MAX_READ_BYTES + 1)
        if position is not None:
            obj.seek(position)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        problem = ("the file was opened as text" if isinstance(exc, UnicodeDecodeError) else
                   "the file is closed" if "closed" in str(exc) else f"the file cannot be read ({exc})")
        raise _refuse(param, f"{problem}; {fix}", type(obj).__name__, allowed) from None
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _refuse(param, f"read() gave a {type(data).__name__}, not bytes; {fix}", type(obj).__name__, allowed)
    if len(data) > MAX_READ_BYTES:
        raise _refuse(param, "the file is over 200 MB, far over the API's 50 MB limit; shrink it or save it as "
                      "WebP/JPEG", type(obj).__name__, "at most 50 MB")
    name = getattr(obj, "name", None)
    return bytes(data), (os.path.basename(name) or None) if isinstance(name, str) else None


def source(obj: Any, param: str) -> Image.Image | tuple[bytes, str | None]:
    """A PIL image as given, or the bytes (and a filename hint) of anything else an image can be passed as.

    A ``(filename, image)`` or ``(filename, image, mimetype)`` tuple names its image (a PIL one is encoded).
    """
    if isinstance(obj, Image.Image):
        return obj
    if isinstance(obj, ImageResult):
        return obj.data, None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), None
    if isinstance(obj, (str, os.PathLike)):
        return _read_path(obj, param)
    if isinstance(obj, tuple) and len(obj) in (2, 3) and isinstance(obj[0], str):
        inner = source(obj[1], param)
        return (encode_png(inner, param)[0] if isinstance(inner, Image.Image) else inner[0]), obj[0]
    if hasattr(obj, "read"):
        return _read_file(obj, param)
    kind = type(obj).__name__
    hint = "; for an array, pass PIL.Image.fromarray(array)" if hasattr(obj, "__array_interface__") else ""
    raise InvalidRequest(
        f"{param}: cannot read a value of type {kind}; pass a path, a PIL image, bytes, a binary file object or an "
        f"ImageResult{hint}",
        param=param, value=kind, allowed="path, PIL.Image, bytes, BytesIO, ImageResult")


# -- decoding -------------------------------------------------------------------------------------------------


_FORMATS: list[str] = []


def _formats() -> list[str]:
    """Every format Pillow opens except EPS (decoding it runs Ghostscript)."""
    if not _FORMATS:
        Image.init()
        _FORMATS.extend(f for f in Image.OPEN if f != "EPS")
    return _FORMATS


def _looks_like_text(data: bytes) -> bool:
    head = data[:512]
    return all(32 <= b < 127 or b in b"\t\r\n" for b in head)


def decode(data: bytes, param: str, *, load: bool = True) -> Image.Image:
    """``data`` opened, and decoded in full when ``load``; refused when empty, not an image, too big (from the
    header, before decoding), truncated or corrupt. Pillow's warnings are dropped."""
    shown = f"{len(data)} bytes"
    if not data:
        raise _refuse(param, f"is empty (0 bytes); {_FIX}", shown, _KINDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=_formats())
        except UnidentifiedImageError:
            text = " (it looks like text)" if _looks_like_text(data) else ""
            raise _refuse(param, f"{len(data):,} bytes that are not an image Pillow can read{text}; {_FIX}", shown,
                          _KINDS) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _refuse(param, f"too many pixels ({exc}); dalle_kit takes at most {MAX_PIXELS:,}. Shrink it "
                          "first, e.g. img.thumbnail((4096, 4096)) after PIL.Image.MAX_IMAGE_PIXELS = None", shown,
                          f"at most {MAX_PIXELS} pixels") from None
        except Exception as exc:  # a plugin that recognised its header and then choked on it
            raise _refuse(param, f"the image is truncated or corrupt ({type(exc).__name__}: {exc}); save it again "
                          f"from the original, or {_FIX}", shown, "an undamaged image") from None
        check_pixels(img.size, param)
        if load:
            try:
                img.load()
            except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error ... on damaged data
                raise _refuse(param, f"the {img.format or 'image'} data is truncated or corrupt "
                              f"({type(exc).__name__}: {exc}); save it again from the original, or {_FIX}", shown,
                              "an undamaged image") from None
    return img


def frames(img: Image.Image, param: str) -> int:
    """Frames of an animated PNG, WebP or GIF (1 for a still; an MPO's extra pictures are no animation).

    Counting a GIF's frames reads them all: one that cannot be read makes the file damaged.
    """
    if img.format not in ("PNG", "WEBP", "GIF"):
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            count = getattr(img, "n_frames", 1)
    except Exception as exc:
        raise _refuse(param, f"a later frame of the {img.format} is truncated or corrupt ({type(exc).__name__}: "
                      f"{exc}); save it again from the original, or {_FIX}", "damaged frames",
                      "an undamaged image") from None
    return count if isinstance(count, int) and count > 1 else 1


def _loaded(img: Image.Image, param: str) -> Image.Image:
    """A PIL image's pixels, or ``InvalidRequest`` when they cannot be read (a closed or truncated file)."""
    check_pixels(img.size, param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except Exception as exc:
        raise _refuse(param, f"the PIL image's pixels cannot be read ({type(exc).__name__}: {exc}); open the file "
                      "again and call img.load() while it is open", f"PIL image {img.mode}", "a readable image") \
            from None
    return img


def _no_scale(img: Image.Image, param: str) -> InvalidRequest:
    return _refuse(param, f"a PIL image in mode {img.mode} has no fixed scale, so dalle_kit does not guess one; "
                   f"convert it: {_SCALE_FIX[img.mode]}", f"mode {img.mode}", "modes 1, L, LA, P, RGB, RGBA, I;16")


def sendable(img: Image.Image, param: str) -> Image.Image:
    """A PIL image upright, in a mode PNG holds (``PIL_CONVERSIONS``); modes without a fixed scale are refused."""
    img = _loaded(img, param)
    if img.mode in _SCALE_FIX:
        raise _no_scale(img, param)
    if img.mode not in PNG_MODES and img.mode not in PIL_CONVERSIONS:
        raise _refuse(param, f"a PIL image in mode {img.mode} cannot be sent; convert it: img.convert('RGB')",
                      f"mode {img.mode}", "modes 1, L, LA, P, RGB, RGBA, I;16")
    img = turned_upright(img)  # the PNG would drop the tag: send the picture as it is meant to be seen
    if img.mode in PNG_MODES:
        return img
    return img.convert(PIL_CONVERSIONS[img.mode])


def encode_png(img: Image.Image, param: str) -> tuple[bytes, Image.Image]:
    """``img`` made ``sendable`` and encoded as PNG, with the image that was encoded."""
    img = sendable(img, param)
    buffer = io.BytesIO()
    try:
        img.save(buffer, format="PNG")
    except Exception as exc:
        raise _refuse(param, f"the PIL image cannot be saved as PNG ({type(exc).__name__}: {exc}); convert it: "
                      "img.convert('RGB')", f"mode {img.mode}", "an RGB or RGBA image") from None
    return buffer.getvalue(), img


def _eight_bit(img: Image.Image, param: str) -> Image.Image:
    """``img`` with 8 bits a channel for pixel work: 16-bit grey scaled down (Pillow's convert would clip it)."""
    if img.mode.startswith("I;16"):
        values = np.asarray(img).astype(np.uint32)
        grey = Image.fromarray((values >> 8).astype(np.uint8))
        key = img.info.get("transparency")
        if isinstance(key, int):  # a 16-bit transparency key: the pixels it names become transparent
            grey.putalpha(Image.fromarray(np.where(values == key, 0, 255).astype(np.uint8)))
        grey.info = {k: v for k, v in img.info.items() if k != "transparency"}  # its EXIF orientation too
        return grey
    if img.mode == "P" and "transparency" in img.info:
        return img.convert("RGBA")  # lossless; converting it to L or RGB later would warn
    if img.mode in PNG_MODES:
        return img
    converted = img.convert(PIL_CONVERSIONS[img.mode])
    converted.info = dict(img.info)
    return converted


def open_image(obj: Any, param: str, *, upright: bool = True) -> Image.Image:
    """Anything an image can be passed as, decoded, with 8 bits a channel (upright unless ``upright=False``;
    then an EXIF block Pillow cannot parse is dropped, as no orientation can be read from it).

    A PIL image is used as it is (no copy) when nothing needs changing; an animated file gives its first frame.
    """
    src = source(obj, param)
    img = _loaded(src, param) if isinstance(src, Image.Image) else decode(src[0], param)
    if img.mode in _SCALE_FIX:
        raise _no_scale(img, param)
    if img.mode not in PNG_MODES and img.mode not in PIL_CONVERSIONS:
        raise _refuse(param, f"a PIL image in mode {img.mode} is not supported; convert it: img.convert('RGB')",
                      f"mode {img.mode}", "modes 1, L, LA, P, RGB, RGBA, I;16")
    img = turned_upright(img) if upright else _metadata_readable(img)
    return _eight_bit(img, param)
