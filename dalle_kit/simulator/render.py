"""Pure rendering: a :class:`Scene` (what was asked) in, Pillow images and encoded bytes out. No HTTP here.

Pictures teach what the request did: exact size, the prompt as a caption, a red SIMULATED badge, detail that
grows with quality (more shapes, outlines, texture), real alpha for transparent backgrounds, a palette picked
by style words in the prompt (see :data:`STYLES`), and one distinct picture per index. Everything is seeded,
so the same scene gives the same bytes.
"""

from __future__ import annotations

import colorsys
import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps, PngImagePlugin

from ..errors import InvalidArgument
from . import fonts, motifs
from .fonts import CJK_FONTS
from .palettes import CJK, RGB, STYLES, palette_for

__all__ = [
    "CJK_FONTS",
    "DETAIL",
    "STYLES",
    "Scene",
    "draw",
    "draw_edit",
    "draw_partial",
    "draw_variation",
    "encode",
    "gif_bytes",
    "palette_for",
    "svg_bytes",
]

MARK = "SIMULATED"
NOTE = "SIMULATED image, drawn locally by the dalle_kit offline simulator; not made by OpenAI."

#: Level of detail per quality: number of shapes. Outlines from 12 up, texture from 24 up, dots from 40 up.
DETAIL = {"low": 6, "standard": 12, "medium": 14, "high": 28, "hd": 28, "xhigh": 44, "max": 64}

@dataclass(frozen=True)
class Scene:
    """What to draw: the request's visible facts plus a seed (already mixed with the index)."""

    prompt: str
    width: int
    height: int
    quality: str = "medium"
    transparent: bool = False
    seed: int = 0
    index: int = 0
    n: int = 1
    label: str = ""
    style: str | None = None  # dall-e-3's vivid | natural


def _cjk_font_file() -> str | None:
    """A font file that has Chinese glyphs: the shipped Noto Sans SC subset, else a system CJK font, else None."""
    return fonts.cjk_font_file()


