"""The store under load: many threads in several processes writing one store, its connections, its query plans.

Writers are separate Python processes (``subprocess``), started together, each with several threads calling
``Store.put`` / ``Store.put_many``; every warning is an error in them too. Times are never asserted here (see
``benchmarks/store_load.py`` for figures).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from contextlib import closing
from pathlib import Path

import pytest
from helpers import query_plans

from dalle_kit.store import Store

WRITER = textwrap.dedent("""
    import io, json, os, random, sqlite3, sys, threading, time, warnings
    warnings.simplefilter("error")
    from PIL import Image
    from dalle_kit.store import Store

    home, name, threads, per_thread, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    rng = random.Random(name)
    def png(i):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (8, 8), rng.randbytes(192)).save(buffer, format="PNG")
        return buffer.getvalue()
    images = [[png(i) for i in range(per_thread)] for _ in range(threads)]
    store = Store(home)
    errors = []
    def write(t):
        try:
            todo = list(enumerate(images[t]))
            while todo:
                if t % 2:  # odd threads: the images of one answer, three at a time, in one transaction
                    batch, todo = todo[:3], todo[3:]
                    call = f"{name}-{t}-{batch[0][0]}"
                    done = store.put_many([(data, "png", {"request": {"prompt": f"{name} {t} {i}"}, "index": k,
                                                          "call_id": call, "request_key": call})
                                           for k, (i, data) in enumerate(batch)])
                    errors.extend(repr(r) for r in done if isinstance(r, OSError))
                else:
                    (i, data), todo = todo[0], todo[1:]
                    store.put(data, "png", {"request": {"prompt": f"{name} {t} {i}"}})
        except BaseException as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    while not os.path.exists(go):
        time.sleep(0.001)
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    open_connections = len(store._connections.open)  # only this thread's is left: the workers' closed on exit
    store.close()
    print(json.dumps({"errors": errors, "open_connections": open_connections}))
""")

KIT_WRITER = textwrap.dedent("""
    import json, os, sys, threading, time, warnings
    warnings.simplefilter("error")
    from dalle_kit import Kit

    home, name, calls, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    errors = []
    with Kit(offline=True, quiet=True, home=home) as kit:
        while not os.path.exists(go):
            time.sleep(0.001)
        try:  # the engine: several answers stored at once from its worker threads
            result = kit.generate_many([f"{name}: a lighthouse, call {i}" for i in range(calls)], quality="low",
                                       size="1024x1024", progress=False)
            errors += [f"{o.index}: {o.reason()}" for o in result.errors]
        except BaseException as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        kit.store.close()
    print(json.dumps({"errors": errors}))
