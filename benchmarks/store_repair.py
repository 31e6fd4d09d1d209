"""What crash safety costs when a store is opened, on a store of 10,000 images.

Opening a store (every ``Kit()``) reads only ``home/.pending``; the full ``Store.repair()`` (run on opening only
after a writer died, or by hand) lists ``images/`` and the index. Prints medians in milliseconds; the files are
tiny (the walk costs per file, not per byte). Run: .venv/bin/python benchmarks/store_repair.py [count]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from dalle_kit.store import Store


def timed(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def fill(store: Store, count: int) -> None:
    """``count`` image files and their rows, written directly (``put`` would fsync each one)."""
    rows = []
    for i in range(count):
        data = f"image {i}".encode()
        digest = hashlib.sha256(data).hexdigest()
        path = store.images / digest[:2] / f"{digest}.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        rows.append((time.time(), digest, str(path.relative_to(store.home)), "png", "image", json.dumps({})))
    with closing(store._connect()) as db, db:
        db.executemany("INSERT INTO images (created, sha256, path, format, kind, info) VALUES (?,?,?,?,?,?)", rows)


def walk(images: Path) -> int:
    """The bare cost of listing every file under ``images/`` (two levels)."""
    count = 0
    with os.scandir(images) as folders:
        for folder in folders:
            with os.scandir(folder.path) as files:
                count += sum(1 for _ in files)
    return count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    home = Path(tempfile.mkdtemp(prefix="dalle-kit-bench-"))
    store = Store(home)
    fill(store, count)
    assert walk(store.images) == count and not store.repair()
    print(f"store of {count:,} images")
    print(f"  Store() on a clean store (reads .pending only): {timed(lambda: Store(home), 50):7.2f} ms")
    print(f"  bare walk of images/:                           {timed(lambda: walk(store.images), 10):7.2f} ms")
    print(f"  full Store.repair() (walk + index + compare):   {timed(store.repair, 10):7.2f} ms")
    shutil.rmtree(home)


if __name__ == "__main__":
    main()
