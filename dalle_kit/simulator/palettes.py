"""Palettes for the simulator's pictures: style words in the prompt (English or Chinese) pick the colours."""

from __future__ import annotations

import colorsys
import re

__all__ = ["CJK", "RGB", "SCENES", "STYLES", "hsv", "palette_for"]

RGB = tuple[int, int, int]

#: Style words (matched as whole words, earliest in the prompt wins) -> palette (top, bottom, accents).
STYLES: tuple[tuple[str, tuple[str, ...], RGB, RGB, tuple[RGB, ...]], ...] = (
    ("watercolor", ("水彩", "watercolor", "watercolour", "aquarelle"), (250, 246, 238), (214, 230, 240),
     ((120, 170, 210), (230, 150, 170), (150, 200, 170), (240, 200, 120))),
    ("neon", ("赛博朋克", "霓虹", "neon", "cyberpunk", "synthwave", "vaporwave"), (20, 8, 40), (60, 10, 80),
     ((255, 40, 200), (40, 240, 255), (180, 80, 255), (255, 230, 60))),
    ("noir", ("黑白", "noir", "monochrome", "grayscale", "greyscale", "black and white"), (235, 235, 235), (40, 40, 40),
     ((20, 20, 20), (110, 110, 110), (180, 180, 180), (250, 250, 250))),
    ("pastel", ("pastel", "kawaii", "cute"), (255, 240, 245), (225, 240, 255),
     ((255, 190, 210), (190, 230, 210), (210, 200, 250), (255, 235, 180))),
    ("vintage", ("复古", "vintage", "sepia", "retro", "old photo"), (240, 225, 190), (150, 110, 70),
     ((120, 80, 40), (200, 150, 90), (90, 60, 40), (230, 200, 150))),
    ("sunset", ("sunset", "sunrise", "golden hour", "dusk"), (255, 190, 90), (120, 40, 110),
     ((255, 110, 60), (255, 220, 100), (200, 60, 90), (90, 30, 90))),
    ("forest", ("forest", "jungle", "nature", "woodland", "moss"), (200, 230, 190), (30, 80, 40),
     ((40, 120, 50), (110, 170, 70), (120, 85, 50), (200, 220, 120))),
    ("ocean", ("ocean", "sea", "underwater", "beach", "lagoon"), (170, 225, 245), (10, 60, 120),
     ((20, 120, 190), (40, 190, 200), (240, 220, 170), (250, 250, 250))),
    ("winter", ("winter", "snow", "ice", "frozen", "arctic"), (245, 250, 255), (170, 200, 230),
     ((255, 255, 255), (140, 180, 220), (90, 120, 170), (210, 230, 250))),
    ("fire", ("fire", "lava", "volcano", "inferno", "flames"), (60, 10, 5), (255, 120, 20),
     ((255, 60, 0), (255, 200, 40), (150, 20, 10), (30, 10, 10))),
    ("pop", ("波普", "卡通", "pop art", "comic", "cartoon", "bauhaus"), (255, 250, 230), (255, 230, 90),
     ((230, 30, 40), (30, 80, 220), (250, 210, 0), (20, 20, 20))),
    ("oil", ("油画", "印象派", "oil painting", "impressionist", "impressionism", "renaissance", "baroque"),
     (120, 90, 50), (40, 50, 80),
     ((200, 150, 60), (60, 90, 150), (160, 60, 50), (230, 210, 160))),
    ("minimal", ("极简", "扁平", "minimal", "minimalist", "flat design", "clean"), (250, 250, 250), (235, 235, 235),
     ((30, 30, 30), (230, 80, 60), (60, 60, 60), (200, 200, 200))),
    ("pixel", ("像素", "pixel art", "8-bit", "16-bit", "voxel"), (40, 40, 90), (100, 60, 140),
     ((250, 200, 50), (60, 200, 90), (230, 70, 70), (90, 170, 250))),
    ("cinematic", ("cinematic", "movie scene", "film still", "dramatic lighting", "电影"), (20, 45, 60),
     (200, 110, 40), ((255, 150, 60), (30, 130, 150), (240, 200, 140), (15, 25, 35))),
    ("vivid", ("vivid", "saturated", "hyper-real", "鲜艳", "超写实"), (255, 60, 120), (60, 40, 255),
     ((255, 230, 0), (0, 230, 160), (255, 90, 0), (150, 0, 255))),
    ("expressive", ("artistic", "expressive", "brushstrokes", "艺术感", "笔触"), (90, 40, 110), (240, 150, 60),
     ((250, 210, 80), (200, 60, 110), (70, 150, 200), (250, 120, 80))),
    ("ink", ("chinese ink", "ink painting", "sumi-e", "国画", "水墨"), (245, 240, 228), (215, 208, 190),
     ((25, 25, 25), (90, 90, 90), (180, 30, 30), (150, 150, 140))),
    ("photo", ("photorealistic", "photograph", "photo", "realistic", "dslr", "摄影", "写实"), (190, 200, 205),
     (95, 85, 70), ((150, 120, 90), (70, 90, 110), (200, 180, 150), (60, 60, 55))),
    ("anime", ("动漫", "吉卜力", "宫崎骏", "anime", "manga", "ghibli", "cel shaded"), (150, 210, 255), (255, 225, 235),
     ((255, 120, 150), (80, 160, 255), (255, 250, 250), (120, 210, 120))),
    ("sketch", ("素描", "sketch", "pencil", "charcoal", "line art", "ink drawing"), (252, 250, 245), (225, 222, 215),
     ((60, 60, 60), (120, 120, 120), (30, 30, 30), (170, 170, 170))),
    ("clay", ("3d渲染", "3d render", "claymation", "clay", "isometric", "low poly"), (230, 215, 250), (190, 230, 220),
     ((255, 140, 110), (110, 140, 255), (255, 210, 90), (120, 220, 170))),
    ("glass", ("stained glass", "mosaic", "jewel"), (30, 30, 60), (10, 60, 60),
     ((200, 20, 60), (20, 90, 200), (240, 180, 20), (30, 160, 80))),
    ("ukiyoe", ("ukiyo-e", "woodblock", "japanese print"), (240, 228, 200), (40, 60, 100),
     ((30, 50, 110), (200, 60, 50), (230, 210, 170), (60, 100, 140))),
)
#: Palettes named after what is in the picture; any medium or look in the prompt wins over them.
SCENES = frozenset({"sunset", "forest", "ocean", "winter", "fire"})
CJK = re.compile(r"[\u3400-\u9fff]")  # Han characters


