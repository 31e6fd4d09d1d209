"""Captions in Chinese: wrapped between characters, drawn with a CJK font when the system has one."""

from __future__ import annotations

import os

from PIL import ImageFont

from dalle_kit.simulator import render


def test_chinese_wraps_between_characters():
    font = ImageFont.load_default(size=20)
    lines = render._wrap("一只白色的暹罗猫坐在窗台上看外面的雨景" * 4, font, 200, 3)
    assert len(lines) == 3 and all(" " not in line for line in lines[:2]) and lines[-1].endswith("…")
    assert render._wrap("a cat on a mat", font, 2000, 3) == ["a cat on a mat"]


def test_cjk_font_is_a_real_file_or_none():
    path = render._cjk_font_file()
    assert path is None or os.path.isfile(path)
    font = render._font(24, True)
    if path:  # the glyphs exist: a Han character is wider than the 'missing glyph' box of the default font
        assert isinstance(font, ImageFont.FreeTypeFont) and font.path == path
        assert font.getbbox("猫") != font.getbbox("\uffff")
