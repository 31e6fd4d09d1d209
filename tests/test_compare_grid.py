"""CompareGrid: the static HTML fallback (headers, thumbnails, legend, never a full-size image), the widget view in
its mimebundle, the labelled PNG and the HTML page, the twins (``select``), ``to_dataframe``."""

from __future__ import annotations

import base64
import io
import re
import sys
import types
from pathlib import Path

import pytest
from PIL import Image

from dalle_kit import InvalidArgument, Kit
from dalle_kit.compare import compare

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    home = tmp_path_factory.mktemp("grid-home")
    with Kit(offline=True, quiet=True, home=home) as kit:
        yield compare(kit, "a white siamese cat", x="quality=low,xhigh", y="style=natural,vivid",
                      z="model=gpt-image-2.5-flare,gpt-image-2", confirm=False, progress=False,
                      size="1536x1024")


def embedded_images(text: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"data:image/[a-z]+;base64,([A-Za-z0-9+/=]+)", text)]


def test_static_html_has_headers_thumbnails_legend_and_no_full_image(grid):
    page = grid._repr_html_()
    for text in ("quality", "low", "xhigh", "natural", "vivid", "model = gpt-image-2", "a white siamese cat",
                 "DALL·E 3&#x27;s style parameter", "1536x1024", "tokens", "$"):
        assert text in page, text
    thumbs = embedded_images(page)
    assert len(thumbs) == 6  # 8 cells, 2 refused (xhigh on gpt-image-2)
    assert page.count("class='dk-empty'") == 2 and "not accepted" in page
    full = {image.bytes for image in grid.images}
    for thumb in thumbs:
        assert thumb not in full and len(thumb) < 8_000
        with Image.open(io.BytesIO(thumb)) as img:
            assert max(img.size) <= 256 and img.format == "WEBP"


def test_mimebundle_carries_the_static_fallback_and_in_a_kernel_the_widget(grid, monkeypatch):
    bundle = grid._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and bundle["text/plain"].startswith("CompareGrid(compare 2×2×2")
    monkeypatch.setattr("dalle_kit.compare_grid._in_kernel", lambda: True)
    bundle = grid._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == grid.widget.model_id and "dk-grid" in bundle["text/html"]
    assert "dk-grid" in grid.static()._repr_html_()


def test_png_export_is_one_labelled_image(grid, tmp_path):
    path = grid.save(tmp_path / "grid.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width >= 2 * 320 and img.height >= 2 * 2 * 320
        assert img.convert("L").getextrema() != (255, 255)  # not blank
    assert grid.save(tmp_path / "grid.jpg").stat().st_size > 10_000
    with pytest.raises(InvalidArgument, match=r"name a \.png"):
        grid.save(tmp_path / "grid.gif")


def test_html_export_links_the_full_files(grid, tmp_path):
    (tmp_path / "out").mkdir()
    page = grid.save(tmp_path / "out" / "grid.html")
    text = page.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">', text)
    assert len(links) == 6 and text.startswith("<!doctype html>")
    for link in links:
        assert (page.parent / link).resolve().is_file()
    assert {(page.parent / link).resolve() for link in links} == {
        Path(o.images[0].stored_at).resolve() for o in grid.cells.values() if o.images}


def test_select_is_the_click_twin(grid):
    view = grid.widget
    image = grid.select(1, 0, 1)
    assert image is grid.cells[(1, 0, 1)].images[0] and view.selected == [1, 0, 1]
    assert view._full.value == image.bytes and "provenance" in view._info.value
    assert grid.select(1, 1, 1) is None and view.selected == [1, 1, 1]
    assert "not accepted" in view._info.value and view._full.layout.display == "none"
    view.hide_detail()
    assert view.selected == [] and view._full.value == b"" and grid.selected is None
    with pytest.raises(InvalidArgument, match="no cell"):
        view.select(5, 0)
    assert "no cell" in view.error


def test_the_widget_has_tabs_for_z_and_open_buttons(grid):
    import ipywidgets

    view = grid.widget
    tabs = view.children[1]
    assert tabs.titles == ("model = gpt-image-2.5-flare", "model = gpt-image-2")
    buttons = [c.children[-1] for c in tabs.children[0].children if hasattr(c, "children")]
    assert len(buttons) == 4 and all(isinstance(b, ipywidgets.Button) for b in buttons)
    buttons[3].click()  # row 1 (vivid), column 1 (xhigh), grid 0
    assert view.selected == [1, 1, 0] and view.error == ""


def test_to_dataframe_needs_pandas(grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(InvalidArgument, match="pip install pandas"):
        grid.to_dataframe()
    monkeypatch.setitem(sys.modules, "pandas", types.SimpleNamespace(DataFrame=lambda rows: rows))
    rows = grid.to_dataframe()
    assert len(rows) == 8 and rows[3]["quality"] == "xhigh" and rows[3]["style"] == "vivid"
    refused = [r for r in rows if r["source"] == "invalid"]
    assert len(refused) == 2 and all("not accepted" in r["reason"] and r["path"] == "" for r in refused)


def test_in_a_notebook_the_grid_shows_first_and_fills_in_as_results_arrive(monkeypatch):
    import ipywidgets

    from dalle_kit import compare as compare_module
    from dalle_kit import compare_grid
    from dalle_kit.widgets.compare import CompareView

    for module in (compare_module, compare_grid):
        monkeypatch.setattr(module, "_in_kernel", lambda: True)
    shown: list[tuple] = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def display(obj, display_id=False):
        shown.append(("display", obj, sum(o.ok for o in obj.cells.values())))
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    refreshed = []
    original = CompareView.refresh_cell

    def refresh(self, key):
        refreshed.append((key, self.grid.cells[key].ok))
        original(self, key)

    monkeypatch.setattr(CompareView, "refresh_cell", refresh)
    with Kit(offline=True, quiet=True) as kit:
        grid = kit.compare("a kite", x="quality=low,medium", y={"size": ["1024x1024", "1536x1024"]}, confirm=False,
                           progress=False)
    assert shown[0][0] == "display" and shown[0][2] == 0  # on screen before any result
    assert sorted(key for key, _ in refreshed) == sorted(grid.cells)  # each cell once, as its answer arrived
    assert all(ok for _, ok in refreshed)
    assert shown[-1] == ("update", grid)  # the saved output's static fallback is the finished grid
    thumbs = [c for box in grid.widget._boxes for c in box.children if isinstance(c, ipywidgets.VBox)]
    assert len(thumbs) == 4 and grid.result.sent == 4
