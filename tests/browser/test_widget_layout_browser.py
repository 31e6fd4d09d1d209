"""Every dalle_kit widget stays inside a narrow notebook cell, errors included (JupyterLab + Chromium)."""

from __future__ import annotations

import nbformat
import pytest

from .conftest import OVERFLOW

pytestmark = pytest.mark.browser

CELLS = [
    """\
from PIL import Image
from dalle_kit import Kit
from dalle_kit.widgets import MaskPainter, PromptWidget""",
    # a long unbroken subject, a long error message (quality refused) and every control
    """\
prompt = PromptWidget(Kit(quiet=True), size="1024x1024", quality="ultra")
prompt.set(subject="x" * 400, details=["soft light", "high detail"]).pick_styles("oil_painting")
prompt.button.click()
prompt""",
    # wider than the cell, and an error from a twin
    """\
painter = MaskPainter(Image.new("RGB", (1536, 1024), (30, 90, 160)), display_width=900)
try:
    painter.set_mask(Image.new("L", (10, 10)))
except ValueError:
    pass
painter""",
]
NOTEBOOKS = {"layout.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}



@pytest.fixture(scope="module")
def page(lab, browser):
    context = browser.new_context(viewport={"width": 800, "height": 1400})  # a cell about 400 px wide
    page = context.new_page()
    page.goto(lab.open("layout.ipynb"))
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    yield page
    context.close()


def widget_area(page, index: int, selector: str):
    area = page.locator(".jp-Cell").nth(index).locator(".jp-OutputArea-output", has=page.locator(selector))
    area.wait_for(timeout=60_000)
    return area


def test_prompt_widget_with_an_error_fits_the_cell(page):
    area = widget_area(page, 1, ".dk-error")
    assert "quality='ultra' is not accepted" in area.locator(".dk-error").inner_text()
    fit = area.evaluate(OVERFLOW)
    assert fit["width"] < 500, "the cell should be narrow for this test"
    assert fit["past"] == [] and fit["scroll"] <= 0


def test_painter_with_an_error_fits_the_cell(page):
    area = widget_area(page, 2, ".dk-painter-error")
    assert "use dalle_kit.masks.prepare" in area.locator(".dk-painter-error").inner_text()
    fit = area.evaluate(OVERFLOW)
    assert fit["past"] == [] and fit["scroll"] <= 0
    stage = area.locator(".dk-painter-stage").bounding_box()
    assert stage["width"] == pytest.approx(fit["width"], abs=2)  # shown smaller than display_width=900
    assert stage["height"] == pytest.approx(stage["width"] * 1024 / 1536, abs=1)
