"""The store under load: what one ``put`` costs, history() at 100 vs 10,000 images, one writer process vs two.

Prints medians in ms and ratios (these machines are noisy: compare ratios). "a connection per call" is how the
store worked before it kept one connection per thread: each call opened and closed its own, and closing the last
connection of a WAL database checkpoints it and deletes the WAL. Run: .venv/bin/python benchmarks/store_load.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import dalle_kit.store as store_module
from dalle_kit.store import Store

ROOT = Path(__file__).resolve().parent.parent
INFO = {"software": "dalle_kit", "request": {"endpoint": "generate", "model": "gpt-image-2", "prompt": "a cat " * 20},
        "request_key": "0" * 64, "call_id": "c" * 32, "index": 0, "usage": {"total_tokens": 272}}


def interleaved(variants: dict[str, tuple[Store, object, int]], images: list[bytes], rounds: int) -> dict[str, float]:
    """ms per image of each variant ``(store, fn(store, chunk), batch)``, their rounds interleaved (ABAB: the
    disk's moods fall on all alike): median over ``rounds``, each over all ``images`` with new bytes."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (store, fn, batch) in variants.items():
            salt = os.urandom(8)
            chunk = [salt + data for data in images]  # new bytes each time: a real write, not a second row
            start = time.perf_counter()
            for i in range(0, len(chunk), batch):
                fn(store, chunk[i:i + batch])  # type: ignore[operator]
            samples[name].append((time.perf_counter() - start) / len(chunk))
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def _put(store: Store, chunk: list[bytes]) -> None:
    store.put(chunk[0], "png", INFO)


def _put_reconnect(store: Store, chunk: list[bytes]) -> None:
    store.put(chunk[0], "png", INFO)
    store.close()  # as before: a connection opened and closed by each call


def _put_many(store: Store, chunk: list[bytes]) -> None:
    store.put_many([(data, "png", INFO) for data in chunk])


def put_figures(home: Path) -> None:
    print("Store.put, client work per image (ms, median of interleaved rounds; it fsyncs the file, its folder, and "
          "the WAL on commit):")
    for label, size, count, rounds in (("4 kB", 4_000, 40, 9), ("2 MB", 2_000_000, 8, 7)):
        images = [os.urandom(size) for _ in range(count)]
        stores = {name: Store(home / f"{label}-{name}") for name in ("before", "put", "many", "normal")}
        store_module.SYNCHRONOUS = "NORMAL"
        stores["normal"]._connections.get()  # this thread's connection to it: synchronous=NORMAL
        store_module.SYNCHRONOUS = "FULL"
        ms = interleaved({"before": (stores["before"], _put_reconnect, 1), "put": (stores["put"], _put, 1),
                          "many": (stores["many"], _put_many, 4), "normal": (stores["normal"], _put, 1)},
                         images, rounds)
        for store in stores.values():
            store.close()
        digest = statistics.median(_timed(lambda d=images[0]: hashlib.sha256(d).hexdigest(), 20)) * 1000
        before = ms["before"]
        print(f"  {label}: a connection per call (before) {before:6.2f} | put {ms['put']:6.2f} "
              f"({ms['put'] / before:.2f}x) | put_many of 4 {ms['many']:6.2f} ({ms['many'] / before:.2f}x) | "
              f"put, synchronous=NORMAL {ms['normal']:6.2f} ({ms['normal'] / before:.2f}x) | sha256 {digest:5.2f}")


def _timed(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def fill(store: Store, count: int) -> None:
    """``count`` rows (no files: history() reads only the index), four per request, in one transaction."""
    info = json.dumps(INFO)
    rows = [(time.time(), f"{i:064x}", f"images/{i % 256:02x}/{i:064x}.png", "png", "image", "a cat", f"key{i // 4}",
             f"call{i // 4}", info) for i in range(count)]
    with store._transaction() as db:
        db.executemany("INSERT INTO images (created, sha256, path, format, kind, prompt, request_key, call_id, info) "
                       "VALUES (?,?,?,?,?,?,?,?,?)", rows)


def history_figures(home: Path) -> None:
    print("history(50) and find(key, 4), by the size of the store (ms):")
    figures = {}
    for count in (100, 10_000):
        store = Store(home / f"history-{count}")
        fill(store, count)
        figures[count] = (statistics.median(_timed(lambda s=store: s.history(50), 50)) * 1000,
                          statistics.median(_timed(lambda s=store: s.find("key7", 4), 50)) * 1000)
        store.close()
        print(f"  {count:6,} images: history {figures[count][0]:6.3f} | find {figures[count][1]:6.3f}")
    print(f"  10,000 / 100: history {figures[10_000][0] / figures[100][0]:.2f}x, "
          f"find {figures[10_000][1] / figures[100][1]:.2f}x (1.0x: the size does not matter)")


WRITER = textwrap.dedent("""
    import os, sys, threading, time
    from dalle_kit.store import Store
    home, name, threads, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    images = [[os.urandom(50_000) for _ in range(count)] for _ in range(threads)]
    store = Store(home)
    def write(t):
        for data in images[t]:
            store.put(data, "png", {"request": {"prompt": name}})
    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    while not os.path.exists(go):
        time.sleep(0.001)
    start = time.time()
    for w in workers: w.start()
    for w in workers: w.join()
    print(start, time.time())
    store.close()
""")


def processes(home: Path, count: int, threads: int, per_thread: int) -> float:
    """Images per second stored by ``count`` processes of ``threads`` threads each, all into one store."""
    Store(home).close()
    go = home / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), f"p{i}", str(threads), str(per_thread),
                                  str(go)], env=env, stdout=subprocess.PIPE, text=True) for i in range(count)]
    time.sleep(1.0)
    go.touch()
    spans = [tuple(map(float, child.communicate()[0].split())) for child in children]
    return count * threads * per_thread / (max(end for _, end in spans) - min(start for start, _ in spans))


def process_figures(home: Path) -> None:
    print("throughput, 50 kB images, 4 threads per process (images/s):")
    one = statistics.median(processes(home / f"one-{r}", 1, 4, 100) for r in range(3))
    two = statistics.median(processes(home / f"two-{r}", 2, 4, 100) for r in range(3))
    print(f"  one process {one:7.0f} | two processes into one store {two:7.0f} ({two / one:.2f}x)")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="dalle-kit-bench-"))
    try:
        put_figures(home)
        history_figures(home)
        process_figures(home)
    finally:
        shutil.rmtree(home)


if __name__ == "__main__":
    main()
