"""MaskPainter in JupyterLab + Chromium: strokes painted with the mouse at two display scales come back as the
same mask the Python twins draw; tools and buttons work; Python's changes show on the canvas."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from dalle_kit import masks

pytestmark = pytest.mark.browser

SETUP = """\
import os
from PIL import Image, ImageDraw
from dalle_kit.widgets import MaskPainter
OUT = os.environ["DALLE_KIT_BROWSER_OUT"]

def picture(size):
    img = Image.new("RGB", size, (30, 90, 160))
    ImageDraw.Draw(img).ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill=(240, 200, 60))
    return img

def saving(painter, name):
    def save(_):  # mask first, then its revision; each written whole (temp file + rename) for the polling test
        painter.mask.save(f"{OUT}/{name}.tmp.png")
        os.replace(f"{OUT}/{name}.tmp.png", f"{OUT}/{name}.png")
        with open(f"{OUT}/{name}.rev.tmp", "w") as f:
            f.write(str(painter.revision))
        os.replace(f"{OUT}/{name}.rev.tmp", f"{OUT}/{name}.rev")
    painter.observe(save, names="revision")
    return painter
"""
PAINTERS = {  # name -> (image size, display width, brush size): 2.4 and 1.6 image pixels per screen pixel
    "a": ((1536, 1024), 640, 60),
    "b": ((800, 600), 500, 30),
    "c": ((1024, 1024), 400, 50),
}
NOTEBOOKS = {"painter.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(f"{name} = saving(MaskPainter(picture({size}), brush_size={brush}, "
                                  f"display_width={width}), {name!r})\n{name}")
        for name, (size, width, brush) in PAINTERS.items()],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}),
    "06_masks_and_inpainting.ipynb": nbformat.read(
        Path(__file__).parents[2] / "notebooks" / "06_masks_and_inpainting.ipynb", as_version=4),
}


def run_all(page):
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


@pytest.fixture(scope="module")
def page(lab, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 2200})
    page = context.new_page()
    page.goto(lab.open("painter.ipynb"))
    run_all(page)
    page.locator(".dk-painter").nth(len(PAINTERS) - 1).wait_for(timeout=60_000)
    yield page
    context.close()


class Painter:
    """One painter in the page: screen <-> image coordinates, mouse drags, and the mask the kernel saved."""

    def __init__(self, page, lab, name):
        self.page, self.lab, self.name = page, lab, name
        self.size, self.display, self.brush = PAINTERS[name]
        self.root = page.locator(".dk-painter").nth(list(PAINTERS).index(name))
        self.guide = self.root.locator("canvas.dk-painter-guide")
        self.rect = self.guide.evaluate("c => { const r = c.getBoundingClientRect(); "
                                        "return [r.left, r.top, r.width, r.height]; }")

    def to_image(self, sx, sy):
        """The formula painter.js uses, in the same order of operations."""
        left, top, width, height = self.rect
        return ((sx - left) * self.size[0] / width, (sy - top) * self.size[1] / height)

    def screen(self, fx, fy):
        """A whole screen pixel at a fraction of the shown picture."""
        left, top, width, height = self.rect
        return (round(left + fx * width), round(top + fy * height))

    def revision(self):
        path = self.lab.out / f"{self.name}.rev"
        return int(path.read_text()) if path.exists() else 0

    def drag(self, points, steps=8):
        """Press at the first screen point, move through the others, release; returns the saved mask."""
        before = self.revision()
        mouse = self.page.mouse
        mouse.move(*points[0])
        mouse.down()
        for p in points[1:]:
            mouse.move(*p, steps=steps)
        mouse.up()
        return self.wait(before)

    def click(self, text):
        before = self.revision()
        self.root.locator("button", has_text=text).click()
        return before

    def wait(self, before, timeout=15):
        deadline = time.monotonic() + timeout
        while self.revision() <= before:
            assert time.monotonic() < deadline, f"painter {self.name}: no new mask from the kernel"
            time.sleep(0.05)
        time.sleep(0.05)
        with Image.open(self.lab.out / f"{self.name}.png") as img:
            return img.convert("RGBA")

    def canvas_alpha(self, x, y):
        """Alpha of the tinted edit-area canvas at image pixel (x, y)."""
        return self.root.locator("canvas.dk-painter-mask").evaluate(
            f"c => c.getContext('2d').getImageData({x}, {y}, 1, 1).data[3]")


def edit(mask):
    return np.asarray(mask.getchannel("A")) == 0


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_display_is_scaled_and_mask_has_the_image_size(page, lab):
    for name, ((w, h), display, _) in PAINTERS.items():
        painter = Painter(page, lab, name)
        assert painter.rect[2] == pytest.approx(display, abs=0.5)
        assert painter.rect[3] == pytest.approx(display * h / w, abs=0.5)
        assert painter.guide.evaluate("c => [c.width, c.height]") == [w, h]


@pytest.mark.parametrize("name", ["a", "b"])
def test_brush_stroke_matches_the_twin(page, lab, name):
    painter = Painter(page, lab, name)
    screen = [painter.screen(0.1, 0.2), painter.screen(0.45, 0.7), painter.screen(0.85, 0.35)]
    got = painter.drag(screen)
    assert got.size == painter.size and got.mode == "RGBA"
    twin = masks.brush(painter.size, [painter.to_image(*p) for p in screen], painter.brush)
    assert iou(edit(got), edit(twin)) > 0.97
    masks.check(Image.new("RGB", painter.size), got, "gpt-image-2.5-flare")


def test_rectangle_and_ellipse_tools_match_the_twins(page, lab):
    painter = Painter(page, lab, "b")
    painter.click("Clear")
    painter.root.locator("button", has_text="Rectangle").click()
    box = [painter.screen(0.15, 0.1), painter.screen(0.5, 0.4)]
    got = painter.drag(box)
    twin = masks.rectangle(painter.size, painter.to_image(*box[0]) + painter.to_image(*box[1]))
    assert (edit(got) == edit(twin)).all()  # whole image pixels: exact
    painter.root.locator("button", has_text="Ellipse").click()
    oval = [painter.screen(0.55, 0.5), painter.screen(0.95, 0.95)]
    got = painter.drag(oval)
    twin = masks.ellipse(painter.size, painter.to_image(*oval[0]) + painter.to_image(*oval[1]), base=twin)
    assert iou(edit(got), edit(twin)) > 0.98


def test_buttons_run_the_twins_and_the_canvas_follows(page, lab):
    painter = Painter(page, lab, "c")
    painter.root.locator("button", has_text="Rectangle").click()
    box = [painter.screen(0.2, 0.2), painter.screen(0.8, 0.8)]
    rect = painter.drag(box)
    painter.root.locator("button", has_text="Eraser").click()
    line = [painter.screen(0.1, 0.5), painter.screen(0.9, 0.5)]
    erased = painter.drag(line)
    twin = masks.brush(painter.size, [painter.to_image(*p) for p in line], painter.brush,
                       base=masks.rectangle(painter.size, painter.to_image(*box[0]) + painter.to_image(*box[1])),
                       erase=True)
    assert iou(edit(erased), edit(twin)) > 0.97
    inverted = painter.wait(painter.click("Invert"))
    assert (edit(inverted) == ~edit(erased)).all()
    assert painter.canvas_alpha(10, 10) == 255 and painter.canvas_alpha(512, 300) == 0  # redrawn from Python
    undone = painter.wait(painter.click("Undo"))
    assert (edit(undone) == edit(erased)).all()
    cleared = painter.wait(painter.click("Clear"))
    assert not edit(cleared).any()
    assert painter.canvas_alpha(512, 300) == 0
    back = painter.wait(painter.click("Undo"))
    assert (edit(back) == edit(erased)).all() and edit(rect).sum() > edit(erased).sum()
    assert "to edit" in painter.root.locator(".dk-painter-status").inner_text()


def test_tutorial_runs_in_lab_and_the_twins_stroke_shows_on_the_canvas(lab, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    try:
        page.goto(lab.open("06_masks_and_inpainting.ipynb"))
        run_all(page)
        # Run All ends before anyone paints, so the notebook's twin draws a stroke through (700, 780).
        canvas = page.locator(".dk-painter canvas.dk-painter-mask").first
        canvas.wait_for(timeout=60_000)
        page.wait_for_function("c => c.getContext('2d').getImageData(700, 780, 1, 1).data[3] === 255",
                               arg=canvas.element_handle(), timeout=30_000)
        assert canvas.evaluate("c => c.getContext('2d').getImageData(700, 300, 1, 1).data[3]") == 0
        page.locator(".jp-OutputArea-output", has_text="((1024, 1024), (1024, 1024))").wait_for(timeout=60_000)
        errors = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Traceback|Error:"))
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        context.close()
