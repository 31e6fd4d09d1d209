"""Input images: turn paths, PIL images, bytes and file objects into ``Upload``s, and check them.

Every upload gets a filename and the MIME type of what the bytes really are: the SDK sends bare bytes as
``application/octet-stream``, which the API rejects (``unsupported_file_mimetype``).

Sizes are those of the picture upright: the API (and the simulator) apply a photo's EXIF orientation before
comparing a mask or markup with it, so a phone photo stored 4032x3024 with Orientation 6 needs a 3024x4032
mask. Orientations 5-8 swap width and height, 1-4 do not. A PIL image is sent upright (PNG keeps no EXIF).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import InvalidRequest
from .registry import ModelSpec
from .request import Upload

__all__ = [
    "SWAPS_SIDES",
    "TRANSPOSE",
    "check_images",
    "check_markup",
    "check_mask",
    "exif_orientation",
    "has_alpha",
    "oriented_size",
    "same_aspect",
    "to_upload",
    "to_uploads",
]

_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif", "MPO": "image/jpeg"}
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
MB = 1024 * 1024
SWAPS_SIDES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture a quarter turn
TRANSPOSE = {  # what PIL.ImageOps.exif_transpose does for each orientation
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90}
# Where a PNG can carry an orientation Pillow reads (eXIf chunk, ImageMagick text, XMP); others skip the decode
# that finding an eXIf chunk after the pixel data costs.
_PNG_EXIF_MARKERS = (b"eXIf", b"Raw profile type exif", b"XML:com.adobe.xmp")


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation ``PIL.ImageOps.exif_transpose`` applies to ``img`` (1-8); 1 if none or unreadable."""
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` (as stored) after the EXIF ``orientation``: 5-8 swap width and height, 1-4 do not."""
    return (size[1], size[0]) if orientation in SWAPS_SIDES else (size[0], size[1])


def same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two sizes have the same shape (within 1%), e.g. a mask painted on a scaled copy."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * max(a[0] * b[1], a[1] * b[0])


def _read(obj: Any, param: str) -> tuple[bytes, str | None]:
    """Bytes and a filename hint from a path, bytes, file object, PIL image or (name, bytes) tuple."""
    if isinstance(obj, Image.Image):
        if exif_orientation(obj) != 1:  # the PNG would drop the tag: send the picture as it is meant to be seen
            obj = ImageOps.exif_transpose(obj)
        buffer = io.BytesIO()
        obj.save(buffer, format="PNG")
        return buffer.getvalue(), None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), None
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise InvalidRequest(f"{param}: no file at {path!r}; pass a path to a PNG, JPEG or WebP file",
                                 param=param, value=path, allowed="an existing image file")
        with open(path, "rb") as handle:
            return handle.read(), os.path.basename(path)
    if isinstance(obj, tuple) and len(obj) >= 2:
        data, _ = _read(obj[1], param)
        return data, str(obj[0])
    if hasattr(obj, "read"):
        position = obj.tell() if hasattr(obj, "seek") else None
        data = obj.read()
        if position is not None:
            obj.seek(position)
        name = os.path.basename(getattr(obj, "name", "") or "") or None
        return (data.encode() if isinstance(data, str) else bytes(data)), name
    raise InvalidRequest(
        f"{param}: cannot read a {type(obj).__name__}; pass a path, a PIL image, bytes or a binary file object",
        param=param, value=type(obj).__name__, allowed="path, PIL.Image, bytes, BytesIO")


def to_upload(obj: Any, param: str = "image") -> Upload:
    """An ``Upload`` of ``obj``, or ``InvalidRequest`` when it is not an image Pillow can read."""
    data, name = _read(obj, param)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, size, mode = img.format or "", img.size, img.mode
            alpha = mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            tagged = fmt != "PNG" or any(marker in data for marker in _PNG_EXIF_MARKERS)
            orientation = exif_orientation(img) if tagged else 1
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequest(f"{param}: the bytes are not an image Pillow can read ({exc}); "
                             "pass a PNG, JPEG or WebP file", param=param, value=f"{len(data)} bytes",
                             allowed=("png", "jpeg", "webp")) from None
    mimetype = _MIME.get(fmt, f"image/{fmt.lower()}")
    stem = os.path.splitext(name)[0] if name else param.replace("[", "-").rstrip("]")
    filename = f"{stem}.{_EXT.get(mimetype, fmt.lower())}"
    width, height = oriented_size(size, orientation)
    return Upload(name=filename, mimetype=mimetype, data=data, width=width, height=height,
                  mode=mode + ("+alpha" if alpha and mode not in ("RGBA", "LA", "PA") else ""),
                  orientation=orientation)


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
    return upload.mode in ("RGBA", "LA", "PA") or upload.mode.endswith("+alpha")


def _alpha_zero_count(upload: Upload) -> int:
    with Image.open(io.BytesIO(upload.data)) as img:
        alpha = img.convert("RGBA").getchannel("A")
    return alpha.histogram()[0]


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
    if _alpha_zero_count(mask) == 0:
        raise InvalidRequest(f"mask: no pixel is fully transparent, so nothing would be edited; {fix}",
                             param="mask", value="opaque", allowed="a PNG with alpha 0 where to edit")


def check_markup(markup: Upload, first: Upload) -> None:
    """A PNG of the first image's size with transparent pixels (the drawing goes over the image)."""
    if markup.mimetype != "image/png" or not has_alpha(markup):
        raise InvalidRequest("markup: must be a transparent PNG (RGBA) drawn over the first image",
                             param="markup", value=f"{markup.mimetype} {markup.mode}", allowed="RGBA PNG")
    if markup.size != first.size:
        raise InvalidRequest(_mismatch("markup", markup, first, "draw it over the image at its full size"),
                             param="markup", value=markup.size, allowed=first.size)
    if _alpha_zero_count(markup) == 0:
        raise InvalidRequest("markup: has no transparent pixel; draw only the marks and leave the rest clear",
                             param="markup", value="opaque", allowed="RGBA PNG with transparent pixels")
