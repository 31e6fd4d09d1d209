"""What an edit prompt asks for, drawn: colour words and object words (English or Chinese) to simple shapes.

``motifs_for("add a red balloon in the sky")`` gives ``[Motif("balloon", (220, 30, 40))]``; :func:`paint` draws
it. Prompts that ask to remove something (remove, erase, 删除 ...) give no motif: the area is only repainted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageDraw

from .palettes import CJK, RGB

__all__ = ["COLOURS", "OBJECTS", "Motif", "asks_removal", "asks_variation", "motifs_for", "paint"]

#: Colour words -> colour.
COLOURS: dict[str, RGB] = {
    "red": (220, 30, 40), "红": (220, 30, 40), "orange": (245, 130, 20), "橙": (245, 130, 20),
    "yellow": (250, 215, 30), "黄": (250, 215, 30), "gold": (230, 180, 40), "golden": (230, 180, 40),
    "金": (230, 180, 40), "green": (40, 160, 60), "绿": (40, 160, 60), "blue": (30, 90, 220), "蓝": (30, 90, 220),
    "cyan": (30, 200, 220), "teal": (20, 150, 150), "青": (20, 150, 150), "purple": (140, 50, 190),
    "violet": (140, 50, 190), "紫": (140, 50, 190), "pink": (250, 120, 180), "粉": (250, 120, 180),
    "brown": (130, 80, 40), "棕": (130, 80, 40), "black": (25, 25, 25), "黑": (25, 25, 25),
    "white": (250, 250, 250), "白": (250, 250, 250), "grey": (140, 140, 140), "gray": (140, 140, 140),
    "灰": (140, 140, 140), "silver": (200, 205, 210), "银": (200, 205, 210),
}

Draw = Callable[[ImageDraw.ImageDraw, float, float, float, RGB], None]


def _dark(c: RGB, k: int = 90) -> tuple[int, int, int, int]:
    return (max(0, c[0] - k), max(0, c[1] - k), max(0, c[2] - k), 255)


def _a(c: RGB) -> tuple[int, int, int, int]:
    return (*c, 255)


def _w(r: float) -> int:
    return max(1, int(r / 18))


def _balloon(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.line((x, y + r * 0.55, x - r * 0.15, y + r * 0.8, x + r * 0.1, y + r), fill=_dark(c, 140), width=_w(r))
    d.ellipse((x - r * 0.42, y - r * 0.75, x + r * 0.42, y + r * 0.35), fill=_a(c), outline=_dark(c), width=_w(r))
    d.polygon([(x, y + r * 0.33), (x - r * 0.08, y + r * 0.45), (x + r * 0.08, y + r * 0.45)], fill=_dark(c, 40))
    d.ellipse((x - r * 0.25, y - r * 0.55, x - r * 0.1, y - r * 0.3), fill=(255, 255, 255, 170))


def _sun(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    for i in range(12):
        t = i * math.pi / 6
        d.line((x + r * 0.6 * math.cos(t), y + r * 0.6 * math.sin(t), x + r * 0.95 * math.cos(t),
                y + r * 0.95 * math.sin(t)), fill=_a(c), width=_w(r) * 2)
    d.ellipse((x - r * 0.5, y - r * 0.5, x + r * 0.5, y + r * 0.5), fill=_a(c), outline=_dark(c, 50), width=_w(r))


def _moon(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    outer = [(x - r * 0.7 * math.sin(t * math.pi / 24), y - r * 0.7 * math.cos(t * math.pi / 24)) for t in range(25)]
    inner = [(x - r * 0.3 * math.sin(t * math.pi / 24), y - r * 0.7 * math.cos(t * math.pi / 24))
             for t in range(24, -1, -1)]
    d.polygon(outer + inner, fill=_a(c), outline=_dark(c, 60), width=_w(r))


def _star(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    pts = [(x + (r * 0.8 if i % 2 == 0 else r * 0.33) * math.sin(i * math.pi / 5),
            y - (r * 0.8 if i % 2 == 0 else r * 0.33) * math.cos(i * math.pi / 5)) for i in range(10)]
    d.polygon(pts, fill=_a(c), outline=_dark(c), width=_w(r))


def _tree(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.rectangle((x - r * 0.09, y + r * 0.3, x + r * 0.09, y + r * 0.9), fill=(110, 70, 35, 255))
    for k, top in enumerate((-0.9, -0.55, -0.2)):
        half = r * (0.35 + 0.15 * k)
        d.polygon([(x, y + r * top), (x - half, y + r * (top + 0.55)), (x + half, y + r * (top + 0.55))],
                  fill=_a(c), outline=_dark(c), width=_w(r))


def _house(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.rectangle((x - r * 0.6, y - r * 0.1, x + r * 0.6, y + r * 0.8), fill=_a(c), outline=_dark(c), width=_w(r))
    d.polygon([(x - r * 0.78, y - r * 0.1), (x, y - r * 0.8), (x + r * 0.78, y - r * 0.1)],
              fill=_dark(c, 60), outline=_dark(c), width=_w(r))
    d.rectangle((x - r * 0.15, y + r * 0.35, x + r * 0.15, y + r * 0.8), fill=(90, 55, 30, 255))
    d.rectangle((x + r * 0.25, y + r * 0.05, x + r * 0.48, y + r * 0.28), fill=(250, 240, 170, 255))


def _boat(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.polygon([(x - r * 0.8, y + r * 0.3), (x + r * 0.8, y + r * 0.3), (x + r * 0.55, y + r * 0.65),
               (x - r * 0.55, y + r * 0.65)], fill=_a(c), outline=_dark(c), width=_w(r))
    d.line((x, y + r * 0.3, x, y - r * 0.85), fill=(80, 60, 40, 255), width=_w(r) * 2)
    d.polygon([(x + r * 0.05, y - r * 0.8), (x + r * 0.6, y + r * 0.2), (x + r * 0.05, y + r * 0.2)],
              fill=(250, 250, 245, 255), outline=(120, 120, 120, 255))


def _bird(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    for dx, dy, s in ((0, 0, 1.0), (-0.5, 0.35, 0.6), (0.45, 0.45, 0.5)):
        cx, cy, rr = x + dx * r, y + dy * r, r * 0.45 * s
        d.arc((cx - rr, cy - rr * 0.6, cx, cy + rr * 0.6), 200, 340, fill=_a(c), width=_w(r) * 2)
        d.arc((cx, cy - rr * 0.6, cx + rr, cy + rr * 0.6), 200, 340, fill=_a(c), width=_w(r) * 2)


def _flower(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.line((x, y, x, y + r), fill=(40, 140, 50, 255), width=_w(r) * 2)
    for i in range(6):
        t = i * math.pi / 3
        px, py = x + r * 0.32 * math.cos(t), y - r * 0.2 + r * 0.32 * math.sin(t)
        d.ellipse((px - r * 0.2, py - r * 0.2, px + r * 0.2, py + r * 0.2), fill=_a(c), outline=_dark(c),
                  width=_w(r))
    d.ellipse((x - r * 0.15, y - r * 0.35, x + r * 0.15, y - r * 0.05), fill=(250, 210, 40, 255))


def _cloud(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    for dx, dy, rr in ((-0.45, 0.1, 0.35), (0.0, -0.1, 0.45), (0.45, 0.1, 0.35), (0.0, 0.2, 0.35)):
        d.ellipse((x + (dx - rr) * r, y + (dy - rr) * r, x + (dx + rr) * r, y + (dy + rr) * r), fill=_a(c))


def _cat(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.polygon([(x - r * 0.55, y - r * 0.2), (x - r * 0.45, y - r * 0.8), (x - r * 0.1, y - r * 0.45)], fill=_a(c),
              outline=_dark(c), width=_w(r))
    d.polygon([(x + r * 0.55, y - r * 0.2), (x + r * 0.45, y - r * 0.8), (x + r * 0.1, y - r * 0.45)], fill=_a(c),
              outline=_dark(c), width=_w(r))
    d.ellipse((x - r * 0.6, y - r * 0.55, x + r * 0.6, y + r * 0.45), fill=_a(c), outline=_dark(c), width=_w(r))
    for ex in (-0.22, 0.22):
        d.ellipse((x + (ex - 0.07) * r, y - r * 0.15, x + (ex + 0.07) * r, y), fill=(30, 30, 30, 255))
    d.polygon([(x - r * 0.06, y + r * 0.08), (x + r * 0.06, y + r * 0.08), (x, y + r * 0.16)],
              fill=(230, 110, 130, 255))


def _hat(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.ellipse((x - r * 0.85, y + r * 0.15, x + r * 0.85, y + r * 0.45), fill=_a(c), outline=_dark(c), width=_w(r))
    d.rounded_rectangle((x - r * 0.45, y - r * 0.6, x + r * 0.45, y + r * 0.3), radius=r * 0.12, fill=_a(c),
                        outline=_dark(c), width=_w(r))
    d.rectangle((x - r * 0.45, y + r * 0.05, x + r * 0.45, y + r * 0.2), fill=_dark(c, 70))


def _fish(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.polygon([(x + r * 0.35, y), (x + r * 0.85, y - r * 0.35), (x + r * 0.85, y + r * 0.35)], fill=_dark(c, 30))
    d.ellipse((x - r * 0.7, y - r * 0.35, x + r * 0.5, y + r * 0.35), fill=_a(c), outline=_dark(c), width=_w(r))
    d.ellipse((x - r * 0.45, y - r * 0.12, x - r * 0.3, y + r * 0.03), fill=(20, 20, 20, 255))


def _mountain(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.polygon([(x - r, y + r * 0.7), (x - r * 0.2, y - r * 0.7), (x + r * 0.6, y + r * 0.7)], fill=_a(c),
              outline=_dark(c), width=_w(r))
    d.polygon([(x - r * 0.2, y - r * 0.7), (x - r * 0.38, y - r * 0.38), (x - r * 0.02, y - r * 0.38)],
              fill=(250, 250, 250, 255))
    d.polygon([(x - r * 0.1, y + r * 0.7), (x + r * 0.45, y - r * 0.3), (x + r, y + r * 0.7)], fill=_dark(c, 40))


def _heart(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.ellipse((x - r * 0.6, y - r * 0.5, x, y + r * 0.1), fill=_a(c))
    d.ellipse((x, y - r * 0.5, x + r * 0.6, y + r * 0.1), fill=_a(c))
    d.polygon([(x - r * 0.58, y - r * 0.1), (x + r * 0.58, y - r * 0.1), (x, y + r * 0.65)], fill=_a(c))


def _kite(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.line((x, y + r * 0.5, x - r * 0.3, y + r * 0.8, x + r * 0.1, y + r), fill=(60, 60, 60, 255), width=_w(r))
    d.polygon([(x, y - r * 0.8), (x + r * 0.45, y - r * 0.1), (x, y + r * 0.5), (x - r * 0.45, y - r * 0.1)],
              fill=_a(c), outline=_dark(c), width=_w(r))
    d.line((x, y - r * 0.8, x, y + r * 0.5), fill=_dark(c), width=_w(r))
    d.line((x - r * 0.45, y - r * 0.1, x + r * 0.45, y - r * 0.1), fill=_dark(c), width=_w(r))


def _umbrella(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    d.line((x, y - r * 0.2, x, y + r * 0.75), fill=(60, 60, 60, 255), width=_w(r) * 2)
    d.arc((x, y + r * 0.6, x + r * 0.3, y + r * 0.9), 0, 180, fill=(60, 60, 60, 255), width=_w(r) * 2)
    d.pieslice((x - r * 0.85, y - r * 0.8, x + r * 0.85, y + r * 0.4), 180, 360, fill=_a(c), outline=_dark(c),
               width=_w(r))


def _rainbow(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    bands = ((230, 40, 40), (245, 140, 30), (250, 220, 40), (60, 170, 70), (40, 110, 220), (130, 60, 190))
    for i, band in enumerate(bands):
        rr = r * (0.95 - i * 0.09)
        d.arc((x - rr, y - rr * 0.8, x + rr, y + rr * 0.8), 180, 360, fill=(*band, 255), width=max(2, int(r * 0.09)))


def _blob(d: ImageDraw.ImageDraw, x: float, y: float, r: float, c: RGB) -> None:
    """Anything the vocabulary has no shape for: a rounded token in the asked colour."""
    d.rounded_rectangle((x - r * 0.6, y - r * 0.45, x + r * 0.6, y + r * 0.45), radius=r * 0.25, fill=_a(c),
                        outline=_dark(c), width=_w(r))
    d.ellipse((x - r * 0.2, y - r * 0.2, x + r * 0.2, y + r * 0.2), fill=_dark(c, -60 if sum(c) < 300 else 60))


#: Object words -> (shape, default colour).
OBJECTS: dict[str, tuple[Draw, RGB]] = {}
for _words, _entry in (
    (("balloon", "balloons", "气球"), (_balloon, (220, 30, 40))),
    (("sun", "太阳"), (_sun, (250, 200, 30))),
    (("moon", "crescent", "月亮"), (_moon, (245, 235, 170))),
    (("star", "stars", "星星", "星"), (_star, (250, 215, 40))),
    (("tree", "trees", "pine", "树"), (_tree, (40, 140, 60))),
    (("house", "cabin", "cottage", "home", "房子", "房屋", "小屋"), (_house, (210, 120, 80))),
    (("boat", "ship", "sailboat", "yacht", "船", "帆船"), (_boat, (180, 60, 50))),
    (("bird", "birds", "seagull", "gull", "鸟"), (_bird, (40, 40, 50))),
    (("flower", "flowers", "rose", "tulip", "花"), (_flower, (240, 90, 140))),
    (("cloud", "clouds", "云"), (_cloud, (250, 250, 252))),
    (("cat", "kitten", "猫"), (_cat, (240, 150, 60))),
    (("hat", "帽子", "帽"), (_hat, (60, 50, 120))),
    (("fish", "鱼"), (_fish, (250, 140, 40))),
    (("mountain", "mountains", "hill", "山"), (_mountain, (110, 120, 140))),
    (("heart", "love", "心"), (_heart, (225, 40, 80))),
    (("kite", "风筝"), (_kite, (230, 60, 60))),
    (("umbrella", "伞"), (_umbrella, (60, 90, 210))),
    (("rainbow", "彩虹"), (_rainbow, (230, 40, 40))),
):
    for _word in _words:
        OBJECTS[_word] = _entry

_REMOVE = re.compile(r"\b(remove|erase|delete|clear|get rid of|without)\b|删除|去掉|去除|移除|擦掉")
_VARIATION = re.compile(r"\bvariations?\b|变体|变奏")


def _pattern(words: list[str]) -> re.Pattern[str]:
    parts = sorted(words, key=len, reverse=True)  # longest first: 帽子 before 帽, 星星 before 星
    return re.compile("|".join(re.escape(w) if CJK.search(w) else r"\b" + re.escape(w) + r"\b" for w in parts))


_COLOUR_RE = _pattern(list(COLOURS))
_OBJECT_RE = _pattern(list(OBJECTS))


@dataclass(frozen=True)
class Motif:
    """One thing to draw: the object word that asked for it and its colour."""

    word: str
    colour: RGB

    def draw(self, d: ImageDraw.ImageDraw, x: float, y: float, r: float) -> None:
        OBJECTS.get(self.word, (_blob, self.colour))[0](d, x, y, r, self.colour)


def asks_removal(prompt: str) -> bool:
    return bool(_REMOVE.search(prompt.lower()))


def asks_variation(prompt: str) -> bool:
    return bool(_VARIATION.search(prompt.lower()))


def motifs_for(prompt: str, limit: int = 3) -> list[Motif]:
    """The objects a prompt asks for, each in the colour word just before it (else its own colour); a prompt
    with colour words but no known object gives one token in that colour; a removal gives nothing."""
    low = prompt.lower()
    if asks_removal(low):
        return []
    colours = [(m.start(), COLOURS[m.group()]) for m in _COLOUR_RE.finditer(low)]
    out: list[Motif] = []
    for m in _OBJECT_RE.finditer(low):
        word = m.group()
        before = [c for at, c in colours if at < m.start()]
        colour = before[-1] if before else OBJECTS[word][1]
        if all(x.word != word for x in out):
            out.append(Motif(word, colour))
    if not out and colours:
        out.append(Motif("", colours[0][1]))
    return out[:limit]


def paint(d: ImageDraw.ImageDraw, motifs: list[Motif], box: tuple[float, float, float, float],
          jitter: float = 0.0) -> None:
    """Draw ``motifs`` side by side, centred in ``box`` (``jitter`` in -1..1 moves them sideways a little)."""
    if not motifs:
        return
    x0, y0, x1, y1 = box
    slot = (x1 - x0) / len(motifs)
    r = min(slot * 0.42, (y1 - y0) * 0.45)
    if r < 4:
        return
    for i, motif in enumerate(motifs):
        cx = x0 + slot * (i + 0.5) + jitter * max(0.0, slot / 2 - r)
        motif.draw(d, cx, (y0 + y1) / 2, r)
