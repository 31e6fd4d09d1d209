"""Input images as ``Upload``s, and the checks on them before a request is sent.

Every upload gets a filename and the MIME type of what the bytes really are: the SDK sends bare bytes as
``application/octet-stream``, which the API rejects (``unsupported_file_mimetype``). Bytes, paths, file objects
and ``ImageResult``s are sent exactly as given (a CMYK JPEG or a 16-bit PNG too: the API takes those formats),
after a full decode that finds damage; a PIL image is sent as a PNG. What cannot be read, is too big or has no
fixed scale is refused by ``dalle_kit.image_io``, which says how.

Sizes are those of the picture upright: the API (and the simulator) apply a photo's EXIF orientation before
comparing a mask or markup with it, so a phone photo stored 4032x3024 with Orientation 6 needs a 3024x4032
mask. Orientations 5-8 swap width and height, 1-4 do not. A PIL image is sent upright (PNG keeps no EXIF).

An animated PNG, WebP or GIF is refused by ``check_images``/``check_mask``/``check_markup`` (rules that
``lenient=True`` skips): the API edits one picture, and which frame it would take is not documented.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from PIL import Image

from .errors import InvalidRequest
from .image_io import (
    MAX_PIXELS,
    MAX_READ_BYTES,
    MAX_SIDE,
    PIL_CONVERSIONS,
    SWAPS_SIDES,
    TRANSPOSE,
    check_pixels,
    decode,
    encode_png,
    exif_orientation,
    frames,
    open_image,
    source,
)
from .registry import ModelSpec
from .request import Upload

__all__ = [
    "MAX_PIXELS",
    "MAX_READ_BYTES",
    "MAX_SIDE",
    "PIL_CONVERSIONS",
    "SWAPS_SIDES",
    "TRANSPOSE",
    "check_images",
    "check_markup",
    "check_mask",
    "check_pixels",
    "exif_orientation",
    "has_alpha",
    "open_image",
    "oriented_size",
    "same_aspect",
    "to_upload",
    "to_uploads",
]

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif", "MPO": "image/jpeg"}
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_DECODED = ("PNG", "JPEG", "MPO", "WEBP", "GIF")  # formats a request may carry: decoded in full to find damage
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
MB = 1024 * 1024


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` (as stored) after the EXIF ``orientation``: 5-8 swap width and height, 1-4 do not."""
    return (size[1], size[0]) if orientation in SWAPS_SIDES else (size[0], size[1])


def same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two sizes have the same shape (within 1%), e.g. a mask painted on a scaled copy."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * max(a[0] * b[1], a[1] * b[0])


def _mode(mode: str, alpha: bool) -> str:
    return mode + ("+alpha" if alpha and mode not in _ALPHA_MODES else "")


def _safe_stem(name: str | None) -> str:
    """A filename stem fit for a multipart header: quotes, control characters (NUL, newlines) and lone surrogates
    replaced, at most 100 characters (the name is only a label; a long one overflows the part's header)."""
    stem = os.path.splitext(name)[0] if name else ""
    return "".join(c if c.isprintable() and c != '"' else "_" for c in stem[:100])


def to_upload(obj: Any, param: str = "image") -> Upload:
    """An ``Upload`` of ``obj``, or ``InvalidRequest`` when it is not an image that can be sent (see image_io).
    An ``Upload`` is itself already (a batch reads and digests a shared input once)."""
    if isinstance(obj, Upload):
        return obj
    src = source(obj, param)
    stem = param.replace("[", "-").rstrip("]")
    if isinstance(src, Image.Image):
        data, img = encode_png(src, param)
        alpha = img.mode in _ALPHA_MODES or "transparency" in img.info
        return Upload(name=f"{stem}.png", mimetype="image/png", data=data, width=img.width, height=img.height,
                      mode=_mode(img.mode, alpha), clear_pixels=_clear_pixels(img, alpha))
    data, name = src
    img = decode(data, param, load=False)  # other formats are refused by their MIME type, or sent as they are
    fmt = img.format or ""
    if fmt in _DECODED:
        img = decode(data, param)
    alpha = img.mode in _ALPHA_MODES or "transparency" in img.info
    orientation = exif_orientation(img)
    mimetype = _MIME.get(fmt, f"image/{fmt.lower()}")
    width, height = oriented_size(img.size, orientation)
    return Upload(name=f"{_safe_stem(name) or stem}.{_EXT.get(mimetype, fmt.lower())}", mimetype=mimetype, data=data,
                  width=width, height=height, mode=_mode(img.mode, alpha), orientation=orientation,
                  frames=frames(img, param), clear_pixels=fmt in _DECODED and _clear_pixels(img, alpha))


