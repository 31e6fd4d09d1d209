"""The pixels of the shapes ``dalle_kit.masks`` draws, and of grown and shrunk areas (arguments already checked).

Regions are "L" images (255 = inside) or boolean arrays of a picture's size. A pixel is inside a shape when its
centre is, as on a browser canvas. Work on large pictures goes in bands of at most ``BAND`` pixels, so the float
temporaries stay near 32 MB whatever the size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = ["BAND", "Box", "Point", "ellipse_region", "grown", "polygon_region", "rectangles", "shrunk", "stroke"]

Point = tuple[float, float]
Box = tuple[float, float, float, float]
BAND = 1 << 22


def _px(value: float) -> int:
    """A box edge rounded to the nearest pixel boundary (halves round up, as JavaScript's Math.round)."""
    return math.floor(value + 0.5)


def _windows(size: tuple[int, int], x0: float, y0: float, x1: float, y1: float
             ) -> Iterator[tuple[slice, slice, np.ndarray, np.ndarray]]:
    """Bands of the pixels in ``[x0, x1] x [y0, y1]``: rows, columns and pixel-centre coordinates (a column and
    a row that broadcast to the band), at most ``BAND`` pixels each."""
    c0, c1 = max(0, math.floor(x0)), min(size[0], math.ceil(x1) + 1)
    r0, r1 = max(0, math.floor(y0)), min(size[1], math.ceil(y1) + 1)
    if c0 >= c1 or r0 >= r1:
        return
    step = max(1, BAND // (c1 - c0))
    for top in range(r0, r1, step):
        bottom = min(r1, top + step)
        ys, xs = np.ogrid[top:bottom, c0:c1]
        yield slice(top, bottom), slice(c0, c1), xs + 0.5, ys + 0.5


def _image(inside: np.ndarray) -> Image.Image:
    return Image.fromarray(inside.astype(np.uint8) * 255)


def rectangles(size: tuple[int, int], boxes: Iterable[Box]) -> Image.Image:
    """The union of boxes, their edges rounded to pixel boundaries (right and bottom excluded)."""
    region = Image.new("L", size, 0)
    for left, top, right, bottom in boxes:
        x0, x1 = sorted(min(max(_px(v), 0), size[0]) for v in (left, right))
        y0, y1 = sorted(min(max(_px(v), 0), size[1]) for v in (top, bottom))
        if x1 > x0 and y1 > y0:
            region.paste(255, (x0, y0, x1, y1))
    return region


def ellipse_region(size: tuple[int, int], box: Box) -> Image.Image:
    """The pixels whose centre is inside the ellipse inscribed in ``box``."""
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    out = np.zeros(size[::-1], dtype=bool)
    if x1 > x0 and y1 > y0:
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        with np.errstate(all="ignore"):  # a box 1e-200 px wide overflows to inf: outside, as it should be
            for rows, cols, xs, ys in _windows(size, x0, y0, x1, y1):
                out[rows, cols] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
    return _image(out)


def polygon_region(size: tuple[int, int], points: list[Point]) -> Image.Image:
    """The polygon through ``points`` (Pillow's integer coordinates are pixel centres, hence the half pixel)."""
    region = Image.new("L", size, 0)
    ImageDraw.Draw(region).polygon([(x - 0.5, y - 0.5) for x, y in points], fill=255)
    return region


def stroke(size: tuple[int, int], pts: list[Point], r: float) -> Image.Image:
    """Pixels whose centre lies within ``r`` of the polyline: a canvas stroke with round caps and joins.

    Pillow rounds sub-pixel coordinates (a 5 px stroke drawn with ImageDraw.line matched this geometry at IoU
    0.84), and the painter's strokes come from a browser canvas in fractional image pixels.
    """
    out = np.zeros((size[1], size[0]), dtype=bool)
    segments = list(itertools.pairwise(pts)) or [(pts[0], pts[0])]
    with np.errstate(all="ignore"):  # a segment 1e-200 px long divides into inf, which clip() bounds
        for (ax, ay), (bx, by) in segments:
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            span = (min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r)
            for rows, cols, xs, ys in _windows(size, *span):
                t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0, 1) if length2 else 0.0
                out[rows, cols] |= (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2 <= r * r
    return _image(out)


def _crop(inside: np.ndarray, margin: float) -> tuple[slice, slice]:
    """The bounding box of the True pixels, ``margin`` pixels wider on each side (within the picture)."""
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    pad = int(min(margin, max(inside.shape)))
    return (slice(max(0, rows[0] - pad), min(inside.shape[0], rows[-1] + pad + 1)),
            slice(max(0, cols[0] - pad), min(inside.shape[1], cols[-1] + pad + 1)))


def _squared_distances(inside: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Bands of rows, and for their pixels the squared distance to the nearest False pixel of ``inside``.

    SciPy's own distances take about 40 bytes a pixel (3.4 GB at ``MAX_PIXELS``); its nearest-pixel indices
    take 8, and the distances are then computed a band at a time.
    """
    nearest = ndimage.distance_transform_edt(inside, return_distances=False, return_indices=True)
    height, width = inside.shape
    cols = np.arange(width, dtype=np.int64)
    step = max(1, BAND // width)
    for top in range(0, height, step):
        band = slice(top, min(height, top + step))
        rows = np.arange(band.start, band.stop, dtype=np.int64)[:, None]
        dy, dx = nearest[0, band] - rows, nearest[1, band] - cols
        yield band, dy * dy + dx * dx


def grown(edit: np.ndarray, pixels: float) -> Image.Image:
    """The pixels within ``pixels`` (Euclidean) of ``edit`` (some True, some False), as an "L" image.

    Only the bounding box widened by ``pixels`` is measured: what lies outside it is farther away.
    """
    out = np.zeros_like(edit)
    window = _crop(edit, math.ceil(pixels) + 1)
    part = out[window]
    for band, squared in _squared_distances(~edit[window]):
        part[band] = squared <= pixels * pixels
    return _image(out)


def shrunk(edit: np.ndarray, pixels: float) -> Image.Image:
    """The pixels of ``edit`` farther than ``pixels`` from every False pixel (the border is not False).

    Only the bounding box widened by one pixel is measured: its False rim is nearer than anything beyond it.
    """
    out = np.zeros_like(edit)
    window = _crop(edit, 1)
    part = out[window]
    for band, squared in _squared_distances(edit[window]):
        part[band] = squared > pixels * pixels
    return _image(out)
