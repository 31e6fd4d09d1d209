"""GeneratePanel in JupyterLab + Chromium: Generate shows a streamed preview and then the final image in the one
image area, with the estimate before and the cost after; picking a narrower model in the page explains what
changed."""

from __future__ import annotations

import nbformat
import pytest

from dalle_kit import registry
from dalle_kit.widgets.panel_controls import model_label

from .conftest import OVERFLOW

pytestmark = pytest.mark.browser

CELLS = [
    """\
from dalle_kit import Kit, Simulator
from dalle_kit.widgets import GeneratePanel
kit = Kit(simulator=Simulator(seed=1, partial_delay=0.6), quiet=True)  # slow enough to see each preview""",
    'panel = GeneratePanel(kit, quality="low", size="1024x1024", partial_images=2)\npanel',
    'narrow = GeneratePanel(kit, "a kite", quality="xhigh")\nnarrow',
]
NARROW = [
    """\
from dalle_kit import Kit
from dalle_kit.widgets import GeneratePanel
panel = GeneratePanel(Kit(quiet=True), "x" * 300, size="1536x864", output_format="jpeg", background="transparent")
try:
    panel.generate()  # refused before sending: the error and the "Not sendable" line show in the panel
except ValueError:
    pass
panel""",
]
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
NOTEBOOKS = {name: nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells],
                                            metadata=KERNEL)
             for name, cells in (("panel.ipynb", CELLS), ("narrow.ipynb", NARROW))}


@pytest.fixture(scope="module")
def page(lab, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    page.goto(lab.open("panel.ipynb"))
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.locator(".jp-Cell").nth(len(CELLS) - 1).locator(".jp-OutputArea-output").wait_for(timeout=60_000)
    yield page
    context.close()


def cell_output(page, index: int):
    return page.locator(".jp-Cell").nth(index).locator(".jp-Cell-outputArea")


def test_generate_shows_a_preview_then_the_final_image(page):
    output = cell_output(page, 1)
    box = output.locator("textarea")
    box.wait_for(timeout=60_000)
    button = output.locator("button.widget-button", has_text="Generate")
    assert button.is_disabled()  # nothing to send yet
    box.fill("a lighthouse at dusk")
    output.get_by_text("Estimated cost:").wait_for(timeout=10_000)
    assert "type a prompt" not in output.get_by_text("Estimated cost:").inner_text()
    button.wait_for(timeout=10_000)
    page.wait_for_function("(b) => !b.disabled", arg=button.element_handle(), timeout=10_000)
    button.click()

    captions = output.locator(".widget-output figcaption")
    preview = captions.filter(has_text="preview")
    preview.first.wait_for(timeout=30_000)  # a streamed preview, while the kernel is still drawing
    assert output.locator(".widget-output img").count() == 1
    assert output.locator("button.widget-button", has_text="Generating…").is_disabled()
    final = captions.filter(has_text="gpt-image-2.5-flare · 1024x1024 png · low").filter(has_not_text="preview")
    final.wait_for(timeout=30_000)  # then the final image, in the same place
    images = output.locator(".widget-output img")
    assert images.count() == 1 and images.get_attribute("alt") == "a lighthouse at dusk"
    assert "max-height:256px" in (images.get_attribute("style") or "").replace(" ", "")  # a thumbnail
    output.get_by_text("Cost: $").wait_for(timeout=10_000)  # the cost of what was made, after
    output.locator("button.widget-button", has_text="Generate").wait_for(timeout=10_000)


def test_picking_a_narrower_model_explains_what_changed(page):
    output = cell_output(page, 2)
    picker = output.locator(".widget-dropdown", has_text="Model").locator("select")
    picker.wait_for(timeout=60_000)
    picker.select_option(label=model_label(registry.get("gpt-image-2")))
    output.get_by_text("quality xhigh is not offered by gpt-image-2: set to high").wait_for(timeout=10_000)
    quality = output.locator(".widget-dropdown", has_text="Quality").locator("select")
    assert quality.input_value() == "high"
    assert "xhigh" not in quality.locator("option").all_inner_texts()


def test_the_panel_with_an_error_fits_a_narrow_cell(lab, browser):
    context = browser.new_context(viewport={"width": 800, "height": 1400})  # a cell about 400 px wide
    try:
        page = context.new_page()
        page.goto(lab.open("narrow.ipynb"))
        page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        area = page.locator(".jp-Cell").nth(0).locator(".jp-OutputArea-output", has=page.locator(".dk-error"))
        area.wait_for(timeout=60_000)
        assert "needs png or webp" in area.locator(".dk-error").inner_text()
        area.get_by_text("Not sendable:").wait_for(timeout=10_000)
        assert area.locator("input[placeholder='WIDTHxHEIGHT']").input_value() == "1536x864"
        fit = area.evaluate(OVERFLOW)
        assert fit["width"] < 500, "the cell should be narrow for this test"
        assert fit["past"] == [] and fit["scroll"] <= 0
    finally:
        context.close()
