"""The store: content-addressed files, SQLite index, migrations, DALLE_KIT_HOME, repair, write failures."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
import sys
import time
from pathlib import Path

import pytest
from helpers import png_bytes

from dalle_kit import DalleKitWarning, Kit, Simulator
from dalle_kit.store import MIGRATIONS, RepairReport, Store, atomic_write, default_home
from dalle_kit.store_files import STALE_AGE


def test_home_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    monkeypatch.delenv("DALLE_KIT_HOME")
    assert "dalle_kit" in str(default_home())


def test_put_writes_file_and_row(tmp_path):
    store = Store(tmp_path)
    info = {"request": {"endpoint": "generate", "model": "gpt-image-2", "prompt": "cat"}, "request_id": "req_1"}
    path = store.put(b"\x89PNG fake", "png", info)
    assert path.read_bytes() == b"\x89PNG fake" and path.suffix == ".png"
    again = store.put(b"\x89PNG fake", "png", info)  # same bytes: same file, a second row
    assert again == path
    rows = store.history()
    assert len(rows) == 2 and rows[0]["prompt"] == "cat" and rows[0]["path"] == str(path)
    assert rows[0]["info"]["request_id"] == "req_1"
    assert store.history(kind="partial") == []


def test_migrations_are_versioned(tmp_path):
    Store(tmp_path)
    Store(tmp_path)  # reopening runs nothing twice
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_made_by_an_older_version_is_migrated_in_place(tmp_path):
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        for sql in MIGRATIONS[:3]:
            db.execute(sql)
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO images (created, sha256, path, format, kind, info) VALUES (0, 'x', 'images/x', "
                   "'png', 'image', '{}')")
    db.close()
    store = Store(tmp_path)
    assert store.history()[0]["missing"] is None and store.history()[0]["sha256"] == "x"
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()


# -- crash leftovers: repair ----------------------------------------------------------------------------------


def _png(seed: int) -> bytes:
    return png_bytes((8, 8), color=(seed, 0, 0))


def _address(store: Store, data: bytes, ext: str = "png"):
    digest = hashlib.sha256(data).hexdigest()
    return store.images / digest[:2] / f"{digest}.{ext}"


def test_a_write_cut_before_its_row_is_indexed_on_the_next_open(tmp_path, monkeypatch):
    store = Store(tmp_path)
    data = _png(1)
    def locked(self, row):
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "_insert", locked)  # the file is linked in place, then the row fails
        with pytest.raises(sqlite3.OperationalError):
            store.put(data, "png", {"request": {"prompt": "lost"}})
    path = _address(store, data)
    assert path.read_bytes() == data  # the file is in place; its temp entry stays as the trace for the next open
    assert len(list(store.pending.iterdir())) == 1 and store.history() == []
    with pytest.warns(DalleKitWarning, match=r"not closed cleanly.*indexed 1 image file\(s\) that had no record"):
        reopened = Store(tmp_path)
    assert reopened.last_repair is not None and reopened.last_repair.recovered == (path,)
    [row] = reopened.history(kind="recovered")
    assert row["path"] == str(path) and row["format"] == "png" and row["sha256"] == path.stem
    assert row["prompt"] is None and row["request_key"] is None and row["info"]["recovered"] is True
    assert list(store.pending.iterdir()) == []
    Store(tmp_path)  # warned once: nothing is left to repair (a warning here would fail the test)


def test_a_dead_writers_temp_file_is_removed_on_open(tmp_path):
    store = Store(tmp_path)
    digest = hashlib.sha256(b"half").hexdigest()
    orphan = store.pending / f"{digest}.png.abcd1234.tmp"
    orphan.write_bytes(b"half")  # nobody holds its lock: its writer is gone, however young the file
    with pytest.warns(DalleKitWarning, match=r"removed 1 unfinished temp file"):
        reopened = Store(tmp_path)
    assert reopened.last_repair == RepairReport(temp_removed=(orphan,))
    assert not orphan.exists() and not _address(store, b"half").exists() and store.history() == []


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks (fcntl) on POSIX only")
def test_a_live_writers_files_are_left_alone(tmp_path):
    import fcntl

    store = Store(tmp_path)
    data = _png(2)
    target = _address(store, data)
    target.parent.mkdir(parents=True)
    entry = store.pending / f"{target.name}.live0001.tmp"
    entry.write_bytes(data)
    os.link(entry, target)  # a writer between its link and its row, holding its lock (another open file = another owner)
    with open(entry, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert not Store(tmp_path).repair()  # neither its temp file removed nor its file indexed as recovered
        assert entry.exists() and store.history(kind="recovered") == []
    assert store.repair().recovered == (target,)  # its writer is gone now
    assert not entry.exists()


def test_repair_indexes_strays_flags_missing_rows_and_clears_old_temp_files(tmp_path):
    store = Store(tmp_path)
    kept = store.put(_png(3), "png", {"request": {"prompt": "kept"}})
    gone = store.put(_png(4), "jpeg", {"request": {"prompt": "gone"}})
    gone_bytes = gone.read_bytes()
    gone.unlink()
    stray = _address(store, _png(5), "webp")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(_png(5))
    old_tmp, young_tmp = kept.parent / f".{kept.name}.old00001.tmp", kept.parent / f".{kept.name}.new00001.tmp"
    old_new = store.pending / f"{kept.name}.dead0001.new"
    for path in (old_tmp, young_tmp, old_new):
        path.write_bytes(b"x")
    long_ago = time.time() - STALE_AGE - 60
    os.utime(old_tmp, (long_ago, long_ago))
    os.utime(old_new, (long_ago, long_ago))
    report = store.repair()
    assert report.recovered == (stray,) and report.missing == (gone,) and report.restored == ()
    assert set(report.temp_removed) == {old_tmp, old_new} and young_tmp.exists()  # young: maybe a live old writer
    assert "indexed 1 image file(s)" in str(report) and "flagged 1 record(s) whose file is missing" in str(report)
    assert [r["prompt"] for r in store.history()] == ["kept"]  # a record whose file is gone is not shown
    assert store.history(kind="recovered")[0]["format"] == "webp"
    assert not store.repair()  # flagged once
    gone.write_bytes(gone_bytes)
    assert store.repair().restored == (gone,)
    assert [r["prompt"] for r in store.history()] == ["gone", "kept"]
    assert str(RepairReport()) == "nothing to repair"


def test_store_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = Store(tmp_path).put(_png(6), "png", {})
        saved = atomic_write(tmp_path / "saved.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and stat.S_IMODE(saved.stat().st_mode) == 0o640


def test_opening_a_clean_store_is_one_read_of_an_empty_folder(tmp_path, monkeypatch):
    Store(tmp_path).put(_png(7), "png", {})
    monkeypatch.setattr(Store, "repair", lambda self: pytest.fail("repair ran on a clean store"))
    Store(tmp_path)


# -- write failures: the images come back in memory ---------------------------------------------------------


def _failing_write(monkeypatch, fail_on: set[int], exc: OSError) -> list[Path]:
    """Make the store's file write raise ``exc`` on the given calls (1-based); returns the targets tried."""
    real, tried = Store._write, []

    def write(self, target, data):
        tried.append(target)
        if len(tried) in fail_on:
            raise exc
        return real(self, target, data)

    monkeypatch.setattr(Store, "_write", write)
    return tried


