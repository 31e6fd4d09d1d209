"""A comparison grid in JupyterLab + Chromium: after Run All the grid's legend, axis headers and thumbnails show
(the refused cell empty, with its reason); a cell's "open" button shows the full-size image and its details, and
"close" takes them away."""

from __future__ import annotations

import re

import nbformat
import pytest

pytestmark = pytest.mark.browser

CELLS = [
    "from dalle_kit import Kit\nkit = Kit(quiet=True)",
    """\
grid = kit.compare("a white siamese cat", x={"quality": ["low", "xhigh"]},
                   y={"model": ["gpt-image-2", "gpt-image-2.5-flare"]}, size="1024x1024", confirm=False,
                   progress=False)
grid""",
    'print("DONE", grid.summary())',
]
NOTEBOOKS = {"compare.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}

NATURAL_WIDTH = "img => img.complete ? img.naturalWidth : 0"


def test_the_grid_shows_headers_and_thumbnails_and_open_shows_the_full_image(lab, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    try:
        page.goto(lab.open("compare.ipynb"))
        page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        done = page.locator(".jp-OutputArea-output", has_text="DONE")
        done.wait_for(timeout=90_000)
        assert "3 images, 3 made, 1 invalid" in done.inner_text()

        output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        grid = output.locator(".widget-gridbox")
        buttons = grid.locator("button", has_text="open")
        buttons.nth(2).wait_for(timeout=30_000)  # every answered cell has its thumbnail and button
        legend = output.locator(".dk-legend").inner_text()
        assert "compare 2×2 (model × quality)" in legend and "a white siamese cat" in legend
        assert "size='1024x1024'" in legend
        heads = [h.inner_text() for h in grid.locator("b").all()]
        assert heads[:3] == ["model ╲ quality", "low", "xhigh"], heads
        assert "gpt-image-2" in heads and "gpt-image-2.5-flare" in heads, heads
        empty = grid.locator(".dk-empty")
        assert empty.count() == 1
        assert re.search(r"invalid, not sent: quality='xhigh' is not accepted; gpt-image-2 accepts",
                         empty.inner_text())
        thumbs = grid.locator("img")
        assert thumbs.count() == 3 and buttons.count() == 3
        widths = [thumb.evaluate(NATURAL_WIDTH) for thumb in thumbs.all()]
        assert all(0 < width <= 256 for width in widths), widths  # thumbnails, not the full pictures
        assert "$" in grid.inner_text() and "tokens" in grid.inner_text()  # cost per cell

        buttons.nth(2).click()  # row 1 (gpt-image-2.5-flare), column 1 (xhigh)
        info = output.locator("summary", has_text="provenance")
        info.wait_for(timeout=30_000)
        details = info.locator("xpath=../..").inner_text()
        assert "quality=xhigh · model=gpt-image-2.5-flare" in details and "file: " in details
        full = output.locator("img").last  # the details pane's picture, below the grid
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=full.element_handle(),
                               timeout=30_000)
        assert full.evaluate(NATURAL_WIDTH) == 1024 and full.is_visible()
        info.click()  # the provenance opens
        assert '"quality": "xhigh"' in info.locator("xpath=..").inner_text()

        output.locator("button", has_text="close").click()
        info.wait_for(state="detached", timeout=30_000)
        assert output.locator(".dk-error").count() == 0
        errors = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Traceback|Error:"))
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        context.close()
