"""Notebook weight of a comparison grid: a 4x4 grid of 1536x1024 photo-like images, executed and saved.

A notebook runs ``compare(kit, ..., x=4 qualities, y=4 styles/presets, size="1536x1024")`` on the offline
simulator and shows the grid (its output: the widget view + the static ``text/html`` fallback; nbclient saves the
widget state too). The simulator draws flat pictures, so the kernel first patches
``dalle_kit.simulator.output.encoded`` to answer every PNG with a new noisy picture (smooth gradients under fine
grain, about 4.5 MB each: PNG compresses it as poorly as a photo). A second cell shows the same 16 images inline as
full PNGs (``IPython.display.Image``), as one-call-per-cell tutorials do. The run is saved as two notebooks (grid
only; full PNGs only) and the script prints both sizes, their ratio, what the grid notebook holds (widget state,
static HTML, thumbnails), and the re-run: the same ``compare`` again sends no request.

Target: the grid notebook weighs at most 600 kB.

Run: .venv/bin/python benchmarks/grid_notebook_size.py [--keep DIR]    (~15 s; --keep copies both notebooks to DIR)
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TARGET_KB = 600

SETUP = r'''
import io, itertools
from PIL import Image
from dalle_kit.simulator import output

W, H = 1536, 1024
counter = itertools.count()
real = output.encoded

def encoded(job, index, seed):
    """A new photo-like picture for every PNG answer (noise differs per call)."""
    if job.output_format != "png":
        return real(job, index, seed)
    k = next(counter)
    base = Image.linear_gradient("L").rotate(k * 23 % 360).resize((W, H))
    tint = Image.radial_gradient("L").resize((W, H))
    channels = [Image.blend(Image.blend(base, tint, 0.2 + 0.15 * ((k + c) % 4)), Image.effect_noise((W, H), 28 + 4 * c),
                            0.5) for c in range(3)]
    buf = io.BytesIO()
    Image.merge("RGB", channels).save(buf, "PNG", compress_level=1)
    return buf.getvalue(), None

output.encoded = encoded
'''

COMPARE = r'''
from dalle_kit import Kit
from dalle_kit.compare import compare

kit = Kit(offline=True, quiet=True)
AXES = dict(x="quality=low,medium,high,xhigh", y="style=natural,vivid,cinematic,watercolor")
grid = compare(kit, "a white siamese cat on a windowsill", **AXES, size="1536x1024", confirm=False, progress=False)
grid
'''

RERUN = r'''
before = kit.simulator.stats()["total"]
t0 = time.perf_counter()
again = compare(kit, "a white siamese cat on a windowsill", **AXES, size="1536x1024", confirm=False, progress=False)
rerun = {"sent_before": before, "sent_after": kit.simulator.stats()["total"], "seconds": time.perf_counter() - t0,
         "first_seconds": grid.result.wall, "summary": again.summary(),
         "full_png_bytes": sum(len(i.bytes) for i in grid.images)}
print("RERUN " + json.dumps(rerun))
'''

FULL = r'''
from IPython.display import Image as Show, display
for image in grid.images:
    display(Show(data=image.bytes, format="png"))
'''


def _kb(path: Path) -> float:
    return path.stat().st_size / 1000


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dalle-kit-grid-bench-") as tmp:
        folder = Path(tmp)
        os.environ["DALLE_KIT_HOME"] = str(folder / "home")  # the kernel inherits it: a fresh store
        os.environ.pop("OPENAI_API_KEY", None)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(COMPARE),
                    nbformat.v4.new_code_cell("import json, time\n" + RERUN), nbformat.v4.new_code_cell(FULL)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        began = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
        ran = time.perf_counter() - began
        text = "".join(o.get("text", "") for o in nb.cells[2].outputs if o.get("output_type") == "stream")
        match = re.search(r"RERUN (\{.*\})", text)
        if not match:
            print(f"the re-run cell printed no figures: {text or nb.cells[2].outputs}", file=sys.stderr)
            return 1
        rerun = json.loads(match.group(1))

        grid_nb = copy.deepcopy(nb)
        grid_nb.cells = grid_nb.cells[:3]  # setup, grid, re-run (with the widget state nbclient saved)
        full_nb = copy.deepcopy(nb)
        full_nb.cells = [full_nb.cells[0], full_nb.cells[3]]
        full_nb.metadata.pop("widgets", None)
        grid_path, full_path = folder / "grid.ipynb", folder / "full.ipynb"
        nbformat.write(grid_nb, grid_path)
        nbformat.write(full_nb, full_path)

        out = nb.cells[1].outputs[0]["data"]
        state = json.dumps(nb.metadata.get("widgets", {}))
        thumbs = [len(b) * 3 // 4 for b in re.findall(r"base64,([A-Za-z0-9+/=]+)", out.get("text/html", ""))]
        grid_kb, full_kb = _kb(grid_path), _kb(full_path)
        print(f"executed in {ran:.1f} s; 4x4 grid of 1536x1024 photo-like PNGs "
              f"({rerun['full_png_bytes'] / 16e6:.2f} MB each on disk)")
        print(f"grid notebook:      {grid_kb:8.1f} kB  (target <= {TARGET_KB} kB: "
              f"{'met' if grid_kb <= TARGET_KB else 'MISSED'})")
        print(f"  widget state      {len(state) / 1000:8.1f} kB  (view in output: "
              f"{'application/vnd.jupyter.widget-view+json' in out})")
        print(f"  static text/html  {len(out.get('text/html', '')) / 1000:8.1f} kB  ({len(thumbs)} thumbnails, "
              f"{min(thumbs) / 1000:.1f}-{max(thumbs) / 1000:.1f} kB each)")
        print(f"full PNGs inline:   {full_kb:8.1f} kB")
        print(f"ratio full / grid:  {full_kb / grid_kb:8.1f}x   (grid / full: {grid_kb / full_kb:.4f})")
        print(f"re-run: {rerun['sent_after'] - rerun['sent_before']} requests sent (first run: "
              f"{rerun['sent_before']}); {rerun['seconds']:.2f} s vs {rerun['first_seconds']:.2f} s; "
              f"{rerun['summary']}")
        if "--keep" in sys.argv[1:-1]:
            keep = Path(sys.argv[sys.argv.index("--keep") + 1])
            keep.mkdir(parents=True, exist_ok=True)
            for path in (grid_path, full_path):
                shutil.copy(path, keep / path.name)
            print(f"kept in {keep}")
        return 0 if grid_kb <= TARGET_KB else 1


if __name__ == "__main__":
    sys.exit(main())