def _word_pattern(word: str) -> str:
    """Whole words for Latin script; CJK has no spaces between words, so those match anywhere."""
    return re.escape(word) if CJK.search(word) else r"\b" + re.escape(word) + r"\b"


_STYLE_RE = [(name, re.compile("|".join(_word_pattern(w) for w in words)), top, bottom, accents)
             for name, words, top, bottom, accents in STYLES]


def hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def palette_for(prompt: str) -> tuple[str, RGB, RGB, tuple[RGB, ...]]:
    """(style name, top colour, bottom colour, accents) for a prompt; a hue from the prompt when no word matches.

    The earliest medium or look word wins (watercolor, cinematic ...); scene words (sea, snow ...) count only
    when there is none, so the same subject in different styles looks different.
    """
    low = prompt.lower()
    best: tuple[int, int, tuple[str, RGB, RGB, tuple[RGB, ...]]] | None = None
    for name, regex, top, bottom, accents in _STYLE_RE:
        m = regex.search(low)
        rank = (name in SCENES, m.start()) if m else None  # a medium or look beats a scene word
        if rank and (best is None or rank < best[:2]):
            best = (*rank, (name, top, bottom, accents))
    if best:
        return best[2]
    hue = (sum(map(ord, low)) * 0.6180339) % 1.0
    return ("default", hsv(hue, 0.25, 0.97), hsv(hue + 0.08, 0.55, 0.55),
            tuple(hsv(hue + d, 0.65, 0.85) for d in (0.0, 0.33, 0.5, 0.75)))
