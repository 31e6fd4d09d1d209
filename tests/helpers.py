"""Small builders shared by the tests: input images and API-correct masks."""

from __future__ import annotations

import io

from PIL import Image


def png_bytes(size=(64, 64), mode="RGB", color=(200, 80, 40), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    fill = color if mode != "RGBA" else (*color, 255)
    Image.new(mode, size, fill if mode not in ("L", "LA") else 128).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_bytes(size=(64, 64), box=(16, 16, 48, 48)) -> bytes:
    """An API-correct mask: opaque, with a fully transparent rectangle where the edit goes."""
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()