def to_uploads(obj: Any, param: str = "image") -> tuple[Upload, ...]:
    """One or several images (a list or tuple of them; a ``(name, bytes)`` pair counts as one)."""
    is_pair = isinstance(obj, tuple) and len(obj) in (2, 3) and isinstance(obj[0], str) \
        and isinstance(obj[1], (bytes, bytearray))
    if isinstance(obj, (list, tuple)) and not is_pair:
        if not obj:
            raise InvalidRequest(f"{param}: the list is empty; pass at least one image", param=param,
                                 value=[], allowed="1 or more images")
        return tuple(to_upload(item, f"{param}[{i}]") for i, item in enumerate(obj))
    return (to_upload(obj, param),)


def has_alpha(upload: Upload) -> bool:
    return upload.mode in _ALPHA_MODES or upload.mode.endswith("+alpha")


def _clear_pixels(img: Image.Image, alpha: bool) -> bool:
    """Whether some pixel of the decoded ``img`` is fully transparent (alpha 0)."""
    if not alpha:
        return False
    channel = img.getchannel("A") if img.mode in ("RGBA", "LA", "PA") else img.convert("RGBA").getchannel("A")
    return channel.histogram()[0] > 0


def _still(upload: Upload, param: str) -> None:
    """Refuse an animation: the API edits one picture (which frame it would take is not documented)."""
    if upload.frames > 1:
        kind = {"image/png": "PNG (APNG)", "image/webp": "WebP", "image/gif": "GIF"}.get(upload.mimetype, "image")
        raise InvalidRequest(
            f"{param}: an animated {kind} of {upload.frames} frames; the API edits one picture. Pick a frame and "
            "pass it: img = PIL.Image.open(path); img.seek(0); then pass img (or img.save('frame.png'))",
            param=param, value=f"{upload.frames} frames", allowed="a still image", rule=f"{param.split('[')[0]}.still")


def check_images(images: Sequence[Upload], spec: ModelSpec, endpoint: str) -> None:
    """Count, type, byte size (and for DALL·E 2, squareness) of the input images."""
    limit = 1 if endpoint == "variation" else spec.max_input_images
    if len(images) > limit:
        raise InvalidRequest(f"image: {len(images)} images given; {spec.id} takes at most {limit} on {endpoint}",
                             param="image", value=len(images), allowed=f"1 to {limit} images")
    for i, upload in enumerate(images):
        param = "image" if len(images) == 1 else f"image[{i}]"
        if upload.mimetype not in spec.input_mimetypes:
            raise InvalidRequest(
                f"{param}: {upload.mimetype} is not accepted; {spec.id} takes {', '.join(spec.input_mimetypes)}. "
                "Convert it, e.g. PIL.Image.open(path).save('input.png')",
                param=param, value=upload.mimetype, allowed=spec.input_mimetypes)
        _still(upload, param)
        if len(upload.data) > spec.max_input_bytes:
            raise InvalidRequest(
                f"{param}: {len(upload.data) / MB:.1f} MB is over the {spec.max_input_bytes // MB} MB limit; "
                "shrink it or save it as WebP/JPEG", param=param, value=len(upload.data),
                allowed=f"at most {spec.max_input_bytes} bytes")
        if spec.sizes.square_only and upload.width != upload.height:  # a quarter turn keeps a square square
            raise InvalidRequest(f"{param}: {spec.id} needs a square image, got {upload.width}x{upload.height}; "
                                 "crop it square first", param=param, value=upload.size, allowed="a square PNG")


