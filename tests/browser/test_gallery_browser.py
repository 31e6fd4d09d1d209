"""Gallery in JupyterLab + Chromium: the store's thumbnails show newest first; typing in the search box narrows
them; a tile's toggle shows the image's details; Recall shows the request."""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.browser

CELLS = [
    """\
from dalle_kit import Kit
from dalle_kit.widgets.gallery import Gallery
kit = Kit(quiet=True)
for prompt in ["a lighthouse at dusk", "a white cat", "a red fox", "a lighthouse in fog"]:
    kit.generate(prompt, size="1024x1024", quality="low")""",
    "gallery = Gallery(kit)\ngallery",
]
NOTEBOOKS = {"gallery.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}


def test_a_search_narrows_the_thumbnails(lab, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    try:
        page.goto(lab.open("gallery.ipynb"))
        page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        widget = page.locator(".jp-Cell").nth(1).locator(".dk-gallery")
        tiles = widget.locator(".dk-gallery-tile")
        tiles.nth(3).wait_for(timeout=90_000)
        assert tiles.count() == 4
        assert [b.inner_text() for b in tiles.locator("button").all()] == [
            "a lighthouse in fog", "a red fox", "a white cat", "a lighthouse at dusk"]  # newest first
        assert tiles.locator("img").count() == 4
        assert "1–4 of 4" in widget.locator(".dk-gallery-status").inner_text()

        search = widget.locator(".widget-text", has_text="Search").locator("input")
        search.press_sequentially("lighthouse")
        search.press("Enter")  # the box sends on Enter (continuous_update=False)
        widget.locator(".dk-gallery-status", has_text="1–2 of 2").wait_for(timeout=30_000)
        assert [b.inner_text() for b in tiles.locator("button").all()] == ["a lighthouse in fog",
                                                                           "a lighthouse at dusk"]

        tiles.nth(1).locator("button").click()  # select it: its details show
        details = widget.locator(".dk-gallery-details")
        details.wait_for(timeout=30_000)
        assert "a lighthouse at dusk" in details.inner_text() and "request id" in details.inner_text()
        widget.locator("button.widget-button", has_text="Recall").click()
        recalled = widget.locator(".dk-recalled")
        recalled.wait_for(timeout=30_000)
        assert '"prompt": "a lighthouse at dusk"' in recalled.inner_text()
        assert widget.locator(".dk-error").count() == 0
    finally:
        context.close()