def _font(size: int, cjk: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size``; for text with Chinese, a CJK font (the shipped one first)."""
    return fonts.font(size, fonts.cjk_font_file() if cjk else None)


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGBA", size, bottom + (255,)), Image.new("RGBA", size, top + (255,)), ramp)


def _shapes(img: Image.Image, scene: Scene, rng: random.Random, accents: tuple[RGB, ...],
            box: tuple[int, int, int, int]) -> None:
    """Draw the seeded composition inside ``box``; more and finer shapes at higher quality."""
    count = DETAIL.get(scene.quality, 14)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    unit = min(bw, bh)
    outline_w = max(1, unit // 220)
    if scene.transparent:  # a solid silhouette so alpha has something to hold
        d.ellipse((x0 + bw * 0.08, y0 + bh * 0.08, x1 - bw * 0.08, y1 - bh * 0.08), fill=accents[0] + (255,))
    for i in range(count):
        colour = accents[rng.randrange(len(accents))]
        r = unit * rng.uniform(0.22, 0.42) / (1 + i / 10) if count > 6 else unit * rng.uniform(0.18, 0.34)
        cx = x0 + rng.uniform(0.2, 0.8) * bw
        cy = y0 + rng.uniform(0.2, 0.8) * bh
        outline = tuple(max(0, c - 90) for c in colour) + (255,) if count >= 12 else None
        kind = rng.randrange(3)
        if kind == 0:
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour + (255,), outline=outline, width=outline_w)
        elif kind == 1:
            d.rectangle((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), fill=colour + (255,), outline=outline,
                        width=outline_w)
        else:
            pts = [(cx + r * rng.uniform(-1, 1), cy + r * rng.uniform(-1, 1)) for _ in range(3)]
            d.polygon(pts, fill=colour + (255,), outline=outline, width=outline_w)
    if count >= 24:  # hatching: fine lines
        for _ in range(count * 2):
            x, y = x0 + rng.random() * bw, y0 + rng.random() * bh
            length = unit * 0.05
            d.line((x, y, x + length, y + length * 0.4), fill=accents[rng.randrange(len(accents))] + (255,),
                   width=max(1, outline_w))
    if count >= 40:  # stipple: many small dots
        for _ in range(count * 8):
            x, y, rr = x0 + rng.random() * bw, y0 + rng.random() * bh, max(1.0, unit / 300)
            d.ellipse((x - rr, y - rr, x + rr, y + rr), fill=accents[rng.randrange(len(accents))] + (255,))


def _noise(size: tuple[int, int], rng: random.Random, cell: int = 3) -> Image.Image:
    """Seeded grey noise (``cell``-pixel grain): Pillow's effect_noise is not seeded, so it is not used."""
    w, h = size
    small = (max(1, w // cell), max(1, h // cell))
    return Image.frombytes("L", small, rng.randbytes(small[0] * small[1])).resize(size, Image.Resampling.NEAREST)


def _texture(img: Image.Image, strength: int, rng: random.Random) -> Image.Image:
    noise = _noise(img.size, rng)
    alpha = img.getchannel("A").point(lambda a: a * strength // 255)
    img.alpha_composite(Image.merge("RGBA", (noise, noise, noise, alpha)))
    return img


def _wrap(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float, lines: int) -> list[str]:
    flat = " ".join(text.split())[:600]
    cjk = bool(CJK.search(flat))
    words, out, line = (list(flat) if cjk else flat.split(" ")), [], ""  # Chinese breaks between characters
    joiner = "" if cjk else " "
    d = ImageDraw.Draw(Image.new("L", (1, 1)))
    for word in words:
        trial = f"{line}{joiner}{word}".strip()
        if d.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            out.append(line)
            line = word
            if len(out) == lines:
                break
    if len(out) < lines and line:
        out.append(line)
    if len(out) == lines and joiner.join(out) != joiner.join(words):
        out[-1] = out[-1].rstrip(".,;: ") + " …"
    return out


def _caption(img: Image.Image, text: str, box: tuple[int, int, int, int] | None = None, *,
             alpha: int = 165) -> None:
    """The prompt in a dark band at the bottom of ``box`` (default: the whole image)."""
    x0, y0, x1, y1 = box or (0, 0, img.width, img.height)
    size = max(10, min(x1 - x0, (y1 - y0) * 2) // 34)
    _band(img, text, (x0, y0, x1, y1), size, alpha)


def _band(img: Image.Image, text: str, box: tuple[int, int, int, int], size: int, alpha: int,
          lines_max: int = 3) -> int:
    """``text`` wrapped in a dark band at the bottom of ``box`` at font ``size``; returns the band's height."""
    x0, y0, x1, y1 = box
    font, shown = fonts.caption_font(size, text)
    lines = _wrap(shown, font, (x1 - x0) * 0.92, lines_max)
    if not lines:
        return 0
    pad = size // 2
    step = int(size * 1.3)
    band = Image.new("RGBA", (x1 - x0, min(len(lines) * step + 2 * pad, y1 - y0)), (0, 0, 0, alpha))
    d = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        d.text((pad, pad + i * step), line, font=font, fill=(255, 255, 255, 255))
    img.alpha_composite(band, dest=(x0, max(y0, y1 - band.height)))
    return band.height


def _label(img: Image.Image, text: str, box: tuple[int, int, int, int]) -> int:
    """``text`` at the bottom of ``box``, at the largest font (down to 10 px) whose band takes at most 40% of
    the box's height, so it is never cut; returns the band's height (0 when even 10 px would not fit)."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    size = min(max(10, min(bw, bh * 2) // 30), 36)
    while size >= 10:
        font, shown = fonts.caption_font(size, text)
        lines = _wrap(shown, font, bw * 0.92, 3)
        if lines and len(lines) * int(size * 1.3) + size <= bh * 0.4:
            return _band(img, text, box, size, 200)
        size -= 2
    return 0


def _badge(img: Image.Image, scene: Scene, extra: str = "", box: tuple[int, int, int, int] | None = None) -> None:
    """The red SIMULATED mark, with index and label, at the top left of ``box``."""
    x0, y0, x1, y1 = box or (0, 0, img.width, img.height)
    size = max(10, min(x1 - x0, y1 - y0) // 22)
    font, small = _font(size), _font(max(8, size // 2))
    d = ImageDraw.Draw(img)
    m = size // 2
    tw = int(d.textlength(MARK, font=font))
    d.rounded_rectangle((x0 + m, y0 + m, x0 + m + tw + size, y0 + m + int(size * 1.5)), radius=size // 3,
                        fill=(210, 20, 30, 255), outline=(255, 255, 255, 255), width=max(1, size // 12))
    d.text((x0 + m + size // 2, y0 + m + size // 5), MARK, font=font, fill=(255, 255, 255, 255))
    info = " · ".join(p for p in (f"#{scene.index + 1}/{scene.n}", scene.label, extra) if p)
    ih = int(size * 0.8)
    iw = int(d.textlength(info, font=small)) + size // 2
    d.rectangle((x0 + m, y0 + m + int(size * 1.7), x0 + m + iw, y0 + m + int(size * 1.7) + ih),
                fill=(0, 0, 0, 200))
    d.text((x0 + m + size // 4, y0 + m + int(size * 1.7) + ih // 8), info, font=small, fill=(255, 255, 255, 255))


def _finish(img: Image.Image, scene: Scene) -> Image.Image:
    if scene.style == "vivid":
        rgb = ImageEnhance.Contrast(ImageEnhance.Color(img.convert("RGB")).enhance(1.5)).enhance(1.15)
        rgb.putalpha(img.getchannel("A"))
        return rgb
    if scene.style == "natural":
        rgb = ImageEnhance.Color(img.convert("RGB")).enhance(0.7)
        rgb.putalpha(img.getchannel("A"))
        return rgb
    return img


def draw(scene: Scene, *, text: bool = True) -> Image.Image:
    """A new RGBA picture for ``scene``."""
    size = (scene.width, scene.height)
    rng = random.Random(scene.seed)
    _name, top, bottom, accents = palette_for(scene.prompt)
    img = Image.new("RGBA", size, (0, 0, 0, 0)) if scene.transparent else _gradient(size, top, bottom)
    w, h = size
    box = (int(w * 0.15), int(h * 0.12), int(w * 0.85), int(h * 0.8)) if scene.transparent else (0, 0, w, h)
    _shapes(img, scene, rng, accents, box)
    if DETAIL.get(scene.quality, 14) >= 24:
        _texture(img, 22, rng)
    img = _finish(img, scene)
    if text:
        _caption(img, scene.prompt)
        _badge(img, scene)
    return img


def fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``img`` cropped and scaled to exactly ``size`` (unchanged when it already has that size)."""
    return img if img.size == size else ImageOps.fit(img, size, Image.Resampling.BILINEAR)


def draw_edit(scene: Scene, base: Image.Image, refs: list[Image.Image], mask: Image.Image | None = None,
              markup: Image.Image | None = None) -> Image.Image:
    """An edit of ``base`` (already ``scene``-sized RGBA) that does what the prompt asks, visibly.

    With ``mask``, only where its alpha is below 255 changes (fully where it is 0, blended where a feathered
    edge is partly transparent): that area is repainted from its surroundings and the prompt's objects and
    colours (:mod:`.motifs`) are drawn in it, with the prompt as a label that fits the area. A ``markup`` marks
    the area the same way (the box around its strokes). With neither, the whole picture is repainted: a prompt
    that asks for a variation gets :func:`draw_variation`; others get the prompt's palette and objects, the
    reference images as thumbnails, and one caption.
    """
    rng = random.Random(scene.seed ^ 0x5EED)
    if mask is not None:
        region: Image.Image | None = ImageOps.invert(mask.getchannel("A"))
    elif markup is not None:
        region = _markup_area(markup)
    else:
        region = None
    if region is None:
        if motifs.asks_variation(scene.prompt):
            return draw_variation(scene, base, caption=scene.prompt)
        return _whole_edit(scene, base, refs, rng)
    box = region.getbbox()
    out = base.copy()
    if box is None:  # nothing to edit
        return out
    patch = _repaint(base, box)
    inner = _largest_rect(region, box)
    ix0, iy0, ix1, iy1 = (inner[0] - box[0], inner[1] - box[1], inner[2] - box[0], inner[3] - box[1])
    label_h = _label(patch, scene.prompt, (ix0, iy0, ix1, iy1))
    badge = max(10, min(ix1 - ix0, iy1 - iy0) // 22)
    top = iy0 + int(badge * 2.6) if min(ix1 - ix0, iy1 - iy0) >= 160 else iy0
    if top > iy0:
        _badge(patch, scene, "markup edit" if mask is None else "masked edit", (ix0, iy0, ix1, iy1))
    area = (ix0, top, ix1, iy1 - label_h)
    motifs.paint(ImageDraw.Draw(patch), motifs.motifs_for(scene.prompt), area, jitter=rng.uniform(-1, 1))
    _thumbnails(patch, refs, area, rng)
    out.paste(patch, box[:2], region.crop(box))
    return out


def _markup_area(markup: Image.Image) -> Image.Image | None:
    """The area a markup points at: the box around its strokes, a little grown."""
    box = markup.getchannel("A").getbbox()
    if box is None:
        return None
    w, h = markup.size
    g = max(w, h) // 40
    region = Image.new("L", markup.size, 0)
    region.paste(255, (max(0, box[0] - g), max(0, box[1] - g), min(w, box[2] + g), min(h, box[3] + g)))
    return region


def _repaint(base: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The pixels of ``box`` painted anew from their surroundings: a soft, lighter version."""
    w, h = base.size
    m = max(8, max(box[2] - box[0], box[3] - box[1]) // 8)
    outer = (max(0, box[0] - m), max(0, box[1] - m), min(w, box[2] + m), min(h, box[3] + m))
    area = base.crop(outer).convert("RGB")
    k = max(1, min(area.size) // 64)
    soft = area.reduce(k).filter(ImageFilter.GaussianBlur(2)).resize(area.size, Image.Resampling.BILINEAR)
    soft = Image.blend(soft, Image.new("RGB", soft.size, (238, 244, 252)), 0.14)  # a lighter, airier repaint
    inner = (box[0] - outer[0], box[1] - outer[1], box[2] - outer[0], box[3] - outer[1])
    return soft.crop(inner).convert("RGBA")


def _largest_rect(region: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The largest axis-aligned rectangle (on a coarse grid) fully inside ``region``'s edited area."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    cell = max(2, max(bw, bh) // 96)
    gw, gh = max(1, bw // cell), max(1, bh // cell)
    grid = np.asarray(region.crop(box).resize((gw, gh), Image.Resampling.BOX)) >= 250
    heights = np.zeros(gw, dtype=int)
    best, best_rect = 0, (0, 0, gw, gh)
    for row in range(gh):
        heights = np.where(grid[row], heights + 1, 0)
        stack: list[int] = []
        for col in range(gw + 1):
            cur = heights[col] if col < gw else 0
            while stack and heights[stack[-1]] >= cur:
                hgt = int(heights[stack.pop()])
                left = stack[-1] + 1 if stack else 0
                if hgt * (col - left) > best:
                    best, best_rect = hgt * (col - left), (left, row - hgt + 1, col, row + 1)
            stack.append(col)
    if best == 0:
        return box
    x0, y0, x1, y1 = best_rect
    return (box[0] + x0 * cell, box[1] + y0 * cell, box[0] + min(bw, x1 * cell), box[1] + min(bh, y1 * cell))


def _whole_edit(scene: Scene, base: Image.Image, refs: list[Image.Image], rng: random.Random) -> Image.Image:
    """The whole picture repainted as the prompt asks: its style's palette, its objects, the references."""
    size = (scene.width, scene.height)
    img = _simplified(base, size).convert("RGB")
    name, top, bottom, accents = palette_for(scene.prompt)
    if name != "default":
        tinted = ImageOps.colorize(img.convert("L"), black=bottom, white=top, mid=accents[0])
        img = Image.blend(img, tinted, 0.5)
    out = img.convert("RGBA")
    w, h = size
    unit = min(w, h)
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.3, 0.55)
    found = motifs.motifs_for(scene.prompt)
    r = unit * 0.2
    motifs.paint(ImageDraw.Draw(out), found, (cx - r * len(found), cy - r, cx + r * len(found), cy + r))
    _thumbnails(out, refs, (0, 0, w, h), rng)
    out = _finish(out, scene)
    _caption(out, scene.prompt)
    _badge(out, scene, "edit")
    return out


def _simplified(source: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``source`` at ``size``, softened, with thin strokes (lettering: captions, badges) filtered out."""
    img = fit(source, size).convert("RGB")
    return _unlettered(img).resize(size, Image.Resampling.BILINEAR)


def _unlettered(img: Image.Image) -> Image.Image:
    """``img`` at a third of its size (half when small) with thin strokes (lettering) filtered out."""
    k = 3 if min(img.size) >= 384 else 2 if min(img.size) >= 128 else 1
    return (img.reduce(k) if k > 1 else img).filter(ImageFilter.MedianFilter(5 if k > 1 else 3))


def _thumbnails(img: Image.Image, refs: list[Image.Image], box: tuple[int, int, int, int],
                rng: random.Random) -> None:
    if not refs:
        return
    x0, y0, x1, y1 = box
    side = max(8, min((x1 - x0) // (len(refs) + 1), (y1 - y0) // 3))
    y = y0 + int((y1 - y0 - side) * rng.uniform(0.25, 0.45))
    for i, ref in enumerate(refs):
        thumb = ImageOps.fit(ref.convert("RGBA"), (side, side), Image.Resampling.BILINEAR)
        x = x0 + (x1 - x0 - len(refs) * side) // 2 + i * side
        img.alpha_composite(thumb, dest=(max(0, x), max(0, y)))


def draw_variation(scene: Scene, source: Image.Image, caption: str | None = None) -> Image.Image:
    """A variation of ``source``: the same layout and palette, the details changed.

    The source's lettering (its caption and badge, if the simulator drew it) is filtered out; its colours are
    each nudged a little (hue, saturation, brightness), its shapes pushed a few percent by a smooth warp, a few
    small shapes in its own colours added; then one caption and the badge. Never mirrored: text stays readable.
    """
    rng = random.Random(scene.seed)
    size = (scene.width, scene.height)
    img = fit(source, size).convert("RGB")
    small = _unlettered(img)
    quant = small.quantize(48, method=Image.Quantize.FASTOCTREE)
    palette = quant.getpalette() or []
    nudged: list[int] = []
    for i in range(0, len(palette) - 2, 3):
        hh, ss, vv = colorsys.rgb_to_hsv(*(c / 255 for c in palette[i:i + 3]))
        r, g, b = colorsys.hsv_to_rgb((hh + rng.uniform(-0.03, 0.03)) % 1.0, min(1.0, ss * rng.uniform(0.85, 1.15)),
                                      min(1.0, vv * rng.uniform(0.92, 1.06)))
        nudged += [int(r * 255), int(g * 255), int(b * 255)]
    quant.putpalette(nudged)
    counts = quant.histogram()
    common = sorted(range(len(nudged) // 3), key=lambda i: -counts[i])[:6]
    colours = [tuple(nudged[3 * i:3 * i + 3]) for i in common] or [(128, 128, 128)]
    small = _warp(quant.convert("RGB"), rng, 0.035)
    d = ImageDraw.Draw(small)
    sw, sh = small.size
    for _ in range(3 + DETAIL.get(scene.quality, 14) // 6):
        r = min(sw, sh) * rng.uniform(0.015, 0.045)
        x, y = sw * rng.uniform(0.1, 0.9), sh * rng.uniform(0.15, 0.8)
        colour = colours[rng.randrange(len(colours))]
        edge = tuple(max(0, v - 70) for v in colour)
        if rng.random() < 0.5:
            d.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=edge, width=max(1, int(r / 8)))
        else:
            d.polygon([(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)], fill=colour, outline=edge)
    out = (small.resize(size, Image.Resampling.BILINEAR) if small.size != size else small).convert("RGBA")
    text = caption or (scene.prompt if scene.prompt != "variation" else "a variation of the uploaded image")
    _caption(out, text, alpha=200)
    _badge(out, scene, "variation")
    return out


def _warp(img: Image.Image, rng: random.Random, amount: float) -> Image.Image:
    """A smooth seeded warp: a 6x6 mesh whose middle corners move up to ``amount`` of the size. The edges and
    the top and bottom rows stay, so the badge and caption areas keep their place under the new ones."""
    w, h = img.size
    n = 6
    pts = [[(w * i / n, h * j / n) for j in range(n + 1)] for i in range(n + 1)]
    for i in range(1, n):
        for j in range(2, n - 1):
            x, y = pts[i][j]
            pts[i][j] = (x + rng.uniform(-amount, amount) * w, y + rng.uniform(-amount, amount) * h)
    mesh = []
    for i in range(n):
        for j in range(n):
            box = (round(w * i / n), round(h * j / n), round(w * (i + 1) / n), round(h * (j + 1) / n))
            nw, sw_, se, ne = pts[i][j], pts[i][j + 1], pts[i + 1][j + 1], pts[i + 1][j]
            mesh.append((box, (*nw, *sw_, *se, *ne)))
    return img.transform(img.size, Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR)


def draw_partial(final: Image.Image, scene: Scene, k: int, total: int) -> Image.Image:
    """Partial image ``k`` of ``total``: the final picture, pixelated less at each step."""
    divisor = {1: (12,), 2: (24, 8), 3: (40, 16, 6)}.get(total, (8,))[min(k, 2)]
    w, h = final.size
    small = final.resize((max(1, w // divisor), max(1, h // divisor)), Image.Resampling.BILINEAR)
    img = small.resize((w, h), Image.Resampling.NEAREST)
    _badge(img, scene, f"partial {k + 1}/{total}")
    return img


def gif_bytes(scene: Scene, frames: int, duration_ms: int) -> bytes:
    """An animated GIF: the picture with a ball crossing it, ``frames`` frames of ``duration_ms`` each."""
    base = draw(scene)
    _n, _t, _b, accents = palette_for(scene.prompt)
    out = []
    w, h = base.size
    r = min(w, h) // 14
    for f in range(frames):
        frame = base.copy()
        x = int(r + (w - 2 * r) * f / max(1, frames - 1))
        y = int(h * 0.5 - (h * 0.3) * abs((f / max(1, frames - 1)) * 2 - 1))
        ImageDraw.Draw(frame).ellipse((x - r, y - r, x + r, y + r), fill=accents[1] + (255,),
                                      outline=(255, 255, 255, 255), width=max(1, r // 8))
        out.append(frame.convert("RGB").quantize(colors=96, method=Image.Quantize.FASTOCTREE))
    buf = io.BytesIO()
    out[0].save(buf, "GIF", save_all=True, append_images=out[1:], duration=min(655_350, round(duration_ms, -1)),
                loop=0, comment=NOTE.encode())
    return buf.getvalue()


def svg_bytes(scene: Scene) -> bytes:
    """A small SVG: gradient, seeded shapes, caption and the SIMULATED badge."""
    from xml.sax.saxutils import escape

    rng = random.Random(scene.seed)
    _n, top, bottom, accents = palette_for(scene.prompt)
    w, h = scene.width, scene.height
    hexc = "#{:02x}{:02x}{:02x}".format
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
             f"<!-- {escape(NOTE)} -->",
             f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{hexc(*top)}"/>'
             f'<stop offset="1" stop-color="{hexc(*bottom)}"/></linearGradient></defs>']
    if not scene.transparent:
        parts.append(f'<rect width="{w}" height="{h}" fill="url(#g)"/>')
    for _ in range(DETAIL.get(scene.quality, 14)):
        c = hexc(*accents[rng.randrange(len(accents))])
        r = min(w, h) * rng.uniform(0.05, 0.25)
        parts.append(f'<circle cx="{rng.uniform(0.2, 0.8) * w:.0f}" cy="{rng.uniform(0.2, 0.8) * h:.0f}" '
                     f'r="{r:.0f}" fill="{c}"/>')
    fs = max(10, min(w, h) // 30)
    parts.append(f'<rect x="0" y="{h - 2 * fs}" width="{w}" height="{2 * fs}" fill="#000" fill-opacity="0.65"/>'
                 f'<text x="{fs // 2}" y="{h - fs // 2}" font-family="sans-serif" font-size="{fs}" fill="#fff">'
                 f"{escape(scene.prompt[:120])}</text>")
    parts.append(f'<rect x="{fs // 2}" y="{fs // 2}" width="{fs * 7}" height="{fs * 1.5:.0f}" rx="{fs // 3}" '
                 f'fill="#d2141e" stroke="#fff"/><text x="{fs}" y="{fs * 1.6:.0f}" font-family="sans-serif" '
                 f'font-size="{fs}" font-weight="bold" fill="#fff">{MARK}</text></svg>')
    return "\n".join(parts).encode()


def encode(img: Image.Image, fmt: str, compression: int | None = None, *, transparent: bool = False) -> bytes:
    """PNG (fast, lossless; RGB unless ``transparent``), JPEG or WebP with quality = ``compression`` (default 100)."""
    buf = io.BytesIO()
    quality = 100 if compression is None else compression
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "dalle_kit simulator")
        info.add_text("Comment", NOTE)
        (img if transparent else img.convert("RGB")).save(buf, "PNG", compress_level=1, pnginfo=info)
    elif fmt == "jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=quality, comment=NOTE.encode())
    elif fmt == "webp":
        (img if transparent else img.convert("RGB")).save(buf, "WEBP", quality=quality, method=2)
    else:
        raise InvalidArgument(f"encode() handles png, jpeg and webp, not {fmt!r}")
    return buf.getvalue()
