"""The golden cases of ``tests/test_masks.py``: each name makes one image from fixed inputs.

The reference PNGs beside this file are what these cases gave when a person last looked at them. After an
intended change, regenerate them and look at the PNGs before committing:

    .venv/bin/python tests/golden/regen.py          # all cases
    .venv/bin/python tests/golden/regen.py feather  # some
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from dalle_kit import masks

HERE = Path(__file__).parent
SIZE = (96, 64)
STROKE = [(8, 52), (30, 18.5), (61.5, 44), (88, 10)]


def picture(size: tuple[int, int] = SIZE, tint: int = 0) -> Image.Image:
    """A small fixed picture: a vertical gradient with a disc and a bar."""
    w, h = size
    img = Image.new("RGB", size)
    for y in range(h):
        img.paste((40 + tint, 90 + y * 120 // h, 200 - tint), (0, y, w, y + 1))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w // 6, h // 5, w // 2, h * 3 // 4), fill=(240, 200, 60))
    draw.rectangle((w * 2 // 3, h // 8, w * 5 // 6, h * 7 // 8), fill=(30, 30, 30))
    return img


def bw_picture() -> Image.Image:
    """A black-and-white "mask" as many tutorials draw it (no alpha), with a soft grey edge."""
    img = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(img)
    draw.ellipse((20, 10, 70, 50), fill=255)
    draw.rectangle((60, 40, 90, 60), fill=140)
    return img


def _ellipse() -> Image.Image:
    return masks.ellipse(SIZE, (20.5, 12, 75, 52.5))


def _legacy() -> tuple[Image.Image, Image.Image]:
    return masks.prepare(picture((120, 80)), masks.rectangle((120, 80), (0, 0, 70, 40)), "dall-e-2")


def _png(img: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


CASES: dict[str, Callable[[], Image.Image]] = {
    "blank": lambda: masks.blank(SIZE),
    "rectangle": lambda: masks.rectangle(SIZE, (10.4, 8, 50, 40.6)),
    "ellipse": _ellipse,
    "polygon": lambda: masks.polygon(SIZE, [(5, 60), (48, 4), (92, 58), (48, 40)]),
    "brush": lambda: masks.brush(SIZE, STROKE, 9.5),
    "brush_dot": lambda: masks.brush(SIZE, [(47.3, 31.8)], 21),
    "eraser": lambda: masks.brush(SIZE, STROKE, 6, base=masks.rectangle(SIZE, (4, 4, 92, 60)), erase=True),
    "shapes_combined": lambda: masks.ellipse(SIZE, (50, 30, 90, 60), base=masks.rectangle(SIZE, (5, 5, 40, 30))),
    "boxes": lambda: masks.boxes(SIZE, [(5, 5, 20, 15), (60, 30, 90, 60)], pad=3),
    "from_bw_white": lambda: masks.from_bw(bw_picture(), edit="white"),
    "from_bw_black": lambda: masks.from_bw(bw_picture(), edit="black"),
    "invert": lambda: masks.invert(_ellipse()),
    "grow": lambda: masks.grow(_ellipse(), 6),
    "shrink": lambda: masks.shrink(_ellipse(), 6),
    "feather": lambda: masks.feather(_ellipse(), 4),
    "overlay": lambda: masks.overlay(picture(), masks.feather(_ellipse(), 3)),
    "composite": lambda: masks.composite(picture(), picture(tint=60), masks.feather(_ellipse(), 3)),
    "prepare_legacy_image": lambda: _legacy()[0],
    "prepare_legacy_mask": lambda: _legacy()[1],
    "prepare_bw_mask": lambda: masks.prepare(picture((192, 128)), bw_picture(), "gpt-image-2", edit="white")[1],
}


def reference(name: str) -> Path:
    return HERE / f"{name}.png"


def render(name: str) -> Image.Image:
    """The case's image after a PNG round trip (what the reference file holds)."""
    return _png(CASES[name]())