def _shape(upload: Upload) -> str:
    """``WxH`` upright, and how it is stored when an EXIF orientation turns it."""
    if upload.orientation == 1:
        return f"{upload.width}x{upload.height}"
    stored = "x".join(map(str, upload.stored_size))
    return f"{upload.width}x{upload.height} upright (stored {stored}, EXIF Orientation {upload.orientation})"


def _mismatch(param: str, drawing: Upload, first: Upload, fix: str) -> str:
    """Why ``drawing`` (a mask or markup) does not fit ``first``; a drawing on the stored, unturned photo says so."""
    turned = first.orientation in SWAPS_SIDES and first.width != first.height
    if not (turned and same_aspect(drawing.size, first.stored_size)):
        return f"{param}: {_shape(drawing)} does not match the image's {_shape(first)}; {fix}"
    stored = "x".join(map(str, first.stored_size))
    prepare = "dalle_kit.masks.prepare(image, mask, model) turns both for you; or " if param == "mask" else ""
    painter = " (MaskPainter shows the photo upright)" if param == "mask" else ""
    return (f"{param}: {_shape(drawing)} has the shape of the photo as stored ({stored}), not upright. The photo "
            f"carries an EXIF rotation (Orientation {first.orientation}) and the API turns it upright to "
            f"{first.width}x{first.height} before comparing, so the {param} must be drawn on the upright picture: "
            f"{prepare}draw it on PIL.ImageOps.exif_transpose(Image.open(path)){painter}, or turn a {param} drawn "
            "on the stored photo the same way: "
            f"{param}.transpose(Image.Transpose.{TRANSPOSE[first.orientation].name})")


def check_mask(mask: Upload, first: Upload, spec: ModelSpec) -> None:
    """A PNG under the size limit, with an alpha channel, some fully transparent pixels, the image's size."""
    fix = "build one with dalle_kit.masks (alpha 0 = the area to edit)"
    if mask.mimetype != "image/png":
        raise InvalidRequest(f"mask: must be a PNG, got {mask.mimetype}; {fix}", param="mask",
                             value=mask.mimetype, allowed=("image/png",))
    _still(mask, "mask")
    if len(mask.data) >= spec.mask_max_bytes:
        raise InvalidRequest(f"mask: {len(mask.data) / MB:.1f} MB; it must be under 4 MB. "
                             "dalle_kit.masks.prepare drops the colour data the API ignores",
                             param="mask", value=len(mask.data),
                             allowed=f"under {spec.mask_max_bytes} bytes")
    if mask.size != first.size:
        fix = ("if it was painted on a scaled copy, dalle_kit.masks.prepare(image, mask, model) rescales it; "
               "a mask of another shape must be redrawn")
        raise InvalidRequest(_mismatch("mask", mask, first, fix), param="mask", value=mask.size,
                             allowed=first.size)
    if not has_alpha(mask):
        raise InvalidRequest(
            f"mask: has no alpha channel (mode {mask.mode}); the API edits where alpha is 0, it does not read "
            f"black and white. Convert it with dalle_kit.masks.from_bw(img, edit='white') or {fix}",
            param="mask", value=mask.mode, allowed="RGBA or LA PNG")
    if not mask.clear_pixels:
        raise InvalidRequest(f"mask: no pixel is fully transparent, so nothing would be edited; {fix}",
                             param="mask", value="opaque", allowed="a PNG with alpha 0 where to edit")


def check_markup(markup: Upload, first: Upload) -> None:
    """A PNG of the first image's size with transparent pixels (the drawing goes over the image)."""
    if markup.mimetype != "image/png" or not has_alpha(markup):
        raise InvalidRequest("markup: must be a transparent PNG (RGBA) drawn over the first image",
                             param="markup", value=f"{markup.mimetype} {markup.mode}", allowed="RGBA PNG")
    _still(markup, "markup")
    if markup.size != first.size:
        raise InvalidRequest(_mismatch("markup", markup, first, "draw it over the image at its full size"),
                             param="markup", value=markup.size, allowed=first.size)
    if not markup.clear_pixels:
        raise InvalidRequest("markup: has no transparent pixel; draw only the marks and leave the rest clear",
                             param="markup", value="opaque", allowed="RGBA PNG with transparent pixels")
