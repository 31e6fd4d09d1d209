"""generate_many in JupyterLab + Chromium: the batch runs from a live kernel (whose event loop is already running),
its tqdm progress bar shows the counts and the spend, the result shows its thumbnails and summary, and running it
again is answered from the store."""

from __future__ import annotations

import re

import nbformat
import pytest

pytestmark = pytest.mark.browser

PROMPTS = '[f"a lighthouse at dusk, take {i}" for i in range(6)]'
NOTEBOOKS = {"many.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell("from dalle_kit import Kit\nkit = Kit()"),
           nbformat.v4.new_code_cell(f'sweep = kit.generate_many({PROMPTS}, quality="low", size="1024x1024")\n'
                                     "sweep"),
           nbformat.v4.new_code_cell(f'again = kit.generate_many({PROMPTS}, quality="low", size="1024x1024", '
                                     'progress=False)\nprint("AGAIN", again.summary())')],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}


def test_a_batch_shows_its_progress_bar_thumbnails_and_a_rerun_from_the_store(lab, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    try:
        page.goto(lab.open("many.ipynb"))
        page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        rerun = page.locator(".jp-OutputArea-output", has_text="AGAIN")
        rerun.wait_for(timeout=90_000)
        assert "6 from the store" in rerun.inner_text() and "0 sent" in rerun.inner_text()
        # the progress bar is a live widget (tqdm.auto in a notebook), updated from the batch's own thread
        # the progress bar is a live widget (tqdm.auto in a notebook), updated from the batch's own thread; tqdm
        # spaces its text with figure spaces
        texts = [o.inner_text().replace("\u2007", " ") for o in page.locator(".jp-OutputArea-output").all()]
        bar = [t for t in texts if "6/6" in t]
        assert len(bar) == 1 and re.search(r"done 6, failed 0, retrying 0, spend \$0\.\d+", bar[0]), texts
        assert re.search(r"\(est\. \$[\d.]+(–\$[\d.]+)?\)", bar[0]), bar  # the estimate, shown before sending
        result = page.locator(".jp-OutputArea-output", has_text="6 requests → 6 images, 6 made")
        assert result.count() == 1
        assert result.locator("img").count() == 6
        errors = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Traceback|Error:"))
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        context.close()
