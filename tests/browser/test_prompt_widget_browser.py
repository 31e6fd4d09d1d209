"""PromptWidget in JupyterLab + Chromium: typing, picking a style and pressing Generate work from the page."""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.browser

SETUP = """\
from dalle_kit import Kit
from dalle_kit.widgets import PromptWidget
widget = PromptWidget(Kit(), size="1024x1024", quality="low")
widget"""
NOTEBOOKS = {"prompt.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(SETUP)],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}


@pytest.fixture
def page(lab, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(lab.open("prompt.ipynb"))
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    yield page
    context.close()


def test_type_pick_and_generate_in_the_browser(page):
    output = page.locator(".jp-OutputArea-output")
    subject = output.locator(".widget-text", has_text="Subject").locator("input")
    subject.wait_for(timeout=60_000)
    subject.press_sequentially("a lighthouse at dusk")
    preview = output.locator(".widget-html", has_text="characters for")
    preview.get_by_text("a lighthouse at dusk", exact=True).wait_for(timeout=10_000)
    assert "20 / 32,000 characters for gpt-image-2.5-flare" in preview.inner_text()

    output.locator("select").first.select_option(label="oil painting · 油画")
    preview.get_by_text("a lighthouse at dusk, oil painting", exact=True).wait_for(timeout=10_000)

    output.locator("button.widget-button", has_text="Generate").click()
    image = output.locator(".widget-output img")
    image.wait_for(timeout=30_000)
    assert image.get_attribute("alt") == "a lighthouse at dusk, oil painting"  # the kernel drew what the page built
    caption = output.locator(".widget-output figcaption").inner_text()
    assert "gpt-image-2.5-flare · 1024x1024 png · low" in caption
