"""PromptWidget in JupyterLab + Chromium: typing, picking a style and pressing Generate work from the page; the
button is busy while the kernel generates; an error appears in the widget; the twin's picture shows once."""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.browser

CELLS = [
    """\
from dalle_kit import Kit, Simulator
from dalle_kit.widgets import PromptWidget
kit = Kit(simulator=Simulator(seed=1, latency=1.0), quiet=True)  # slow enough to see the busy button""",
    'widget = PromptWidget(kit, size="1024x1024", quality="low")\nwidget',
    'broken = PromptWidget(kit, size="1024x1024", quality="low")\nbroken',
    'twin = PromptWidget(kit, size="1024x1024", quality="low").set(subject="a kite seen once")\ntwin',
    "twin.generate()",
]
NOTEBOOKS = {"prompt.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}


@pytest.fixture(scope="module")
def page(lab, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(lab.open("prompt.ipynb"))
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.locator(".jp-Cell").nth(len(CELLS) - 1).locator(".jp-OutputArea-output").wait_for(timeout=60_000)
    yield page
    context.close()


def cell_output(page, index: int):
    """The output area of the notebook's cell ``index``."""
    return page.locator(".jp-Cell").nth(index).locator(".jp-Cell-outputArea")


def test_type_pick_and_generate_in_the_browser(page):
    output = cell_output(page, 1)
    subject = output.locator(".widget-text", has_text="Subject").locator("input")
    subject.wait_for(timeout=60_000)
    subject.press_sequentially("a lighthouse at dusk")
    preview = output.locator(".widget-html", has_text="characters for")
    preview.get_by_text("a lighthouse at dusk", exact=True).wait_for(timeout=10_000)
    assert "20 / 32,000 characters for gpt-image-2.5-flare" in preview.inner_text()

    output.locator("select").first.select_option(label="oil painting · 油画")
    preview.get_by_text("a lighthouse at dusk, oil painting", exact=True).wait_for(timeout=10_000)

    output.locator("button.widget-button", has_text="Generate").click()
    busy = output.locator("button.widget-button", has_text="Generating…")
    busy.wait_for(timeout=10_000)  # the kernel is still drawing: the button says so and cannot be pressed
    assert busy.is_disabled()
    image = output.locator(".widget-output img")
    image.wait_for(timeout=30_000)
    assert image.get_attribute("alt") == "a lighthouse at dusk, oil painting"  # the kernel drew what the page built
    caption = output.locator(".widget-output figcaption").inner_text()
    assert "gpt-image-2.5-flare · 1024x1024 png · low" in caption
    button = output.locator("button.widget-button", has_text="Generate")
    button.wait_for(timeout=10_000)
    assert button.is_enabled() and image.count() == 1


def test_an_error_appears_in_the_widget_after_generate(page):
    output = cell_output(page, 2)
    subject = output.locator(".widget-text", has_text="Subject").locator("input")
    subject.wait_for(timeout=60_000)
    subject.press_sequentially("a moderation-test kite")  # the simulator's moderation refuses this prompt
    output.get_by_text("a moderation-test kite", exact=True).wait_for(timeout=10_000)
    output.locator("button.widget-button", has_text="Generate").click()
    error = output.locator(".dk-error")
    error.wait_for(timeout=30_000)
    text = error.inner_text()
    assert text.startswith("BadRequestError: Error code: 400")
    assert text.rstrip().endswith("This is never retried: rephrase the prompt.")  # the note, not a traceback
    assert "Traceback" not in output.inner_text()
    button = output.locator("button.widget-button", has_text="Generate")
    button.wait_for(timeout=10_000)
    assert button.is_enabled() and output.locator(".widget-output img").count() == 0


def test_the_twins_picture_shows_once(page):
    page.locator("img[alt='a kite seen once']").wait_for(timeout=30_000)
    assert cell_output(page, 3).locator(".widget-output img[alt='a kite seen once']").count() == 1
    assert page.locator("img[alt='a kite seen once']").count() == 1
    result = cell_output(page, 4)  # the cell that called twin.generate(): its Out[] is the result's repr
    assert "ImageResult('gpt-image-2.5-flare · 1024x1024 png · low" in result.inner_text()
    assert result.locator("img").count() == 0
