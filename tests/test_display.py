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
    assert mime == "image/jpeg" and thumb.size == (256, 171)
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


def test_a_result_shows_its_own_cached_thumbnail_and_is_never_decoded_again(kit, monkeypatch):
    from dalle_kit import results

    assert dk_display.THUMB_PX == results.THUMBNAIL_PX
    image = kit.generate("a red kite", size="1536x1024", quality="low")
    image.thumbnail()  # made once (the engine's workers make it for a batch)
    monkeypatch.setattr(type(image), "pil", property(lambda self: pytest.fail("decoded the full image again")))
    [(_, thumb)] = _thumbs(dk_display.row_html(image))
    assert thumb.size == (256, 171)
    [(_, small)] = _thumbs(dk_display.row_html(image, width=160))  # smaller: from the cached small copy
    assert small.size == (160, 107)


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


class _Area:
    """A stand-in for IPython's ``DisplayHandle``: what was shown first and every update after."""

    def __init__(self, data: dict[str, str]) -> None:
        self.shown = [data]

    def update(self, data: dict[str, str], raw: bool = False) -> None:
        assert raw
        self.shown.append(data)


@pytest.fixture
def areas(monkeypatch):
    made: list[_Area] = []

    def display(data, raw=False, display_id=None):
        assert raw and display_id is True  # one updatable output, not a new output per preview
        made.append(_Area(data))
        return made[-1]

    monkeypatch.setattr(dk_display, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", display)
    return made


def test_streamed_previews_replace_each_other_in_one_display_area(kit, areas):
    events = kit.generate("a lighthouse at dusk", size="1536x864", quality="low", stream=True, partial_images=3)
    final = dk_display.show_stream(events, width=200, title="streaming")
    [area] = areas
    assert "waiting for the first preview" in area.shown[0]["text/html"]
    assert len(area.shown) == 1 + 4  # the placeholder, three previews, the final image
    for data in area.shown[1:]:
        assert data["text/html"].count("<figure") == 1 and data["text/plain"].startswith("streaming\n")
        [(_, thumb)] = _thumbs(data["text/html"])
        assert max(thumb.size) == 200
    assert [re.search(r"preview \d", d["text/plain"]).group() for d in area.shown[1:4]] == [
        "preview 1", "preview 2", "preview 3"]
    assert "preview" not in area.shown[-1]["text/plain"] and final.caption() in area.shown[-1]["text/plain"]
    assert final.partial is None and final.size == "1536x864" and final.stored_at is not None


def test_a_streamed_set_shows_as_one_row_and_a_rerun_shows_only_the_finals(kit, areas):
    params = dict(size="1024x1024", quality="low", stream=True, partial_images=1, n=2)
    images = dk_display.show_stream(kit.generate("a red kite", **params))
    assert isinstance(images, ImageSet) and [r.index for r in images] == [0, 1]
    last = areas[0].shown[-1]
    assert last["text/html"].count("<figure") == 2 and "flex-wrap:nowrap" in last["text/html"]
    again = dk_display.show_stream(kit.generate("a red kite", **params))  # from the store: finals only
    assert len(areas[1].shown) == 1 + 2 and all(r.source == "store" for r in again)


def test_show_stream_outside_a_notebook_prints_each_caption(kit, capsys):
    final = dk_display.show_stream(kit.generate("a kite", size="1024x1024", quality="low", stream=True,
                                                partial_images=2))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "preview 1" in lines[0] and "preview 2" in lines[1] and lines[2] == final.caption()


def test_show_stream_takes_a_plain_result_and_says_when_nothing_arrived(kit, areas):
    plain = kit.generate("a kite", size="1024x1024", quality="low")
    assert dk_display.show_stream(plain) is plain

    def broken():
        raise ConnectionError("dropped")
        yield plain  # pragma: no cover

    with pytest.raises(ConnectionError):
        dk_display.show_stream(broken())
    assert areas[-1].shown[-1]["text/plain"] == "no preview arrived (ConnectionError)"
    with pytest.raises(dalle_kit.ResponseError, match="without a final image"):
        dk_display.show_stream([])
    with pytest.raises(InvalidArgument, match="width"):
        dk_display.show_stream([plain], width=4)


def test_ashow_stream_is_the_async_twin(kit, areas):
    import asyncio

    async def main():
        events = await kit.agenerate("a lantern", size="1024x1024", quality="low", stream=True, partial_images=2)
        return await dk_display.ashow_stream(events)

    final = asyncio.run(main())
    assert final.partial is None and len(areas[0].shown) == 1 + 3
