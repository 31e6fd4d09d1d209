"""Fonts for the simulator's lettering: Chinese captions never render as boxes.

The package ships ``NotoSansSC-subset.otf`` (SIL Open Font License 1.1, see ``NotoSansSC-subset-OFL.txt``): a
subset of Noto Sans SC with Latin, common punctuation and the 3,755 most used Han characters (GB2312 level 1)
plus every Han character dalle_kit itself uses. It is tried first, so a caption is drawn the same on every
machine. A character it lacks is looked for in a system CJK font (fontconfig, then well-known paths on Linux,
macOS and Windows); a character that no font here can draw is written as a readable ``[N CJK chars]`` note.
With no CJK font at all, one :class:`MissingGlyphWarning` per process says how to get one.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import warnings
from pathlib import Path

from PIL import ImageFont

__all__ = ["CJK_FONTS", "SHIPPED", "MissingGlyphWarning", "caption_font", "cjk_font_file", "draws", "font",
           "system_cjk_files"]

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

#: The CJK font that ships inside the package (a subset of Noto Sans SC, OFL 1.1).
SHIPPED = Path(__file__).with_name("NotoSansSC-subset.otf")

#: System fonts with Chinese glyphs, tried in order after fontconfig.
CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/STHeiti Medium.ttc",
             "C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf")

#: Characters that get a glyph check: Chinese (radicals, punctuation, Han, compatibility and fullwidth forms).
_CHECKED = re.compile(r"[\u2e80-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
_NOTDEF = "\uffff"  # a noncharacter: every font draws its .notdef box for it
_warned: set[str] = set()


class MissingGlyphWarning(UserWarning):
    """No CJK font could be found on this machine: Chinese captions show ``[N CJK chars]`` instead."""


@functools.lru_cache(maxsize=1)
def system_cjk_files() -> tuple[str, ...]:
    """System font files with Chinese glyphs: fontconfig's answer, then the well-known paths that exist."""
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    found = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()] + list(CJK_FONTS)
    return tuple(dict.fromkeys(path for path in found if os.path.isfile(path)))


def _candidates() -> tuple[str, ...]:
    return ((str(SHIPPED),) if SHIPPED.is_file() else ()) + system_cjk_files()


def cjk_font_file() -> str | None:
    """The first font file with Chinese glyphs: the shipped subset, else a system font, else None."""
    return next(iter(_candidates()), None)


@functools.lru_cache(maxsize=64)
def font(size: int, path: str | None = None) -> Font:
    """``path`` at ``size`` (Pillow's default font when None or unreadable)."""
    try:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    except Exception:
        return ImageFont.load_default()


@functools.lru_cache(maxsize=8192)
def draws(path: str | None, char: str) -> bool:
    """Whether the font at ``path`` has a real glyph for ``char`` (not its .notdef box)."""
    if char.isspace() or not _CHECKED.match(char):
        return True
    f = font(24, path)
    mask = f.getmask(char)
    return mask.getbbox() is not None and bytes(mask) != bytes(f.getmask(_NOTDEF))


def _missing(path: str | None, text: str) -> set[str]:
    return {ch for ch in set(_CHECKED.findall(text)) if not draws(path, ch)}


def caption_font(size: int, text: str) -> tuple[Font, str]:
    """A font for ``text`` at ``size`` and the text to draw with it.

    The first font (shipped subset, then system CJK fonts, then Pillow's) that draws every character; else the
    one that draws most, with each run of characters it cannot draw replaced by ``[N CJK chars]``. When there
    is no CJK font at all (the shipped one removed, none on the system), one :class:`MissingGlyphWarning` per
    process says how to get one.
    """
    if not _CHECKED.search(text):
        return font(size), text
    paths: list[str | None] = [*_candidates(), None]
    best, best_missing = paths[0], _missing(paths[0], text)
    for path in paths[1:]:
        if not best_missing:
            break
        missing = _missing(path, text)
        if len(missing) < len(best_missing):
            best, best_missing = path, missing
    if not best_missing:
        return font(size, best), text
    shown = re.sub("[" + re.escape("".join(sorted(best_missing))) + "]+",
                   lambda m: f"[{len(m.group())} CJK char{'s' if len(m.group()) > 1 else ''}]", text)
    if not _candidates() and "warned" not in _warned:  # no CJK font at all: say how to get one, once
        _warned.add("warned")
        warnings.warn(f"dalle_kit simulator: no font here draws {''.join(sorted(best_missing))[:20]!r}; captions "
                      "show [N CJK chars] instead. Reinstall dalle_kit (it ships a Noto Sans SC subset) or install "
                      "a CJK font (Debian: apt-get install fonts-noto-cjk).", MissingGlyphWarning, stacklevel=3)
    return font(size, best), shown
