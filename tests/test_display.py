"""``dalle_kit.show`` (thumbnails in one row, nothing written) and the offline notice (one calm line)."""

from __future__ import annotations

import base64
import io
import re

import pytest
from helpers import png_bytes
from PIL import Image

import dalle_kit
from dalle_kit import ImageSet, InvalidArgument, Kit, masks, show
from dalle_kit import display as dk_display

DATA_URI = re.compile(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')


def _thumbs(page: str) -> list[tuple[str, Image.Image]]:
    return [(mime, Image.open(io.BytesIO(base64.b64decode(data)))) for mime, data in DATA_URI.findall(page)]


@pytest.fixture
def kit():
    return Kit(quiet=True)


def test_show_is_public_and_lazy():
    assert "show" in dalle_kit.__all__ and dalle_kit.show is dk_display.show


def test_an_overlay_shows_as_one_small_thumbnail_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    picture = Image.new("RGB", (1536, 1024), "#48a")
    mask = masks.ellipse(picture, (560, 240, 980, 600))
    overlay = masks.overlay(picture, mask)
    page = dk_display.row_html(overlay)
    [(mime, thumb)] = _thumbs(page)
    assert mime == "image/jpeg" and thumb.size == (320, 213)
    assert len(page) < 20_000  # the full-size overlay is ~1 MB as PNG
    assert "1536×1024" in page  # the default caption: the full size
    assert overlay.size == (1536, 1024) and list(tmp_path.iterdir()) == []


def test_four_images_are_one_row_of_four_with_titles(kit):
    images = kit.generate("a red kite", n=4, size="1024x1024", quality="low")
    page = dk_display.row_html(images, width=200, titles=["a", "b", "c", "d"])
    assert "flex-wrap:nowrap" in page and page.count("<figure") == 4
    assert [t.size for _, t in _thumbs(page)] == [(200, 200)] * 4
    assert re.findall(r"<figcaption[^>]*>([^<]*)<", page) == ["a", "b", "c", "d"]
    assert "flex-wrap:nowrap" in images._repr_html_() and images._repr_html_().count("<img") == 4


def test_bytes_paths_and_alpha(tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(png_bytes((64, 48)))
    page = dk_display.row_html(png_bytes((40, 40), mode="RGBA"), path)
    (alpha_mime, _), (mime, thumb) = _thumbs(page)
    assert alpha_mime == "image/webp" and mime == "image/jpeg" and thumb.size == (64, 48)  # never enlarged
    assert "p.png · 64×48" in page


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidArgument, match="show\\(\\) takes"):
        dk_display.row_html(42)
    with pytest.raises(InvalidArgument, match="cannot read"):
        dk_display.row_html(b"not an image")
    with pytest.raises(InvalidArgument, match="one title per image"):
        dk_display.row_html(Image.new("RGB", (8, 8)), titles=["a", "b"])
    with pytest.raises(InvalidArgument, match="width"):
        dk_display.row_html(Image.new("RGB", (8, 8)), width=0)


def test_show_outside_a_notebook_prints_the_captions(capsys):
    show(Image.new("RGB", (30, 20)), titles=["tiny"])
    assert capsys.readouterr().out == "tiny\n"


def test_an_image_result_carries_one_picture_only(kit):
    result = kit.generate("a red kite", size="1536x1024", quality="low")
    bundle = result._repr_html_()
    assert bundle.count("<img") == 1 and not hasattr(result, "_repr_png_") and not hasattr(result, "_repr_jpeg_")
    assert "flex-wrap:nowrap" in ImageSet([result, result])._repr_html_()


def test_the_offline_notice_is_one_plain_stderr_line_in_a_terminal(capsys):
    Kit()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "offline simulator" in captured.err and "OPENAI_API_KEY" in captured.err


def test_the_offline_notice_in_a_notebook_is_one_grey_line_once(monkeypatch, capsys, recwarn):
    shown: list[dict[str, str]] = []
    monkeypatch.setattr(dk_display, "in_notebook", lambda: True)
    monkeypatch.setattr(dk_display, "_SHOWN", set())
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    Kit()
    Kit()
    assert len(shown) == 1 and capsys.readouterr().err == "" and not recwarn.list  # no stderr box, no warning
    assert shown[0]["text/html"].startswith('<div style="font:12px sans-serif;color:#777')
    assert "offline simulator" in shown[0]["text/plain"]
