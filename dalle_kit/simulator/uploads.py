"""Uploaded images (edit inputs, mask, markup, variation source): MIME, size and content checks.

Codes: ``unsupported_file_mimetype`` (the part's declared Content-Type is not allowed; as observed, raw bytes sent
by the SDK arrive as ``application/octet-stream``), ``image_file_too_large`` (our name; the API's is unknown),
``invalid_image_file`` (undecodable, wrong format, a mask without alpha or of another size, a markup without
transparent pixels), ``array_above_max_length`` (too many images), ``missing_required_parameter``.
JSON edits may pass ``images: [{"image_url": "data:..."}]``; the simulator is offline, so only ``data:`` URLs work.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageOps

from ..registry import ModelSpec
from .forms import ApiError, Form, Upload

__all__ = ["InputImage", "read_images", "read_markup", "read_mask"]

_FORMAT_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "MPO": "image/jpeg"}
_MB = 1024 * 1024
_MAX_PIXELS = 89_478_485  # Pillow's decompression-bomb threshold; the API's own limit is not published


@dataclass(frozen=True)
class InputImage:
    """A decoded upload: RGBA pixels (EXIF orientation applied), its digest and whether it has alpha."""

    image: Image.Image
    digest: str
    mime: str
    has_alpha_channel: bool
    has_transparency: bool


def _file_error(param: str, message: str, code: str = "invalid_image_file") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _decode(upload: Upload, param: str, allowed: tuple[str, ...], max_bytes: int, ordinal: int,
            *, strict_less: bool = False) -> InputImage:
    mime = upload.content_type.lower()
    if mime not in allowed:
        raise _file_error(param, f"Invalid file '{param}': unsupported mimetype ('{mime}'). Supported file formats "
                          f"are {_list(sorted(allowed))}.", "unsupported_file_mimetype")
    size = len(upload.data)
    if size > max_bytes or (strict_less and size >= max_bytes):
        limit = f"{'less than' if strict_less else 'at most'} {max_bytes / _MB:g} MB"
        raise _file_error(param, f"Invalid file '{param}': the file is {size / _MB:.1f} MB; it must be {limit}.",
                          "image_file_too_large")
    try:
        img = Image.open(io.BytesIO(upload.data))
        if img.width * img.height > _MAX_PIXELS:  # refused from the header, before decoding (and Pillow's warning)
            raise _file_error(param, f"Invalid image file: {img.width}x{img.height} is more than "
                              f"{_MAX_PIXELS:,} pixels; scale it down first.")
        img.load()
    except ApiError:
        raise
    except Exception:
        raise _file_error(param, f"Invalid image file or mode for image {ordinal}, please check your image file.") \
            from None
    if _FORMAT_MIME.get(img.format or "") not in allowed:
        raise _file_error(param, f"Invalid image file or mode for image {ordinal}, please check your image file. "
                          f"(The file is {img.format or 'not an image'}, declared as {mime}.)")
    alpha_channel = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    try:
        upright = ImageOps.exif_transpose(img).convert("RGBA")
    except Exception:  # an EXIF block Pillow cannot read: no orientation to apply
        upright = img.convert("RGBA")
    lo, _hi = cast(tuple[int, int], upright.getchannel("A").getextrema())
    return InputImage(upright, hashlib.sha256(upload.data).hexdigest(), mime, alpha_channel, lo < 255)


def _list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + (", and " if len(quoted) > 2 else " and ") + \
        quoted[-1]


def _from_data_url(ref: object, field: str, param: str) -> Upload:
    """A JSON image reference ``{"image_url": "data:image/png;base64,..."}`` as an :class:`Upload`."""
    if not isinstance(ref, dict):
        raise ApiError(400, f"Invalid type for '{param}': expected an object, but got a {type(ref).__name__} "
                       "instead.", param=param, code="invalid_type")
    if "file_id" in ref:
        raise ApiError(400, f"Invalid '{param}': the offline simulator has no Files API; pass image_url with a "
                       "data: URL instead.", param=param, code="invalid_value")
    url = ref.get("image_url")
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise ApiError(400, f"Invalid '{param}': the offline simulator cannot fetch URLs; pass a "
                       "'data:<mime>;base64,...' URL.", param=param, code="invalid_value")
    header, _, payload = url.partition(";base64,")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _file_error(param, f"Invalid '{param}': the data URL is not valid base64.") from None
    return Upload(field, None, header[5:] or "application/octet-stream", data)


def read_images(form: Form, spec: ModelSpec, endpoint: str) -> tuple[InputImage, ...]:
    """The edit inputs (``image``, repeated ``image[]``, or JSON ``images``) or the variation source."""
    for name in ("image", "images") if form.multipart else ("image",):
        if name in form.values:
            value = form.values[name]
            param = f"{name}[0]" if isinstance(value, (list, dict)) else name
            raise ApiError(400, f"Invalid type for '{param}': expected a file, but got a string instead.",
                           param=param, code="invalid_type")
    uploads = [u for u in form.uploads if u.field.split("[", 1)[0] == "image"]
    refs = form.values.get("images") if not form.multipart else None
    if refs is not None:
        if not isinstance(refs, list):
            raise ApiError(400, "Invalid type for 'images': expected an array, but got another type instead.",
                           param="images", code="invalid_type")
        uploads += [_from_data_url(ref, "images[]", f"images[{i}]") for i, ref in enumerate(refs)]
    if not uploads:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    limit = spec.max_input_images if endpoint == "edit" else 1
    if len(uploads) > limit:
        raise ApiError(400, f"Invalid 'image': array too long. Expected an array with maximum length {limit}, but "
                       f"got an array with length {len(uploads)} instead.", param="image",
                       code="array_above_max_length")
    out = []
    for i, upload in enumerate(uploads):
        prefix = "images" if upload.field == "images[]" else "image"
        param = prefix if len(uploads) == 1 else f"{prefix}[{i}]"
        img = _decode(upload, param, spec.input_mimetypes, spec.max_input_bytes, i + 1)
        if spec.sizes.square_only and img.image.width != img.image.height:
            raise _file_error(param, "Invalid input image - the image must be square.")
        out.append(img)
    if spec.alpha_without_mask and endpoint == "edit" and not form.values.get("mask") and \
            not any(u.field == "mask" for u in form.uploads) and not out[0].has_alpha_channel:
        raise _file_error("image", "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.")
    return tuple(out)


def _single(form: Form, name: str) -> Upload | None:
    parts = [u for u in form.uploads if u.field == name]
    if name in form.values:
        value = form.values[name]
        if not form.multipart and isinstance(value, dict):
            return _from_data_url(value, name, name)
        raise ApiError(400, f"Invalid type for '{name}': expected a file, but got a string instead.", param=name,
                       code="invalid_type")
    if len(parts) > 1:
        raise ApiError(400, f"Invalid '{name}': expected one file, but got {len(parts)}.", param=name,
                       code="invalid_value")
    return parts[0] if parts else None


def read_mask(form: Form, spec: ModelSpec, first: InputImage) -> InputImage | None:
    """The mask: a PNG under ``spec.mask_max_bytes`` with an alpha channel, some alpha-0 pixels, the first image's
    size."""
    upload = _single(form, "mask")
    if upload is None:
        return None
    if not spec.mask:
        raise ApiError(400, f"The model '{spec.id}' does not support the 'mask' parameter.", param="mask",
                       code="unsupported_parameter")
    mask = _decode(upload, "mask", ("image/png",), spec.mask_max_bytes, 1, strict_less=True)
    if not mask.has_alpha_channel:
        raise _file_error("mask", "Invalid mask image: the mask must be a PNG with an alpha channel; its fully "
                          "transparent areas (alpha 0) mark where the image is edited.")
    if mask.image.getchannel("A").getextrema()[0] != 0:
        raise _file_error("mask", "Invalid mask image: no pixel is fully transparent (alpha 0), so nothing would "
                          "be edited.")
    if mask.image.size != first.image.size:
        raise _file_error("mask", f"Invalid mask image: the mask is {mask.image.width}x{mask.image.height} but the "
                          f"image is {first.image.width}x{first.image.height}; they must have the same dimensions.")
    return mask


def read_markup(form: Form, spec: ModelSpec, first: InputImage) -> InputImage | None:
    """The markup: a PNG the size of the first image with transparent pixels."""
    upload = _single(form, "markup")
    if upload is None:
        return None
    if not spec.markup:
        raise ApiError(400, f"The model '{spec.id}' does not support the 'markup' parameter.", param="markup",
                       code="unsupported_parameter")
    markup = _decode(upload, "markup", ("image/png",), spec.max_input_bytes, 1)
    if markup.image.size != first.image.size:
        raise _file_error("markup", f"Invalid markup image: it is {markup.image.width}x{markup.image.height} but "
                          f"the image is {first.image.width}x{first.image.height}; they must match.")
    if markup.image.getchannel("A").getextrema()[0] != 0:
        raise _file_error("markup", "Invalid markup image: it must contain transparent pixels.")
    return markup
