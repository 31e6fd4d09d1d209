"""The store: every received image on disk (content-addressed, crash-safe writes) and indexed in SQLite.

Folder: ``DALLE_KIT_HOME`` if set, else the platform's user data folder (platformdirs). Images are written
before they are shown, so a dead kernel loses nothing that was paid for. The index (history, the model list
read from ``/v1/models``) grows by appending to ``MIGRATIONS``, applied in one ``BEGIN IMMEDIATE`` transaction
so that processes opening a new store at the same moment do not race.

A write goes: temp file in ``home/.pending`` (locked by its writer, fsynced), hard link to its content address
(whole or not at all), row, temp file removed. A process killed at any point leaves at worst an unlocked temp
file (never a row without a file); opening the store reads that small folder and, if a writer died, repairs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .errors import warn
from .registry import Listing
from .store_files import BUSY_TIMEOUT, atomic_write, chmod_new, lock, sync_dir
from .store_repair import Repairing, RepairReport

__all__ = ["RepairReport", "Store", "atomic_write", "default_home"]

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
    "ALTER TABLE images ADD COLUMN missing REAL",  # when repair() found the file gone (NULL: present)
    "ALTER TABLE images ADD COLUMN call_id TEXT",  # one id per API call: the images one answer brought
    "CREATE INDEX images_kind_id ON images(kind, id)",  # history(): newest first, per kind
    """CREATE TABLE spend (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        day TEXT NOT NULL,
        session TEXT NOT NULL,
        backend TEXT NOT NULL,
        model TEXT,
        request_key TEXT,
        cost REAL,
        images INTEGER NOT NULL DEFAULT 0,
        estimated INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX spend_backend_day ON spend(backend, day)",
)

