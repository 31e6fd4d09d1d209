"""Pure rendering: a :class:`Scene` (what was asked) in, Pillow images and encoded bytes out. No HTTP here.

Pictures teach what the request did: exact size, the prompt as a caption, a red SIMULATED badge, detail that
grows with quality (more shapes, outlines, texture), real alpha for transparent backgrounds, a palette picked
by style words in the prompt (see :data:`STYLES`), and one distinct picture per index. Everything is seeded,
so the same scene gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import os
import random
import subprocess
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps, PngImagePlugin

from ..errors import InvalidArgument
from .palettes import CJK, RGB, STYLES, palette_for

__all__ = [
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


#: Fonts with Chinese glyphs, tried in order after fontconfig (Pillow's own font has none).
CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/STHeiti Medium.ttc",
             "C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf")


@functools.lru_cache(maxsize=1)
def _cjk_font_file() -> str | None:
    """A font file that has Chinese glyphs: fontconfig's answer, else a well-known path, else None."""
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    candidates = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()] + list(CJK_FONTS)
    return next((path for path in candidates if os.path.isfile(path)), None)


@functools.lru_cache(maxsize=32)
def _font(size: int, cjk: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size``; for text with Chinese, a system CJK font when there is one."""
    path = _cjk_font_file() if cjk else None
    try:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    except Exception:
        return ImageFont.load_default()


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


def _texture(img: Image.Image, strength: int) -> Image.Image:
    w, h = img.size
    noise = Image.effect_noise((max(1, w // 3), max(1, h // 3)), 60).resize((w, h), Image.Resampling.NEAREST)
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


def _caption(img: Image.Image, text: str, box: tuple[int, int, int, int] | None = None) -> None:
    """The prompt in a dark band at the bottom of ``box`` (default: the whole image)."""
    x0, y0, x1, y1 = box or (0, 0, img.width, img.height)
    size = max(10, min(x1 - x0, (y1 - y0) * 2) // 34)
    font = _font(size, bool(CJK.search(text)))
    lines = _wrap(text, font, (x1 - x0) * 0.92, 3)
    if not lines:
        return
    pad = size // 2
    band_h = len(lines) * int(size * 1.25) + 2 * pad
    band = Image.new("RGBA", (x1 - x0, min(band_h, y1 - y0)), (0, 0, 0, 165))
    d = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        d.text((pad, pad + i * int(size * 1.25)), line, font=font, fill=(255, 255, 255, 255))
    img.alpha_composite(band, dest=(x0, max(y0, y1 - band.height)))


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
        _texture(img, 22)
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
    """An edit of ``base`` (already ``scene``-sized RGBA). With ``mask``, pixels where its alpha is not 0 are
    copied from ``base`` unchanged; reference images appear as thumbnails in the edited area."""
    size = (scene.width, scene.height)
    rng = random.Random(scene.seed ^ 0x5EED)
    layer = draw(scene, text=False)
    if mask is not None:
        region = mask.getchannel("A").point(lambda a: 255 if a == 0 else 0)
    elif markup is not None:
        region = markup.getchannel("A").point(lambda a: 255 if a > 0 else 0)
    else:
        region = None
    box = region.getbbox() if region is not None else None
    box = box or (0, 0) + size
    _thumbnails(layer, refs, box, rng)
    if region is None:
        out = Image.blend(base, layer, 0.4)
        _thumbnails(out, refs, box, random.Random(scene.seed ^ 0x5EED))
        _caption(out, scene.prompt)
        _badge(out, scene, "edit")
        return out
    if markup is not None:
        guided = Image.blend(base, layer, 0.75)
        out = base.copy()
        out.paste(guided, (0, 0), region)
        _caption(out, scene.prompt)
        _badge(out, scene, "markup edit")
        return out
    x0, y0, x1, y1 = box  # inset, so round holes still show the mark
    inset = (x0 + (x1 - x0) * 3 // 20, y0 + (y1 - y0) * 3 // 20, x1 - (x1 - x0) * 3 // 20, y1 - (y1 - y0) * 3 // 20)
    _caption(layer, scene.prompt, inset)
    _badge(layer, scene, "masked edit", inset)
    out = base.copy()
    out.paste(layer, (0, 0), region)
    return out


def _thumbnails(img: Image.Image, refs: list[Image.Image], box: tuple[int, int, int, int],
                rng: random.Random) -> None:
    if not refs:
        return
    x0, y0, x1, y1 = box
    side = max(8, min((x1 - x0) // (len(refs) + 1), (y1 - y0) // 3))
    y = y0 + int((y1 - y0 - side) * rng.uniform(0.25, 0.45))
    for i, ref in enumerate(refs):
        thumb = ImageOps.fit(ref, (side, side), Image.Resampling.BILINEAR)
        x = x0 + (x1 - x0 - len(refs) * side) // 2 + i * side
        img.alpha_composite(thumb, dest=(max(0, x), max(0, y)))


def draw_variation(scene: Scene, source: Image.Image) -> Image.Image:
    """A variation that resembles ``source``: mirrored for odd indexes, hue-shifted, zoomed a little."""
    rng = random.Random(scene.seed)
    size = (scene.width, scene.height)
    zoom = rng.uniform(0.0, 0.08)
    w, h = source.size
    crop = source.crop((int(w * zoom), int(h * zoom), int(w * (1 - zoom)), int(h * (1 - zoom))))
    img = fit(crop, size).convert("RGB")
    if scene.index % 2:
        img = ImageOps.mirror(img)
    hh, ss, vv = img.convert("HSV").split()
    shift = rng.randint(12, 40) * (1 if rng.random() < 0.5 else -1)
    img = Image.merge("HSV", (hh.point(lambda v: (v + shift) % 256), ss, vv)).convert("RGBA")
    _badge(img, scene, "variation")
    return img


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
