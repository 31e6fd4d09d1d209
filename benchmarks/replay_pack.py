"""Replay packs: size per image, and the time to run a notebook from a pack vs on the simulator.

Records notebooks 01, 03, 06 and 07 into a pack (``dalle-kit pack record``), then runs each notebook in a fresh
store twice per round, alternating: on the simulator (no pack) and from the pack (``DALLE_KIT_REPLAY``, strict).
Prints the pack's kB per image and, per notebook, median seconds and the ratio replay / simulator (these
machines are noisy: compare ratios). Kernel start-up is in both. Run: .venv/bin/python benchmarks/replay_pack.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

from dalle_kit.cli_pack import record
from dalle_kit.replay import Pack

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_first_image", "03_prompt_craft", "06_masks_and_inpainting", "07_variations_and_references")
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def run(book: Path, home: Path, pack: Path | None) -> float:
    os.environ["DALLE_KIT_HOME"] = str(home)
    for name in ("DALLE_KIT_REPLAY", "DALLE_KIT_REPLAY_STRICT", "OPENAI_API_KEY"):
        os.environ.pop(name, None)
    if pack is not None:
        os.environ["DALLE_KIT_REPLAY"] = str(pack)
        os.environ["DALLE_KIT_REPLAY_STRICT"] = "1"
    nb = nbformat.read(book, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(book.parent)}}).execute()
    return time.perf_counter() - started


def main() -> None:
    os.environ.pop("OPENAI_API_KEY", None)
    with tempfile.TemporaryDirectory(prefix="dalle-kit-bench-") as tmp:
        work = Path(tmp) / "notebooks"
        (work / "outputs").mkdir(parents=True)
        for name in NOTEBOOKS:
            shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", work)
        pack = Path(tmp) / "workshop.zip"
        started = time.perf_counter()
        record([str(work)], pack, echo=False)
        recorded = time.perf_counter() - started
        summary = Pack.load(pack).summary()
        size = pack.stat().st_size
        print(f"pack: {summary['answers']} answers, {summary['images']} images, {size / 1024:,.0f} kB "
              f"= {size / 1024 / summary['images']:.1f} kB per image (recorded in {recorded:.1f} s)")
        started = time.perf_counter()
        Pack.load(pack)
        print(f"load + verify: {(time.perf_counter() - started) * 1000:.1f} ms")
        print(f"{'notebook':34} {'simulator s':>12} {'replay s':>10} {'replay/sim':>11}")
        for name in NOTEBOOKS:
            book = work / f"{name}.ipynb"
            sim, rep = [], []
            for i in range(ROUNDS):
                sim.append(run(book, Path(tmp) / f"sim-{name}-{i}", None))
                rep.append(run(book, Path(tmp) / f"rep-{name}-{i}", pack))
            s, r = statistics.median(sim), statistics.median(rep)
            print(f"{name:34} {s:12.2f} {r:10.2f} {r / s:11.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
