"""Tutorial notebooks 01, 02 and 06 as a participant sees them: a copy of each opened in JupyterLab (Chromium), Run
All Cells, then no error or stderr box, the offline notice as one calm grey line, image thumbnails that loaded and fit
the cell, no output wider than its cell; a full-page screenshot of each goes to the artefacts folder (see conftest).

No key (the conftest's environment drops OPENAI_*), a fresh DALLE_KIT_HOME, one Lab server for the three."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import OVERFLOW

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NAMES = ["01_first_image.ipynb", "02_parameters_and_models.ipynb", "06_masks_and_inpainting.ipynb"]
NOTEBOOKS = {name: json.loads((REPO / "notebooks" / name).read_text(encoding="utf-8")) for name in NAMES}
WIDTH, HEIGHT = 1280, 1000  # a laptop window
TALLEST_SHOT = 14_000  # px; taller notebooks are shot in parts


# Per code cell: its prompt ("[3]:", "[*]:" or "[ ]:") and the kernel status.
DONE = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
}"""

# Every output, with its cell's index (0-based over all cells, as in the notebook file), MIME type, text
# and layout; every image with its sizes.
OUTPUTS = """(overflow) => {
  const check = eval(overflow);
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
  const outputs = [], images = [];
  cells.forEach((cell, i) => {
    for (const out of cell.querySelectorAll('.jp-OutputArea-output')) {
      const box = out.getBoundingClientRect();
      outputs.push({cell: i, mime: out.dataset.mimeType || '', text: out.innerText,
                    height: box.height, ...check(out)});
      for (const img of out.querySelectorAll('img')) {
        images.push({cell: i, complete: img.complete, natural: img.naturalWidth, naturalHeight: img.naturalHeight,
                     shown: img.getBoundingClientRect().width, room: out.clientWidth});
      }
    }
  });
  return {outputs, images};
}"""


def run_all(page, lab, name: str) -> None:
    page.goto(lab.open(name))
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.wait_for_function(DONE, timeout=60_000, polling=200)
    page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    # images decode asynchronously: wait until every one has finished loading (or failed)
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete)",
                           timeout=30_000)


def screenshot(page, stem: str, folder: Path) -> list[Path]:
    """The whole notebook: the window made as tall as the notebook's scrolling panel (in parts past TALLEST_SHOT)."""
    scroller = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").first
    # the notebook's height down to its last cell (Lab pads the end so the last cell can scroll to the top)
    sizes = scroller.evaluate("""(e) => {
      const cells = e.querySelectorAll('.jp-Cell'), top = e.getBoundingClientRect().top - e.scrollTop;
      const end = cells[cells.length - 1].getBoundingClientRect().bottom - top + 24;
      return {client: e.clientHeight, scroll: Math.ceil(Math.min(e.scrollHeight, end))};
    }""")
    chrome = HEIGHT - sizes["client"]  # menus, toolbars, status bar
    part = min(sizes["scroll"], TALLEST_SHOT)
    page.set_viewport_size({"width": WIDTH, "height": int(part + chrome)})
    page.wait_for_timeout(300)  # relayout
    paths, offset, index = [], 0, 1
    while True:
        scroller.evaluate("(e, y) => { e.scrollTop = y; }", offset)
        page.wait_for_timeout(100)
        path = folder / (f"{stem}.png" if sizes["scroll"] <= TALLEST_SHOT else f"{stem}-part{index}.png")
        page.screenshot(path=str(path))
        paths.append(path)
        offset += part
        index += 1
        if offset >= sizes["scroll"]:
            break
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return paths


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_cleanly_in_lab(lab, browser, artifacts, name):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    try:
        run_all(page, lab, name)
        found = page.evaluate(OUTPUTS, OVERFLOW)
        outputs, images = found["outputs"], found["images"]
        paths = screenshot(page, f"notebook-{Path(name).stem}", artifacts)
        for path in paths:
            assert path.stat().st_size > 10_000
            print(f"screenshot: {path}")
        print(f"{name}: {len(outputs)} outputs, {len(images)} images")

        def where(o):
            return f"{name} cell {o['cell']} (0-based)"

        bad = [f"{where(o)}: {o['mime']}: {o['text'][:300]}" for o in outputs
               if o["mime"] in ("application/vnd.jupyter.stderr", "application/vnd.jupyter.error")
               or "Traceback" in o["text"]]
        assert bad == [], "error or stderr output:\n" + "\n".join(bad)

        notices = [o for o in outputs if "offline simulator" in o["text"] and o["text"].startswith("dalle_kit:")]
        assert len(notices) == 1, [where(o) for o in notices]
        notice = notices[0]
        assert notice["mime"] == "text/html" and "\n" not in notice["text"].strip(), notice
        assert notice["height"] < 40, f"{where(notice)}: the offline notice is {notice['height']:.0f}px tall"

        assert images, f"{name}: no image in any output"
        broken = [i for i in images if not (i["complete"] and i["natural"] > 0 and i["naturalHeight"] > 0)]
        assert broken == [], f"{name}: images that did not load: {broken}"
        wide = [i for i in images if i["shown"] > i["room"] + 0.5]
        assert wide == [], f"{name}: images wider than their cell: {wide}"

        overflowing = [f"{where(o)}: scroll {o['scroll']}px, past the edge: {o['past'][:5]}" for o in outputs
                       if o["past"] or o["scroll"] > 0]
        assert overflowing == [], "outputs wider than the cell:\n" + "\n".join(overflowing)
    finally:
        context.close()
