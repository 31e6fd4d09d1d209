"""The static fallback of notebook 04: executed and saved WITHOUT widget state (as JupyterLab saves by default),
then rendered by nbconvert's HTMLExporter with no kernel, the comparison grids still show their labels (axis
headers, legend) and their thumbnails (small data URIs), and the refused cell its reason.

The kernel inherits this test's environment: a temporary ``DALLE_KIT_HOME`` (``isolated_env``) and no
``OPENAI_API_KEY``, so it runs on the offline simulator against an empty store. The notebook runs from a temporary
copy, so the files it saves (``outputs/``) land there.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_compare_styles_and_quality.ipynb"
DATA_URI = re.compile(r"<img[^>]*src=[\"']data:(image/(?:jpeg|webp));base64,([A-Za-z0-9+/=]+)[\"']")
THUMB_BYTES = 10_000  # a 160-pixel WebP of a simulated picture is about 3 kB; a full-size PNG is hundreds


def test_the_executed_notebook_04_shows_its_grids_in_nbconvert_html_without_a_kernel(tmp_path, capsys):
    assert "OPENAI_API_KEY" not in os.environ and Path(os.environ["DALLE_KIT_HOME"]).is_relative_to(tmp_path)
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    start = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.monotonic() - start
    nbformat.write(nb, copy)

    assert "widgets" not in nb.metadata  # saved as JupyterLab saves by default: no widget state
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0]
    assert (tmp_path / "outputs" / "quality_by_model.png").stat().st_size > 0
    assert (tmp_path / "outputs" / "quality_by_model.html").stat().st_size > 0

    page, _ = HTMLExporter().from_notebook_node(nbformat.read(copy, as_version=4))
    text = html.unescape(page)  # nbconvert re-serializes outputs' HTML (its own quotes and escapes)
    # the legend: the grid's summary, the prompt, the fixed parameters and the style words
    assert len(re.findall(r"class=[\"']dk-legend[\"']", page)) == 4  # three grids (§6 static) and §8's static()
    assert "compare 2×4 (model × quality)" in text and "compare 3×2 (quality × style)" in text
    assert "a white siamese cat on a windowsill" in text and "size='1024x1024'" in text
    assert "style words" in text and "'vivid' → prompt words" in text and "DALL·E 3's style parameter" in text
    # the axis headers: the corner naming both axes, then the column and row values
    headers = set(re.findall(r"<th[^>]*>([^<]*)</th>", text))
    assert {"quality ╲ style", "model ╲ quality", "prompt: white siamese cat → ╲ style"} <= headers, headers
    assert {"low", "medium", "high", "xhigh", "natural", "vivid", "gpt-image-2", "gpt-image-2.5-flare",
            "white siamese cat", "red fox", "snowy owl"} <= headers, headers
    # the cells' captions (cost per cell) and the refused cell: empty, with its reason
    assert re.search(r"gpt-image-2\.5-flare · [\d.]+ s · [\d,]+ tokens · \$\d+\.\d{3}<", text)  # cost per cell
    assert re.search(r"class=[\"']dk-empty[\"'][^>]*>invalid, not sent: quality='xhigh' is not accepted; "
                     r"gpt-image-2 accepts low, medium, high", text)
    # thumbnails, small (WebP): 6 + 7 + 6 cells and the static() copy of the first grid (6)
    thumbs = DATA_URI.findall(page)
    assert len(thumbs) == 25, len(thumbs)
    sizes = [len(base64.b64decode(data)) for _, data in thumbs]
    assert max(sizes) < THUMB_BYTES, max(sizes)
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert "image/png" not in outputs  # no full-size (or PNG) picture travels in the notebook
    # the offline notice and the compare plan are calm HTML lines, not stderr boxes; no raw warning shows
    streams = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream"]
    assert not [o.text for o in streams if o.name == "stderr"], "a stderr box in an executed output"
    assert not any("offline simulator" in o.text or "Warning:" in o.text for o in streams), streams
    assert "offline simulator draws the images" in outputs and "color:#777" in outputs
    assert re.search(r"class=[\"']dk-plan[\"'][^>]*>compare: 4 × 2 = 8 cells; 7 to send", page)
    assert "1 refused (left empty, not sent)" in text and "quality=xhigh, model=gpt-image-2" in text

    size_kb = copy.stat().st_size / 1000
    with capsys.disabled():
        print(f"\nnotebook 04 executed (no widget state): {size_kb:.0f} kB, run in {seconds:.1f} s; "
              f"{len(thumbs)} thumbnails of {min(sizes) / 1000:.1f}-{max(sizes) / 1000:.1f} kB; "
              f"nbconvert HTML {len(page) / 1000:.0f} kB")
    assert size_kb < 300


def test_committed_notebooks_carry_no_outputs():
    """The repository keeps the notebooks clean: outputs (thumbnails, a store's temporary paths) are made by running
    them, never committed."""
    for path in sorted(NOTEBOOK.parent.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before saving"
