"""The store: every received image on disk (content-addressed, atomic writes) and indexed in SQLite.

Folder: ``DALLE_KIT_HOME`` if set, else the platform's user data folder (platformdirs). Images are written
before they are shown, so a dead kernel loses nothing that was paid for. The index is the history behind
later features (gallery, cache, replay packs); its schema grows by appending to ``MIGRATIONS``. It also keeps
the model list read from ``/v1/models`` (``save_listing`` / ``listing``), so shutdown dates outlive the kernel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .registry import Listing

__all__ = ["Store", "atomic_write", "default_home"]

MIGRATIONS: tuple[str, ...] = (
    """CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        kind TEXT NOT NULL,
        endpoint TEXT,
        model TEXT,
        prompt TEXT,
        request_key TEXT,
        request_id TEXT,
        backend TEXT,
        info TEXT NOT NULL
    )""",
    "CREATE INDEX images_request_key ON images(request_key)",
    """CREATE TABLE model_listing (
        host TEXT NOT NULL,
        model TEXT NOT NULL,
        shutdown_date TEXT,
        read_on TEXT NOT NULL,
        PRIMARY KEY (host, model)
    )""",
)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and a rename: a crash leaves the old file or none."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def default_home() -> Path:
    """``DALLE_KIT_HOME``, else the user data folder for dalle_kit."""
    env = os.environ.get("DALLE_KIT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("dalle_kit", appauthor=False))


class Store:
    """Image files under ``home/images`` and their index in ``home/index.sqlite``."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.images = self.home / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "index.sqlite"
        self._migrate()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def _migrate(self) -> None:
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            with db:
                for step, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                    db.execute(sql)
                    db.execute(f"PRAGMA user_version = {step}")

    def put(self, data: bytes, fmt: str, info: Mapping[str, Any], *, kind: str = "image") -> Path:
        """Write ``data`` (as received) to its content address, index it, and return the file's path."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.images / digest[:2] / f"{digest}.{'jpg' if fmt == 'jpeg' else fmt}"
        if not path.exists():
            atomic_write(path, data)
        request = info.get("request", {})
        row = (time.time(), digest, str(path.relative_to(self.home)), fmt, kind, request.get("endpoint"),
               request.get("model"), request.get("prompt"), info.get("request_key"), info.get("request_id"),
               info.get("backend"), json.dumps(info, ensure_ascii=False, sort_keys=True, default=str))
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO images (created, sha256, path, format, kind, endpoint, model, prompt, "
                       "request_key, request_id, backend, info) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
        return path

    def history(self, limit: int = 50, *, kind: str = "image") -> list[dict[str, Any]]:
        """The newest ``limit`` records, newest first, with ``path`` made absolute."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM images WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, limit))
            records = [dict(row) for row in rows]
        for record in records:
            record["path"] = str(self.home / record["path"])
            record["info"] = json.loads(record["info"])
        return records

    def save_listing(self, listing: Listing) -> None:
        """Replace what is kept of ``listing.host``'s ``/v1/models`` with ``listing`` (one transaction)."""
        rows = [(listing.host, model, date.isoformat() if date else None, listing.read_on.isoformat())
                for model, date in listing.shutdown.items()]
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM model_listing WHERE host = ?", (listing.host,))
            db.executemany("INSERT INTO model_listing (host, model, shutdown_date, read_on) VALUES (?,?,?,?)", rows)

    def listing(self, host: str) -> Listing | None:
        """The ``/v1/models`` listing last read from ``host``, or None."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT model, shutdown_date, read_on FROM model_listing WHERE host = ?",
                              (host,)).fetchall()
        if not rows:
            return None
        shutdown = {r["model"]: dt.date.fromisoformat(r["shutdown_date"]) if r["shutdown_date"] else None
                    for r in rows}
        return Listing(shutdown=shutdown, read_on=dt.date.fromisoformat(rows[0]["read_on"]), host=host)