def default_home() -> Path:
    """``DALLE_KIT_HOME``, else the user data folder for dalle_kit."""
    env = os.environ.get("DALLE_KIT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("dalle_kit", appauthor=False))


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the database to WAL (persistent: once per database). The switch needs the database to itself and
    gets no help from SQLite's busy handler, so beside other processes opening the same new store it retries."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal" or db.execute(
                    "PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


class Store(Repairing):
    """Image files under ``home/images`` and their index in ``home/index.sqlite``.

    Opening a store is cheap (one read of the usually empty ``home/.pending``); when it finds the trace of a
    writer that died, it runs :meth:`repair` and warns once with what was repaired (``last_repair``).
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.images = self.home / "images"
        self.pending = self.home / ".pending"
        self.images.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # a read-only store can still be read
            self.pending.mkdir(exist_ok=True)
        self.db_path = self.home / "index.sqlite"
        self.last_repair: RepairReport | None = None
        self._migrate()
        if self._interrupted():
            unclean = f"the image store at {self.home} was not closed cleanly (a write was interrupted)"
            try:
                self.last_repair = self.repair()
            except (OSError, sqlite3.Error) as exc:
                warn(f"{unclean}; it could not be repaired now ({type(exc).__name__}: {exc}): see Store.repair()")
            else:
                if self.last_repair:
                    warn(f"{unclean}; repaired: {self.last_repair}")

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT)  # the timeout is SQLite's busy_timeout
        db.row_factory = sqlite3.Row
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection in ``BEGIN IMMEDIATE`` (one writer at a time): committed on leaving, else rolled back."""
        with closing(self._connect()) as db:
            db.isolation_level = None  # transactions by hand
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self) -> None:
        """WAL mode, then the migrations not applied yet, in one transaction that re-reads the version."""
        with closing(self._connect()) as db:
            _use_wal(db)
            if db.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
                return
        with self._transaction() as db:  # other openers wait here, then find nothing left to do
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for step, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                db.execute(sql)
                db.execute(f"PRAGMA user_version = {step}")

    # -- writing ----------------------------------------------------------------------------------------------

    def put(self, data: bytes, fmt: str, info: Mapping[str, Any], *, kind: str = "image") -> Path:
        """Write ``data`` (as received) to its content address, then index it; return the file's path.

        Raises ``OSError`` (disk full, permissions) or ``sqlite3.Error``. The file is never left without a row
        for long: if the row fails, the next opening of the store indexes it.
        """
        digest = hashlib.sha256(data).hexdigest()
        path = self.images / digest[:2] / f"{digest}.{'jpg' if fmt == 'jpeg' else fmt}"
        request = info.get("request", {})
        row = (time.time(), digest, str(path.relative_to(self.home)), fmt, kind, request.get("endpoint"),
               request.get("model"), request.get("prompt"), info.get("request_key"), info.get("request_id"),
               info.get("backend"), info.get("call_id"), json.dumps(info, ensure_ascii=False, sort_keys=True,
                                                                     default=str))
        if path.exists():
            self._insert(row)
        else:
            with self._write(path, data):
                self._insert(row)
        return path

    def _insert(self, row: tuple[Any, ...]) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO images (created, sha256, path, format, kind, endpoint, model, prompt, "
                       "request_key, request_id, backend, call_id, info) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)

    def _pending_file(self, name: str) -> tuple[int, str]:
        """A new temp file in ``.pending``, named after its target and locked by this process.

        It is made as ``.new`` and renamed ``.tmp`` once locked, so no repair sees a ``.tmp`` file its live
        writer has not locked yet (a ``.new`` file is only removed once ``NEW_GRACE`` old).
        """
        self.pending.mkdir(exist_ok=True)
        if sys.platform == "win32":  # no locks to take, and an open file cannot be renamed
            return tempfile.mkstemp(dir=self.pending, prefix=f"{name}.", suffix=".tmp")
        while True:
            fd, new = tempfile.mkstemp(dir=self.pending, prefix=f"{name}.", suffix=".new")
            try:
                lock(fd, wait=True)
                os.replace(new, tmp := new.removesuffix(".new") + ".tmp")
                return fd, tmp
            except FileNotFoundError:
                os.close(fd)  # this process stood still for seconds and a repair removed it: take another
            except BaseException:
                os.close(fd)
                Path(new).unlink(missing_ok=True)
                raise

    @contextlib.contextmanager
    def _write(self, target: Path, data: bytes) -> Iterator[None]:
        """Put ``data`` at ``target`` (whole or not at all); the body indexes it; then the temp file goes."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = self._pending_file(target.name)
        linked = done = False
        try:
            # Windows: no lock to keep, and an open file can be neither linked nor removed there: closed here
            with open(fd, "wb", closefd=sys.platform == "win32") as handle:
                chmod_new(fd)
                handle.write(data)
                handle.flush()
                os.fsync(fd)
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass  # the same bytes (content address), written by another process meanwhile
            except OSError:  # no hard links on this file system: move it (then only repair() finds a file
                os.replace(tmp, target)  # left without its row by a crash)
            linked = True
            sync_dir(target.parent)
            yield
            done = True
        finally:
            if done or not linked:  # in place without a row, it stays: the next opening indexes the file
                Path(tmp).unlink(missing_ok=True)  # while still locked: no repair sees it half done
            if sys.platform != "win32":
                os.close(fd)

    # -- reading ----------------------------------------------------------------------------------------------

    def history(self, limit: int = 50, *, kind: str = "image") -> list[dict[str, Any]]:
        """The newest ``limit`` records (not those flagged missing), newest first, with ``path`` made absolute."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM images WHERE kind = ? AND missing IS NULL ORDER BY id DESC LIMIT ?",
                              (kind, limit))
            records = [dict(row) for row in rows]
        for record in records:
            record["path"] = str(self.home / record["path"])
            record["info"] = json.loads(record["info"])
        return records

    def find(self, request_key: str, count: int = 1) -> list[dict[str, Any]]:
        """The images of the newest complete answer to the request with ``request_key``: ``count`` images of one
        call whose files are present (as ``history`` records, in index order), else ``[]``.

        An answer that a crash cut short (fewer rows than ``count``) is not a hit; nor is a file gone from disk.
        """
        with closing(self._connect()) as db:
            rows = [dict(r) for r in db.execute(
                "SELECT * FROM images WHERE request_key = ? AND kind = 'image' AND missing IS NULL ORDER BY id DESC",
                (request_key,))]
        calls: dict[str, list[dict[str, Any]]] = {}
        for row in rows:  # newest call first (dicts keep insertion order)
            calls.setdefault(row["call_id"] or f"row-{row['id']}", []).append(row)
        for records in calls.values():
            for record in records:
                record["path"] = str(self.home / record["path"])
                record["info"] = json.loads(record["info"])
            by_index = {r["info"].get("index", 0): r for r in records}
            if all(i in by_index for i in range(count)):
                chosen = [by_index[i] for i in range(count)]
                if all(os.path.exists(r["path"]) for r in chosen):
                    return chosen
        return []

    # -- spend ------------------------------------------------------------------------------------------------

    def record_spend(self, *, backend: str, session: str, model: str | None, request_key: str | None,
                     cost: float | None, images: int, estimated: bool = False) -> None:
        """Add one answered call to the spend ledger (``cost`` None: price unknown). Local calendar day."""
        now = time.time()
        row = (now, dt.date.fromtimestamp(now).isoformat(), session, backend, model, request_key, cost, images,
               int(estimated))
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO spend (at, day, session, backend, model, request_key, cost, images, estimated) "
                       "VALUES (?,?,?,?,?,?,?,?,?)", row)

    def spent(self, backend: str, *, day: dt.date | None = None, session: str | None = None) -> float:
        """US dollars recorded for ``backend`` on ``day`` (default today), or in one ``session`` (any day)."""
        with closing(self._connect()) as db:
            if session is not None:
                row = db.execute("SELECT SUM(cost) FROM spend WHERE backend = ? AND session = ?", (backend, session))
            else:
                row = db.execute("SELECT SUM(cost) FROM spend WHERE backend = ? AND day = ?",
                                 (backend, (day or dt.date.today()).isoformat()))
            return float(row.fetchone()[0] or 0.0)

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
