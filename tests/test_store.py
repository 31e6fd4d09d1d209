"""The store: content-addressed files, SQLite index, migrations, DALLE_KIT_HOME."""

from __future__ import annotations

import sqlite3

from dalle_kit.store import MIGRATIONS, Store, default_home


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
