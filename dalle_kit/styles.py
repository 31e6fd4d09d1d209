"""The style library as data: keywords in English and Chinese, grouped as in the tutorials, plus presets.

Groups and keywords follow the tutorial's ``styles`` table (绘画风格, 数字艺术, 摄影风格, 艺术流派); the four
enhancement presets are its ``enhance_prompt`` phrases. ``DALLE3_STYLES`` turns DALL·E 3's retired ``style``
parameter into prompt words, from the wording of the old SDK docstring ("Vivid causes the model to lean towards
generating hyper-real and dramatic images. Natural causes the model to produce more natural, less hyper-real
looking images."), so old code can be translated honestly.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .errors import UnknownName

__all__ = ["DALLE3_STYLES", "GROUPS", "PRESETS", "STYLES", "Language", "Style", "find", "group"]

Language = Literal["en", "zh"]


@dataclass(frozen=True)
class Style:
    """One style keyword: a key, its English and Chinese wording, its group, and a caution if any."""

    key: str
    en: str
    zh: str
    group: str
    note: str = ""

    def text(self, language: Language = "en") -> str:
        return self.zh if language == "zh" else self.en


GROUPS: MappingProxyType[str, str] = MappingProxyType({
    "painting": "绘画风格",
    "digital": "数字艺术",
    "photography": "摄影风格",
    "movements": "艺术流派",
})

_LIVING = ("a living artist: models may decline to imitate living artists; describe the traits instead "
           "(e.g. hand-drawn animation, soft watercolour skies)")

STYLES: tuple[Style, ...] = (
    Style("oil_painting", "oil painting", "油画", "painting"),
    Style("watercolor", "watercolor painting", "水彩画", "painting"),
    Style("sketch", "pencil sketch", "素描", "painting"),
    Style("chinese_painting", "traditional Chinese ink painting", "国画", "painting"),
    Style("acrylic", "acrylic painting", "丙烯画", "painting"),
    Style("impressionism", "impressionism", "印象派", "painting"),
    Style("surrealism", "surrealism", "超现实主义", "painting"),
    Style("pop_art", "pop art", "波普艺术", "painting"),
    Style("minimalism", "minimalism", "极简主义", "painting"),
    Style("digital_painting", "digital painting", "数字绘画", "digital"),
    Style("concept_art", "concept art", "概念艺术", "digital"),
    Style("cyberpunk", "cyberpunk", "赛博朋克", "digital"),
    Style("pixel_art", "pixel art", "像素艺术", "digital"),
    Style("3d_render", "3D render", "3D渲染", "digital"),
    Style("vector", "vector illustration", "矢量图", "digital"),
    Style("flat_design", "flat design", "扁平化设计", "digital"),
    Style("professional_photo", "professional photography", "专业摄影", "photography"),
    Style("portrait_photo", "portrait photography", "人像摄影", "photography"),
    Style("landscape_photo", "landscape photography", "风景摄影", "photography"),
    Style("macro_photo", "macro photography", "微距摄影", "photography"),
    Style("black_and_white", "black and white photography", "黑白摄影", "photography"),
    Style("vintage_photo", "vintage photography", "复古摄影", "photography"),
    Style("cinematic", "cinematic", "电影感", "photography"),
    Style("van_gogh", "in the style of Vincent van Gogh", "梵高风格", "movements"),
    Style("monet", "in the style of Claude Monet", "莫奈风格", "movements"),
    Style("picasso", "in the style of Pablo Picasso", "毕加索风格", "movements"),
    Style("miyazaki", "in the style of Hayao Miyazaki", "宫崎骏风格", "movements", _LIVING),
    Style("shinkai", "in the style of Makoto Shinkai", "新海诚风格", "movements", _LIVING),
    Style("ghibli", "in the style of Studio Ghibli", "吉卜力风格", "movements",
          "a studio's house style: models may decline it; describe the traits instead"),
)

#: The tutorial's enhancement presets: name -> (English phrase, Chinese phrase).
PRESETS: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "realistic": ("photorealistic, highly detailed, professional photography", "照片级写实，高细节，专业摄影"),
    "artistic": ("artistic, creative, expressive brushstrokes", "艺术感，富有创意，笔触奔放"),
    "cinematic": ("cinematic lighting, dramatic atmosphere, movie scene", "电影级光影，戏剧性氛围，电影场景"),
    "minimalist": ("minimalist, clean lines, simple composition", "极简，线条干净，构图简洁"),
})

#: DALL·E 3's ``style`` values as prompt words for models without the parameter.
DALLE3_STYLES: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "vivid": ("hyper-real and dramatic, vivid saturated colours", "超写实，戏剧化，色彩鲜艳饱和"),
    "natural": ("natural and true to life, soft realistic colours, nothing exaggerated",
                "自然真实，色彩柔和写实，不夸张"),
})

_INDEX = {name.lower(): s for s in STYLES for name in (s.key, s.en, s.zh)}


def find(name: str) -> Style | None:
    """The library style named ``name`` (its key, English or Chinese wording), or None."""
    return _INDEX.get(name.strip().lower())


def group(name: str) -> tuple[Style, ...]:
    """The styles of one group (``painting``, ``digital``, ``photography``, ``movements``)."""
    if name not in GROUPS:
        raise UnknownName(f"no style group {name!r}; groups are {', '.join(GROUPS)}")
    return tuple(s for s in STYLES if s.group == name)