""")


def _run_together(tmp_path: Path, script: str, args: list[list[str]]) -> list[dict]:
    """Start one process per argument list, let them go at once, and return what each printed (JSON)."""
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    children = [subprocess.Popen([sys.executable, "-W", "error", "-c", script, *a, str(go)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in args]
    time.sleep(0.3)  # both imported and waiting, most of the time; correctness does not depend on it
    go.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    return results


def _rows(home: Path) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(home / "index.sqlite")) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM images").fetchall()


@pytest.mark.skipif(sys.platform == "win32", reason="the store's locks and links are POSIX here")
def test_two_processes_of_four_threads_write_400_images_without_a_lost_row(tmp_path):
    home = tmp_path / "home"
    Store(home).close()
    results = _run_together(tmp_path, WRITER, [[str(home), name, "4", "50"] for name in ("a", "b")])
    assert [r["errors"] for r in results] == [[], []]  # no "database is locked", nothing else either
    assert [r["open_connections"] for r in results] == [1, 1]
    rows = _rows(home)
    assert len(rows) == 400 and len({r["sha256"] for r in rows}) == 400
    assert {r["prompt"] for r in rows} == {f"{n} {t} {i}" for n in "ab" for t in range(4) for i in range(50)}
    assert all((home / r["path"]).is_file() for r in rows)
    assert list((home / ".pending").iterdir()) == []
    with Store(home) as store:
        assert not store.repair()
        call = next(r for r in rows if r["prompt"] == "a 1 3")["call_id"]  # thread 1 wrote images 3-5 as one call
        assert [r["prompt"] for r in store.find(call, 3)] == ["a 1 3", "a 1 4", "a 1 5"]


@pytest.mark.skipif(sys.platform == "win32", reason="the store's locks and links are POSIX here")
def test_two_kits_generating_into_one_store(tmp_path):  # 2 processes x generate_many of 200 images
    home = tmp_path / "home"
    results = _run_together(tmp_path, KIT_WRITER, [[str(home), name, "200"] for name in ("a", "b")])
    assert [r["errors"] for r in results] == [[], []]  # no "database is locked", nothing lost
    rows = [r for r in _rows(home) if r["kind"] == "image"]
    assert len(rows) == 400 and all((home / r["path"]).is_file() for r in rows)
    assert len({r["call_id"] for r in rows}) == 400 and len({r["sha256"] for r in rows}) == 400
    with closing(sqlite3.connect(home / "index.sqlite")) as db:  # and every answer's spend, once
        assert db.execute("SELECT COUNT(*), SUM(images) FROM spend").fetchone() == (400, 400)
    with Store(home) as store:
        assert not store.repair()


# -- threads and connections ----------------------------------------------------------------------------------


def test_threads_share_a_store_each_with_its_own_connection(tmp_path):
    store = Store(tmp_path)
    seen: set[int] = set()

    def work(t: int) -> None:
        for i in range(10):
            store.put(f"{t} {i}".encode(), "png", {"request": {"prompt": f"{t} {i}"}})
        seen.add(id(store._connections.get()))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history(1000)) == 80 and len(seen) == 8
    assert len(store._connections.open) == 1  # the main thread's (from opening); each worker's closed as it ended
    mine = store._connections.get()
    assert store._connections.get() is mine  # reused
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        mine.execute("SELECT 1")
    assert len(store.history()) == 50  # a closed store opens a connection again when used
    store.close()


def test_a_collected_store_closes_its_connections(tmp_path):
    store = Store(tmp_path)
    store.put(b"x", "png", {})
    db = store._connections.get()
    del store
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_opens_its_own_connection(tmp_path):
    store = Store(tmp_path)
    store.put(b"parent 1", "png", {"request": {"prompt": "parent 1"}})
    parents = store._connections.get()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork beside threads (none here write)
        pid = os.fork()
    if pid == 0:  # the child: the parent's connection is neither used nor closed
        code = 1
        try:
            store.put(b"child", "png", {"request": {"prompt": "child"}})
            code = 0 if store._connections.get() is not parents else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.put(b"parent 2", "png", {"request": {"prompt": "parent 2"}})
    assert store._connections.get() is parents
    assert [r["prompt"] for r in store.history()] == ["parent 2", "child", "parent 1"]
    store.close()


def test_a_store_sent_to_another_process_is_opened_there(tmp_path):
    import pickle

    store = Store(tmp_path)
    store.put(b"before", "png", {})
    copy = pickle.loads(pickle.dumps(store))
    assert copy.home == store.home and copy._connections is not store._connections
    copy.put(b"copy", "png", {})
    assert len(store.history()) == 2
    copy.close()
    store.close()


def test_a_failed_commit_leaves_the_threads_connection_usable(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(sqlite3.IntegrityError), store._transaction() as db:
        db.execute("INSERT INTO images (created) VALUES (0)")  # NOT NULL columns missing
    assert not store._connections.get().in_transaction
    store.put(b"after", "png", {})
    assert len(store.history()) == 1
    store.close()


# -- query plans: history() and find() read through their indexes -------------------------------------------


def _fill(store: Store, count: int) -> None:
    rows = [(i, f"{i:064x}", f"images/{i:064x}.png", "png", "image" if i % 10 else "partial", f"key{i // 4}",
             f"call{i // 4}", json.dumps({"index": i % 4})) for i in range(count)]
    with store._transaction() as db:
        db.executemany("INSERT INTO images (created, sha256, path, format, kind, request_key, call_id, info) "
                       "VALUES (?,?,?,?,?,?,?,?)", rows)


def test_history_and_find_use_their_indexes_on_10000_rows(tmp_path):
    store = Store(tmp_path)
    _fill(store, 10_000)
    [history] = query_plans(store, lambda: store.history(50))
    assert history == "SEARCH images USING INDEX images_kind_id (kind=?)"  # no scan, no sort
    [find] = query_plans(store, lambda: store.find("key17", 4))
    assert find == "SEARCH images USING INDEX images_request_key (request_key=?)"
    [spent_day] = query_plans(store, lambda: store.spent("openai"))
    [spent_session] = query_plans(store, lambda: store.spent("openai", session="s"))
    assert "USING INDEX spend_backend_day (backend=? AND day=?)" in spent_day
    assert "USING INDEX spend_backend_session (backend=? AND session=?)" in spent_session
    assert len(store.history(50)) == 50
    store.close()