def test_a_full_disk_on_the_second_image_still_returns_all_three(tmp_path, monkeypatch):
    kit = Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True)
    tried = _failing_write(monkeypatch, {2}, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.warns(DalleKitWarning) as caught:
        images = kit.generate("a cat", n=3, quality="low")
    [warning] = caught.list
    message = str(warning.message)
    assert f"1 of 3 images could not be written to the store at {kit.store.images}" in message
    assert "(No space left on device [ENOSPC])" in message and "result.save(path)" in message
    assert warning.filename == __file__  # shown at the user's own line
    assert len(tried) == 3 and len(images) == 3  # the third was still stored
    assert [img.stored_at is None for img in images] == [False, True, False]
    assert all(img.bytes and img.pil.size == (1024, 1024) for img in images)
    assert {r["sha256"] for r in kit.history()} == {images[0].stored_at.stem, images[2].stored_at.stem}
    assert images[1].save(tmp_path / "kept.png").exists()
    assert list(kit.store.pending.iterdir()) == []
    kit.close()


def test_a_read_only_store_returns_the_images_with_one_warning(tmp_path, monkeypatch):
    kit = Kit(simulator=Simulator(seed=2), home=tmp_path, quiet=True)
    kit.store.images.chmod(0o500)
    try:
        if os.access(kit.store.images, os.W_OK):  # root: chmod does not restrict, so refuse like the OS would
            _failing_write(monkeypatch, {1, 2, 3}, PermissionError(errno.EACCES, "Permission denied"))
        with pytest.warns(DalleKitWarning, match=r"3 of 3 images .*\(Permission denied \[EACCES\]\)"):
            images = kit.generate("a cat", n=3, quality="low")
    finally:
        kit.store.images.chmod(0o755)
    assert len(images) == 3 and all(img.stored_at is None and img.bytes for img in images)
    assert kit.history() == []
    kit.close()


def test_a_stream_warns_once_and_yields_every_item(tmp_path, monkeypatch):
    kit = Kit(simulator=Simulator(seed=3), home=tmp_path, quiet=True)
    _failing_write(monkeypatch, {1, 3}, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.warns(DalleKitWarning, match=r"a streamed image could not be written") as caught:
        items = list(kit.generate("a cat", stream=True, partial_images=2, quality="low"))
    assert len(caught.list) == 1
    assert [i.partial for i in items] == [0, 1, None] and [i.stored_at is None for i in items] == [True, False, True]
    kit.close()


# -- the old .new trace, put_many ---------------------------------------------------------------------------------


def test_a_writer_killed_before_its_lock_is_repaired_on_open(tmp_path):
    store = Store(tmp_path)
    dead = store.pending / "abc.png.dead0002.new"  # made by mkstemp, never locked nor renamed: its writer died
    dead.write_bytes(b"")
    Store(tmp_path).close()  # young: maybe a live writer between mkstemp and its lock; nothing said
    assert dead.exists()
    long_ago = time.time() - STALE_AGE
    os.utime(dead, (long_ago, long_ago))
    with pytest.warns(DalleKitWarning, match=r"removed 1 unfinished temp file"):
        Store(tmp_path).close()
    assert not dead.exists()
    store.close()


def test_put_many_writes_one_answer_in_one_transaction(tmp_path, monkeypatch):
    store = Store(tmp_path)
    commits = []
    store._connections.get().set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    info = [{"request": {"prompt": "trio"}, "call_id": "c1", "request_key": "k", "index": i} for i in range(3)]
    paths = store.put_many([(_png(10 + i), "png", info[i]) for i in range(3)])
    assert len(commits) == 1 and [p.read_bytes() for p in paths] == [_png(10 + i) for i in range(3)]
    assert [r["path"] for r in store.find("k", 3)] == [str(p) for p in paths]
    assert store.put_many([]) == []
    real = Store._write

    def full_on_second(self, target, data):
        if data == _png(21):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, target, data)

    monkeypatch.setattr(Store, "_write", full_on_second)
    done = store.put_many([(_png(20 + i), "png", {"call_id": "c2", "index": i}) for i in range(3)])
    assert isinstance(done[1], OSError) and done[1].errno == errno.ENOSPC
    assert [p.read_bytes() for p in (done[0], done[2]) if isinstance(p, Path)] == [_png(20), _png(22)]
    assert len(store.history()) == 5 and list(store.pending.iterdir()) == []
    store.close()


def test_a_failed_put_many_leaves_its_files_for_the_next_open(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def locked(self, rows, spend=None):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "_insert_many", locked)
    with pytest.raises(sqlite3.OperationalError):
        store.put_many([(_png(30 + i), "png", {}) for i in range(2)])
    monkeypatch.undo()
    with pytest.warns(DalleKitWarning, match=r"indexed 2 image file\(s\)"):
        Store(tmp_path).close()
    assert len(store.history(kind="recovered")) == 2
    store.close()


# -- find: the newest complete answer to a request ------------------------------------------------------------


def _answer(store: Store, key: str, call: str, indexes, *, seed: int, kind: str = "image") -> list[Path]:
    return [store.put(_png(seed + i), "png", {"request_key": key, "call_id": call, "index": i,
                                              "request": {"prompt": f"{call} {i}"}}, kind=kind)
            for i in indexes]


def test_find_returns_the_newest_complete_answer_in_index_order(tmp_path):
    store = Store(tmp_path)
    assert store.find("k", 2) == []
    _answer(store, "k", "old", [1, 0], seed=40)  # stored out of order
    _answer(store, "k", "new", [0, 1], seed=50)
    _answer(store, "other", "x", [0, 1], seed=60)
    _answer(store, "k", "previews", [0, 1], seed=70, kind="partial")  # previews are not an answer
    found = store.find("k", 2)
    assert [r["prompt"] for r in found] == ["new 0", "new 1"]
    assert all(Path(r["path"]).is_absolute() and r["info"]["call_id"] == "new" for r in found)
    assert store.find("k", 3) == [] and store.find("k", 0) == [] and store.find("nothing", 1) == []
    store.close()


def test_find_skips_an_answer_cut_short_or_with_a_file_gone(tmp_path):
    store = Store(tmp_path)
    _answer(store, "k", "complete", [0, 1, 2], seed=80)
    _answer(store, "k", "cut short", [0, 1], seed=90)  # a crash after two of three rows
    assert [r["prompt"] for r in store.find("k", 3)] == ["complete 0", "complete 1", "complete 2"]
    gone = _answer(store, "k", "newest", [0, 1, 2], seed=100)
    assert next(r["prompt"] for r in store.find("k", 3)) == "newest 0"
    gone[1].unlink()  # not yet flagged by repair(): find() looks
    assert next(r["prompt"] for r in store.find("k", 3)) == "complete 0"
    store.repair()  # flagged missing now
    assert next(r["prompt"] for r in store.find("k", 3)) == "complete 0"
    store.close()


def test_find_groups_interleaved_answers_by_call_and_reads_rows_without_a_call_id(tmp_path):
    store = Store(tmp_path)
    for i in range(2):  # two answers to the same request stored at once (two threads): their rows interleave
        _answer(store, "k", "a", [i], seed=110 + i)
        _answer(store, "k", "b", [i], seed=120 + i)
    assert [r["prompt"] for r in store.find("k", 2)] == ["b 0", "b 1"]
    legacy = store.put(_png(130), "png", {"request_key": "old", "request": {"prompt": "no call id"}})
    assert [r["path"] for r in store.find("old", 1)] == [str(legacy)]  # a row on its own is an answer of one
    assert store.find("old", 2) == []
    store.close()


# -- the spend ledger -----------------------------------------------------------------------------------------


def test_spend_is_summed_per_backend_day_and_session(tmp_path, monkeypatch):
    import datetime as dt

    import dalle_kit.store as store_module

    store = Store(tmp_path)
    today, yesterday = dt.date.today(), dt.date.today() - dt.timedelta(days=1)
    assert store.spent("openai") == 0.0
    common = {"model": "gpt-image-2", "request_key": "k", "images": 1}
    store.record_spend(backend="openai", session="s1", cost=0.25, **common)
    store.record_spend(backend="openai", session="s2", cost=0.5, estimated=True, **common)
    store.record_spend(backend="openai", session="s1", cost=None, **common)  # price unknown: counts 0
    store.record_spend(backend="simulator", session="s1", cost=9.0, **common)
    noon_yesterday = time.mktime((*yesterday.timetuple()[:3], 12, 0, 0, 0, 0, -1))
    with monkeypatch.context() as patch:
        patch.setattr(store_module.time, "time", lambda: noon_yesterday)
        store.record_spend(backend="openai", session="s1", cost=2.0, **common)
    assert store.spent("openai") == pytest.approx(0.75)
    assert store.spent("openai", day=today) == pytest.approx(0.75)
    assert store.spent("openai", day=yesterday) == pytest.approx(2.0)
    assert store.spent("openai", session="s1") == pytest.approx(2.25)  # any day
    assert store.spent("openai", session="s1", day=today) == pytest.approx(0.25)  # both: that session that day
    assert store.spent("simulator") == pytest.approx(9.0) and store.spent("nobody") == 0.0
    rows = store._rows("SELECT day, estimated, images FROM spend WHERE session = 's2'")
    assert [tuple(r) for r in rows] == [(today.isoformat(), 1, 1)]
    store.close()
