"""The store across processes: openers racing on a new store, and writers killed with SIGKILL.

Children come from a forkserver that has imported dalle_kit once, so each costs milliseconds, not an import.
The figures (race rounds and errors; kills and what each left) are printed: ``pytest -s tests/test_store_crash.py``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from dalle_kit import DalleKitWarning
from dalle_kit.store import MIGRATIONS, Store
from dalle_kit.store_files import NEW_GRACE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="forkserver and SIGKILL are POSIX")

WORKERS, ROUNDS, IMAGES = 8, 10, 3
KILLS = 40
SHARED = b"the same bytes from every worker"


@pytest.fixture(scope="module")
def ctx():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dalle_kit.client", "dalle_kit.simulator", "dalle_kit.store"])
    return context


# -- racing openers -------------------------------------------------------------------------------------------


def _open_and_write(home: str, barrier, worker: int, out) -> None:
    """Open the store when all workers are ready, then write: any exception or warning is reported."""
    warnings.simplefilter("error")
    try:
        barrier.wait(timeout=60)
        store = Store(home)
        for i in range(IMAGES):
            store.put(f"worker {worker} image {i}".encode(), "png", {"request": {"prompt": f"w{worker}"}})
        store.put(SHARED, "png", {"request": {"prompt": f"w{worker} shared"}})
        out.put("")
    except BaseException as exc:
        out.put(f"worker {worker}: {type(exc).__name__}: {exc}")


def _rows(home: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(home / "index.sqlite")) as db:
        return db.execute("SELECT path, prompt FROM images").fetchall()


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path, ctx):
    errors, started = [], time.perf_counter()
    for round_ in range(ROUNDS):
        home = tmp_path / f"round{round_}"
        barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
        workers = [ctx.Process(target=_open_and_write, args=(str(home), barrier, w, out)) for w in range(WORKERS)]
        for worker in workers:
            worker.start()
        errors += [msg for msg in (out.get(timeout=60) for _ in workers) if msg]
        for worker in workers:
            worker.join(timeout=60)
        out.close()
        out.join_thread()
        rows = _rows(home)
        assert len(rows) == WORKERS * (IMAGES + 1), (round_, len(rows))
        assert {prompt for _, prompt in rows} == {f"w{w}{s}" for w in range(WORKERS) for s in ("", " shared")}
        assert all((home / path).is_file() for path, _ in rows)
        assert list((home / ".pending").iterdir()) == []
        with closing(sqlite3.connect(home / "index.sqlite")) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    print(f"\nrace: {ROUNDS} rounds of {WORKERS} processes opening a new store at once, {len(errors)} errors, "
          f"{time.perf_counter() - started:.1f} s")
    assert errors == []


# -- kill -9 --------------------------------------------------------------------------------------------------


def _generate_forever(home: str, first_seed: int) -> None:
    from dalle_kit import Kit, Simulator

    warnings.simplefilter("ignore")
    seed = first_seed
    while True:
        kit = Kit(simulator=Simulator(seed=seed), home=home, quiet=True)
        kit.generate(f"a lighthouse {seed}", n=3, size="2048x2048", quality="high", output_format="png")  # new: no cache hit
        kit.close()
        seed += 1


def _census(home: Path, now: float | None = None) -> Counter[str]:
    """What is on disk, read without opening the store (which would repair it); a ``.new`` temp file is old if it
    was ``NEW_GRACE`` old at ``now`` (after opening: when the store was opened, which removes the old ones)."""
    now = time.time() if now is None else now
    found: Counter[str] = Counter()
    files = {str(p.relative_to(home)) for p in (home / "images").glob("*/*") if not p.name.startswith(".")}
    found["half-written files"] = sum(hashlib.sha256((home / f).read_bytes()).hexdigest() != Path(f).stem
                                      for f in files)  # a file's name is its bytes' hash: whole or absent
    found["legacy temp"] = len(list((home / "images").glob("*/.*.tmp")))
    for entry in (home / ".pending").iterdir():
        if entry.suffix == ".new":
            found["new temp (young)" if now - entry.stat().st_mtime < NEW_GRACE else "new temp (old)"] += 1
        else:  # .tmp: the image is in place (hard-linked) or was not finished
            found["temp, image in place" if entry.stat().st_nlink > 1 else "temp, unfinished"] += 1
    rows = {path for path, _ in _rows(home)} if (home / "index.sqlite").exists() else set()
    found["files without rows"] = len(files - rows)
    found["rows without files"] = len(rows - files)
    return found


def _put_forever(home: str, seed: int) -> None:
    """Three threads writing random images (10-400 kB) for ever, by put() and by put_many() (an answer of 3)."""
    from dalle_kit.store import Store

    warnings.simplefilter("ignore")
    store = Store(home)

    def write(t: int) -> None:
        rng = random.Random(seed * 10 + t)
        while True:
            images = [(rng.randbytes(rng.randrange(10_000, 400_000)), "png", {"call_id": f"{seed}-{t}", "index": i})
                      for i in range(1 if t == 0 else 3)]
            if t == 0:
                store.put(*images[0])
            else:
                store.put_many(images)

    for t in range(3):
        threading.Thread(target=write, args=(t,), daemon=True).start()
    time.sleep(3600)


def _kill_at_random(ctx, home: Path, seed: int, rng: random.Random, targeted: bool, writer=_generate_forever) -> None:
    """Start a writer and SIGKILL it: at a random moment, or (targeted) a random instant into a write."""
    child = ctx.Process(target=writer, args=(str(home), seed))
    child.start()
    if targeted:  # wait for a temp file to appear in .pending, then a few random milliseconds
        deadline = time.monotonic() + 5
        while not os.listdir(home / ".pending") and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.03))
    else:
        time.sleep(rng.uniform(0.02, 0.9))
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("writer", [_generate_forever, _put_forever], ids=["Kit.generate", "threads put/put_many"])
def test_writers_killed_at_random_leave_nothing_that_opening_does_not_repair(tmp_path, ctx, writer):
    home, rng, started = tmp_path / "home", random.Random(9), time.perf_counter()
    Store(home).close()
    before: Counter[str] = Counter()
    warned = 0
    kills = KILLS if writer is _generate_forever else KILLS // 2
    for kill in range(kills):
        _kill_at_random(ctx, home, kill * 1000, rng, targeted=kill % 2 == 1, writer=writer)
        found = _census(home)
        assert found["rows without files"] == 0  # file first, then row: never the other way round
        before.update(found)
        opened = time.time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store = Store(home)
        ours = [w for w in caught if issubclass(w.category, DalleKitWarning)]
        assert len(ours) == (1 if store.last_repair else 0), [str(w.message) for w in ours]
        warned += len(ours)
        after = _census(home, now=opened)
        assert {k: v for k, v in after.items() if v and k != "new temp (young)"} == {}, (kill, found, after)
        again = store.repair()  # nothing left; at most a .new temp file come of age (NEW_GRACE) since opening
        assert not (again.recovered or again.missing or again.restored), again
        assert all(p.suffix == ".new" for p in again.temp_removed), again
        store.close()
    with Store(home) as store:
        stored = len(store.history(100_000))
    print(f"\nkill -9 ({writer.__name__}): {kills} kills in {time.perf_counter() - started:.1f} s, {stored} images "
          f"stored; found before opening, summed over the kills: {dict(before)}; opening repaired and warned "
          f"{warned} times; left after opening: nothing")
