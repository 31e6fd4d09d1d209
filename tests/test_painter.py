"""MaskPainter without a browser: its Python twins equal dalle_kit.masks calls; browser strokes arrive as PNGs."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import traitlets as t
from PIL import Image, ImageDraw

from dalle_kit import Kit, masks
from dalle_kit.widgets import MaskPainter

SIZE = (1536, 1024)


@pytest.fixture
def photo():
    img = Image.new("RGB", SIZE, (30, 90, 160))
    ImageDraw.Draw(img).ellipse((400, 200, 1100, 900), fill=(240, 200, 60))
    return img


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


def browser_png(area: Image.Image, color=(255, 40, 120)) -> str:
    """What painter.js sends: the canvas as a PNG data URL, tint colour with alpha = edit area."""
    canvas = Image.new("RGBA", area.size, color + (0,))
    canvas.putalpha(area)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_twins_produce_the_same_mask_as_masks_calls(photo):
    painter = MaskPainter(photo, brush_size=50)
    painter.add_stroke([(100, 120), (380, 300), (600, 260)])
    painter.add_rect((700, 500, 1000, 800))
    painter.add_ellipse((1100, 100, 1400, 350))
    painter.add_stroke([(750, 550), (950, 750)], 30, erase=True)
    painter.add_polygon([(50, 900), (300, 700), (500, 1000)])
    want = masks.brush(SIZE, [(100, 120), (380, 300), (600, 260)], 50)
    want = masks.rectangle(SIZE, (700, 500, 1000, 800), base=want)
    want = masks.ellipse(SIZE, (1100, 100, 1400, 350), base=want)
    want = masks.brush(SIZE, [(750, 550), (950, 750)], 30, base=want, erase=True)
    want = masks.polygon(SIZE, [(50, 900), (300, 700), (500, 1000)], base=want)
    assert same(painter.mask, want)
    painter.invert()
    assert same(painter.mask, masks.invert(want))
    painter.undo()
    assert same(painter.mask, want)


def test_mask_is_an_api_mask_of_the_pictures_exact_size(photo):
    painter = MaskPainter(photo)
    assert painter.empty and painter.mask.size == SIZE and painter.mask.mode == "RGBA"
    painter.add_stroke([(500, 500)])
    assert not painter.empty
    masks.check(photo, painter.mask, "gpt-image-2.5-flare")


def test_undo_clear_and_history_limit(photo):
    painter = MaskPainter(photo, history=2)
    assert not painter.can_undo
    for x in (100, 300, 500):
        painter.add_rect((x, 100, x + 50, 150))
    painter.clear()
    assert painter.empty and painter.can_undo
    painter.undo()
    assert masks.coverage(painter.mask) == pytest.approx(3 * 2500 / (SIZE[0] * SIZE[1]))
    painter.undo()
    painter.undo()  # beyond the two kept steps: nothing happens
    assert masks.coverage(painter.mask) == pytest.approx(2 * 2500 / (SIZE[0] * SIZE[1]))
    assert not painter.can_undo


def test_buttons_send_messages_that_run_the_twins(photo):
    painter = MaskPainter(photo)
    painter.add_rect((0, 0, 100, 100))
    painter._on_message(painter, {"event": "invert"}, [])
    assert masks.coverage(painter.mask) == pytest.approx(1 - 100 * 100 / (SIZE[0] * SIZE[1]))
    painter._on_message(painter, {"event": "undo"}, [])
    painter._on_message(painter, {"event": "clear"}, [])
    assert painter.empty
    painter._on_message(painter, {"event": "nonsense"}, [])
    assert painter.empty


def test_a_stroke_from_the_browser_becomes_the_mask(photo):
    painter = MaskPainter(photo)
    area = Image.new("L", SIZE, 0)
    ImageDraw.Draw(area).ellipse((100, 100, 400, 300), fill=255)
    area.paste(100, (600, 600, 700, 700))  # anti-aliased pixels under half alpha are not edited
    start = painter.revision
    painter.area_url = browser_png(area)
    assert painter.revision == start + 1 and painter.can_undo
    want = masks.from_area(area.point(lambda a: 255 if a >= 128 else 0))
    assert same(painter.mask, want)
    painter.undo()
    assert painter.empty


def test_its_own_picture_coming_back_is_not_a_new_step(photo):
    painter = MaskPainter(photo)
    painter.add_rect((0, 0, 10, 10))
    revision = painter.revision
    painter.area_url = painter.area_url  # the echo ipywidgets sends back
    assert painter.revision == revision


def test_python_sends_the_edit_area_the_browser_draws(photo):
    painter = MaskPainter(photo)
    painter.add_ellipse((200, 200, 600, 500))
    with Image.open(io.BytesIO(base64.b64decode(painter.area_url.partition(",")[2]))) as sent:
        assert sent.size == SIZE
        assert np.array_equal(np.asarray(sent.getchannel("A")) == 255, np.asarray(painter.mask.getchannel("A")) == 0)
    assert "to edit" in painter.status


def test_display_copy_is_small_and_repr_has_a_static_preview(photo, tmp_path):
    big = photo.resize((3072, 2048))
    painter = MaskPainter(big)
    assert (painter.width, painter.height) == (3072, 2048)
    assert len(painter.image_url) < 400_000 and painter.image_url.startswith("data:image/jpeg")
    painter.add_rect((0, 0, 1536, 1024))
    data, _ = painter._repr_mimebundle_()
    preview = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert max(preview.size) == 512 and "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "MaskPainter(3072x2048, 25.0% to edit)"


def test_accepts_paths_results_and_exif_rotated_photos(photo, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "p.jpg", exif=exif)
    assert MaskPainter(tmp_path / "p.jpg").size == (1024, 1536)
    result = Kit(offline=True, quiet=True).generate("a lake", size="1024x1024", quality="low")
    assert MaskPainter(result).size == (1024, 1024)


def test_set_mask_loads_a_mask_from_dalle_kit_masks(photo):
    painter = MaskPainter(photo)
    painter.set_mask(masks.feather(masks.ellipse(photo, (10, 10, 300, 300)), 5))
    assert not painter.empty
    with pytest.raises(ValueError, match="no alpha"):
        painter.set_mask(Image.new("L", SIZE))
    with pytest.raises(ValueError, match="prepare"):
        painter.set_mask(masks.blank((10, 10)))


def test_painted_edit_on_the_simulator_changes_nothing_outside(photo):
    painter = MaskPainter(photo, brush_size=90)
    painter.add_stroke([(300, 800), (700, 400), (1200, 700)])
    result = Kit(offline=True, quiet=True).edit(photo, "a rainbow", mask=painter.mask, quality="low")
    changed = (np.asarray(photo, dtype=int) != np.asarray(result.pil.convert("RGB"), dtype=int)).any(-1)
    inside = np.asarray(painter.mask.getchannel("A")) == 0
    assert not changed[~inside].any() and changed[inside].mean() > 0.9


def test_twin_errors_show_in_the_painter_and_still_raise(photo):
    painter = MaskPainter(photo)
    assert "error" in painter.keys  # synced: painter.js shows it under the picture
    with pytest.raises(ValueError, match="no alpha") as caught:
        painter.set_mask(Image.new("L", SIZE))
    assert painter.last_error is caught.value
    assert painter.error.startswith("InvalidArgument: mask has no alpha") and "Traceback" not in painter.error
    painter.add_rect((0, 0, 10, 10))
    assert painter.error == "" and painter.last_error is None


def test_bad_control_values_are_refused_with_a_message_in_the_painter(photo):
    painter = MaskPainter(photo)
    with pytest.raises(t.TraitError, match="tool must be one of brush, eraser, rect, ellipse, not 'spray'"):
        painter.tool = "spray"
    assert painter.tool == "brush" and painter.error.endswith("not 'spray'")
    with pytest.raises(t.TraitError, match="at least 1"):
        painter.brush_size = 0
    with pytest.raises(t.TraitError, match="between 0 and 1"):
        painter.opacity = 1.5
    assert "Traceback" not in painter.error
    painter.tool = "eraser"
    assert painter.tool == "eraser" and painter.brush_size > 0


def test_browser_actions_never_raise_and_show_the_error(photo, monkeypatch):
    painter = MaskPainter(photo)
    painter.area_url = "data:image/png;base64,bm90IGEgcG5n"  # a broken stroke from the browser
    assert isinstance(painter.last_error, OSError) and "Traceback" in painter.error
    painter._handle_custom_msg({"event": "clear"}, [])  # how ipywidgets delivers a button's message
    assert painter.error == "" and painter.empty

    def broken(mask):
        raise RuntimeError("cannot invert")

    monkeypatch.setattr(masks, "invert", broken)
    painter._handle_custom_msg({"event": "invert"}, [])
    assert painter.error.startswith("Traceback") and painter.error.endswith("RuntimeError: cannot invert")
