"""``dalle-kit studio`` in Chromium: the page shows no code, a typed prompt generates an image, a narrow window fits.

The studio runs as a user would start it (``dalle-kit studio --no-browser --port N``), on a private HOME and
DALLE_KIT_HOME and without OPENAI_API_KEY (the offline simulator). A screenshot of the page after Generate is kept
in the artefacts folder (see conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import _free_port, private_env
from .test_widget_layout_browser import OVERFLOW

pytestmark = pytest.mark.browser

DALLE_KIT = Path(sys.executable).with_name("dalle-kit")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    env = private_env(root)
    assert "OPENAI_API_KEY" not in env
    port = _free_port()
    log_path = root / "studio.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(DALLE_KIT), "studio", "--no-browser", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}voila/static/voila.js", timeout=2).read(1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dalle-kit studio did not start; its log:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # Voilà and the kernels it started (its own session)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def open_studio(browser, url, width):
    context = browser.new_context(viewport={"width": width, "height": 1400})
    page = context.new_page()
    page.goto(url)
    page.locator(".dk-studio").wait_for(timeout=60_000)
    return context, page


def test_typing_a_prompt_and_pressing_generate_shows_the_image(studio, browser, artifacts):
    context, page = open_studio(browser, studio, 1200)
    try:
        code_cells = page.locator(".jp-CodeCell")
        assert code_cells.count() >= 1
        assert code_cells.count() == page.locator(".jp-CodeCell.jp-mod-noInput").count()  # Voilà strips every source
        assert page.locator(".jp-CodeCell .jp-InputArea, .cm-editor, .jp-CodeMirrorEditor, .jp-InputPrompt").count() == 0
        body = page.locator("body").inner_text()
        assert "import Studio" not in body and "Studio()" not in body  # no source anywhere
        assert "dalle_kit studio" in body  # the notebook's markdown title
        banner = page.locator(".dk-studio-banner").inner_text()
        assert "Offline" in banner and "simulator" in banner
        box = page.get_by_placeholder("Describe the image, e.g. a lighthouse at dusk")
        box.fill("a red fox in the snow")
        box.press("Tab")  # the box reports its value on change
        generate = page.locator(".dk-studio button", has_text="Generate").last
        page.wait_for_function("b => !b.disabled", arg=generate.element_handle(), timeout=15_000)
        generate.click()
        img = page.locator(".dk-studio .widget-output img[src^='data:image'], "
                           ".dk-studio .widget-output img[src^='blob:']").first
        img.wait_for(timeout=30_000)
        page.get_by_text("Cost:", exact=False).first.wait_for(timeout=30_000)  # the final image, not a preview
        src = img.get_attribute("src") or ""
        size = page.evaluate("i => [i.naturalWidth, i.naturalHeight]", img.element_handle())
        assert (src.startswith("blob:") or len(src) > 2_000) and size[0] >= 64 and size[1] >= 64, (src[:40], size)
        page.locator(".dk-studio .dk-gallery-tile img").first.wait_for(timeout=15_000)  # the gallery read the store
        page.locator(".dk-studio button", has_text="Compare").click()  # the grid: quality low · medium · high
        page.get_by_text("compare 1×3 (quality)", exact=False).first.wait_for(timeout=30_000)
        assert page.locator(".dk-studio .widget-gridbox img[src^='data:image']").count() == 3
        shot = artifacts / "studio.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nstudio screenshot: {shot}")
    finally:
        context.close()


def test_the_page_fits_a_narrow_window(studio, browser, artifacts):
    context, page = open_studio(browser, studio, 420)
    try:
        page.locator(".dk-studio .jupyter-widgets").first.wait_for()
        fit = page.locator(".dk-studio").evaluate(OVERFLOW)
        assert fit["past"] == [] and fit["scroll"] <= 0, fit
        width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert width <= 0, f"the page scrolls sideways by {width}px in a 420px window"
        page.screenshot(path=str(artifacts / "studio-narrow.png"), full_page=True)
    finally:
        context.close()
