"""Captions in Chinese: wrapped between characters, drawn with the shipped CJK font, never as boxes."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageChops, ImageFont, ImageStat

from dalle_kit.simulator import fonts, render


def test_chinese_wraps_between_characters():
    font = ImageFont.load_default(size=20)
    lines = render._wrap("一只白色的暹罗猫坐在窗台上看外面的雨景" * 4, font, 200, 3)
    assert len(lines) == 3 and all(" " not in line for line in lines[:2]) and lines[-1].endswith("…")
    assert render._wrap("a cat on a mat", font, 2000, 3) == ["a cat on a mat"]


def test_the_package_ships_a_small_cjk_font_with_its_licence():
    assert fonts.SHIPPED.is_file() and fonts.SHIPPED.stat().st_size < 1_200_000
    assert "Open Font License" in fonts.SHIPPED.with_name("NotoSansSC-subset-OFL.txt").read_text()
    assert render._cjk_font_file() == str(fonts.SHIPPED)  # tried first: the same caption on every machine


def test_cjk_glyphs_are_not_tofu():
    font = render._font(40, True)
    assert isinstance(font, ImageFont.FreeTypeFont) and font.path == str(fonts.SHIPPED)
    notdef = bytes(font.getmask("\uffff"))
    glyphs = {ch: bytes(font.getmask(ch)) for ch in "一只戴着帽子的猫狗水彩赛博朋克"}
    assert all(g != notdef and any(g) for g in glyphs.values())
    assert len(set(glyphs.values())) == len(glyphs)  # every character its own glyph
    assert all(fonts.draws(font.path, ch) for ch in glyphs) and not fonts.draws(None, "猫")


def caption_strip(prompt: str) -> Image.Image:
    img = render.draw(render.Scene(prompt, 512, 512, "low", seed=1))
    return img.crop((0, 470, 512, 512)).convert("L")


def test_a_chinese_caption_shows_its_characters():
    cat, dog = caption_strip("一只戴着帽子的猫"), caption_strip("一只戴着帽子的狗")
    assert ImageChops.difference(cat, dog).getbbox() is not None  # the last character is drawn as itself
    lit = ImageStat.Stat(cat.point(lambda v: 255 if v > 200 else 0)).sum[0] / 255
    assert lit > 150  # white strokes in the band


def test_no_font_at_all_draws_a_readable_note_and_warns_once(monkeypatch):
    monkeypatch.setattr(fonts, "_candidates", lambda: ())
    monkeypatch.setattr(fonts, "_warned", set())
    with pytest.warns(fonts.MissingGlyphWarning, match="fonts-noto-cjk"):
        font, shown = fonts.caption_font(20, "一只猫 in a hat")
    assert shown == "[3 CJK chars] in a hat" and not isinstance(font, str)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: the second caption is quiet
        assert fonts.caption_font(20, "狗")[1] == "[1 CJK char]"
        render.draw(render.Scene("一只戴着帽子的猫", 256, 256, "low"))


def test_a_character_missing_from_the_subset_comes_from_a_system_font_or_the_note(monkeypatch):
    rare = "龘"  # not in GB2312 level 1
    assert not fonts.draws(str(fonts.SHIPPED), rare)
    monkeypatch.setattr(fonts, "_warned", {"warned"})
    font, shown = fonts.caption_font(20, f"猫{rare}")
    system = [p for p in fonts.system_cjk_files() if fonts.draws(p, rare)]
    if system:
        assert shown == f"猫{rare}" and getattr(font, "path", None) == system[0]
    else:
        assert shown == "猫[1 CJK char]" and getattr(font, "path", None) == str(fonts.SHIPPED)


def test_system_cjk_fonts_are_real_files():
    assert all(os.path.isfile(p) for p in fonts.system_cjk_files())
