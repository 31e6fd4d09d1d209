"""The store: every received image on disk (content-addressed, crash-safe writes) and indexed in SQLite.

Folder: ``DALLE_KIT_HOME`` if set, else the platform's user data folder (platformdirs). Images are written
before they are shown, so a dead kernel loses nothing that was paid for. The index (history, the model list
read from ``/v1/models``) grows by appending to ``MIGRATIONS``, applied in one ``BEGIN IMMEDIATE`` transaction
so that processes opening a new store at the same moment do not race.

A write goes: temp file in ``home/.pending`` (locked by its writer, fsynced), hard link to its content address
(whole or not at all), row, temp file removed. A process killed at any point leaves at worst an unlocked temp
file (never a row without a file); opening the store reads that small folder and, if a writer died, repairs.

Many writers at once (threads, processes): every write is one ``BEGIN IMMEDIATE`` transaction, which waits its
turn (SQLite's busy timeout, ``BUSY_TIMEOUT``) rather than failing with "database is locked"; reads never wait
(WAL). Each thread keeps one connection per store (a connection cannot be shared between threads), closed when
the thread ends, by :meth:`Store.close`, or when the store is collected; a forked child never touches its
parent's. ``synchronous=FULL``: a committed row survives a power cut too, as its file (fsynced before the row).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import sqlite_db
from .errors import InvalidArgument, warn
from .registry import Listing
from .sqlite_db import Connections, migrate, transaction
from .store_files import BUSY_TIMEOUT, atomic_write, linked_write
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
    "CREATE INDEX spend_backend_session ON spend(backend, session)",  # spent(session=...)
    "CREATE INDEX images_kind_model_id ON images(kind, model, id)",  # the gallery: one model's newest first
    "CREATE INDEX images_sha256 ON images(sha256)",  # recall: an edit's input image found by its digest
    """CREATE TABLE batch_jobs (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        backend TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        input_file_id TEXT,
        status TEXT,
        requests TEXT NOT NULL,
        collected REAL
    )""",  # Batch API jobs, so a restarted kernel finds and collects them (dalle_kit.batch)
)
# FULL: each commit syncs the WAL, so a row put() returned survives a power cut (NORMAL would survive a killed
# process but could lose the last rows, and spend, to a power cut). It costs one fsync per transaction.
SYNCHRONOUS = "FULL"
_INSERT = ("INSERT INTO images (created, sha256, path, format, kind, endpoint, model, prompt, request_key, "
           "request_id, backend, call_id, info) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
_INSERT_SPEND = ("INSERT INTO spend (at, day, session, backend, model, request_key, cost, images, estimated) "
                 "VALUES (?,?,?,?,?,?,?,?,?)")


def _spend_row(*, backend: str, session: str, model: str | None, request_key: str | None, cost: float | None,
               images: int, estimated: bool = False) -> tuple[Any, ...]:
    now = time.time()
    return (now, dt.date.fromtimestamp(now).isoformat(), session, backend, model, request_key, cost, images,
            int(estimated))

def default_home() -> Path:
    """``DALLE_KIT_HOME``, else the user data folder for dalle_kit."""
    env = os.environ.get("DALLE_KIT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("dalle_kit", appauthor=False))


class Store(Repairing):
    """Image files under ``home/images`` and their index in ``home/index.sqlite``.

    Opening a store is cheap (one read of the usually empty ``home/.pending``); when it finds the trace of a
    writer that died, it runs :meth:`repair` and warns once with what was repaired (``last_repair``). A store
    may be used from many threads at once, and by many processes; :meth:`close` (or ``with Store() as s:``)
    closes its connections once no thread uses it any more (collecting the store closes them too).
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
        self._connections = Connections(self.db_path, busy_timeout=BUSY_TIMEOUT, synchronous=SYNCHRONOUS,
                                        row_factory=sqlite3.Row)
        weakref.finalize(self, self._connections.close)
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

    def __reduce__(self) -> tuple[type[Store], tuple[Path]]:
        return Store, (self.home,)  # to another process: opened there anew (connections do not travel)

    def close(self) -> None:
        """Close the store's connections (every thread's); using the store again opens new ones."""
        self._connections.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        """A new connection of its own (the caller closes it); the store's methods use the thread's one."""
        db = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT)  # the timeout is SQLite's busy_timeout
        db.row_factory = sqlite3.Row
        return db

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """All rows of one query, its cursor closed (an unfinished statement would hold a read snapshot open)."""
        return sqlite_db.rows(self._connections, sql, params)

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The thread's connection in ``BEGIN IMMEDIATE``: committed on leaving, else rolled back."""
        return transaction(self._connections)

    def _migrate(self) -> None:
        migrate(self._connections, MIGRATIONS)

    # -- writing ----------------------------------------------------------------------------------------------

    def put(self, data: bytes, fmt: str, info: Mapping[str, Any], *, kind: str = "image") -> Path:
        """Write ``data`` (as received) to its content address, then index it; return the file's path.

        Raises ``OSError`` (disk full, permissions) or ``sqlite3.Error``. The file is never left without a row
        for long: if the row fails, the next opening of the store indexes it.
        """
        path, row = self._address(data, fmt, info, kind)
        if path.exists():
            self._insert(row)
        else:
            with self._write(path, data):
                self._insert(row)
        return path

    def put_many(self, images: Iterable[tuple[bytes, str, Mapping[str, Any]]], *, kind: str = "image",
                 spend: Mapping[str, Any] | None = None) -> list[Path | OSError]:
        """:meth:`put` for the images of one answer, ``(data, fmt, info)`` each: their files, then their rows in
        one transaction (one commit, one WAL sync). Per image, in order: its path, or the ``OSError`` that kept
        its file from being written (disk full...: the others are still stored). A ``sqlite3.Error`` raises
        (no row is written; the next opening indexes the files). ``spend`` (the arguments of
        :meth:`record_spend`) enters the ledger in the same transaction."""
        out: list[Path | OSError] = []
        rows = []
        with contextlib.ExitStack() as writes:
            for data, fmt, info in images:
                path, row = self._address(data, fmt, info, kind)
                try:
                    if not path.exists():
                        writes.enter_context(self._write(path, data))
                except OSError as exc:
                    out.append(exc)
                    continue
                out.append(path)
                rows.append(row)
            if rows or spend is not None:
                self._insert_many(rows, spend)
        return out

    def _address(self, data: bytes, fmt: str, info: Mapping[str, Any], kind: str) -> tuple[Path, tuple[Any, ...]]:
        """The content address of ``data`` and its row."""
        digest = hashlib.sha256(data).hexdigest()
        rel = os.path.join("images", digest[:2], f"{digest}.{'jpg' if fmt == 'jpeg' else fmt}")  # as repair()
        request = info.get("request", {})
        row = (time.time(), digest, rel, fmt, kind, request.get("endpoint"), request.get("model"),
               request.get("prompt"), info.get("request_key"), info.get("request_id"), info.get("backend"),
               info.get("call_id"), json.dumps(info, ensure_ascii=False, sort_keys=True, default=str))
        return self.home / rel, row

    def _insert(self, row: tuple[Any, ...]) -> None:
        self._insert_many([row])

    def _insert_many(self, rows: list[tuple[Any, ...]], spend: Mapping[str, Any] | None = None) -> None:
        with self._transaction() as db:
            db.executemany(_INSERT, rows)
            if spend is not None:
                db.execute(_INSERT_SPEND, _spend_row(**spend))

    def _write(self, target: Path, data: bytes) -> contextlib.AbstractContextManager[None]:
        """Put ``data`` at ``target`` (whole or not at all); the body indexes it; then the temp file goes."""
        return linked_write(self.pending, target, data)

    # -- reading ----------------------------------------------------------------------------------------------

    def _record(self, row: sqlite3.Row) -> dict[str, Any]:
        record = dict(row)
        record["path"] = str(self.home / record["path"])
        record["info"] = json.loads(record["info"])
        return record

    def history(self, limit: int = 50, *, kind: str = "image") -> list[dict[str, Any]]:
        """The newest ``limit`` records (not those flagged missing), newest first, with ``path`` made absolute."""
        rows = self._rows("SELECT * FROM images WHERE kind = ? AND missing IS NULL ORDER BY id DESC LIMIT ?",
                          (kind, limit))  # index images_kind_id: the newest rows of the kind, no sort
        return [self._record(row) for row in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of one read-only ``SELECT`` (or ``EXPLAIN``) over the index, as dicts; a row that has the
        ``images`` table's ``path`` and ``info`` comes back as a ``history`` record (the gallery's queries)."""
        if not sql.lstrip().upper().startswith(("SELECT", "EXPLAIN")):
            raise InvalidArgument("Store.query reads only: a SELECT or EXPLAIN statement")
        rows = self._rows(sql, tuple(params))
        return [self._record(row) if {"path", "info"} <= set(row.keys()) else dict(row) for row in rows]

    def find(self, request_key: str, count: int = 1) -> list[dict[str, Any]]:
        """The images of the newest complete answer to the request with ``request_key``: ``count`` images of one
        call whose files are present (as ``history`` records, ordered by their ``index``), else ``[]``.

        An answer that a crash cut short (fewer rows than ``count``) is not a hit; nor is a file gone from disk.
        """
        if count < 1:
            return []
        rows = self._rows("SELECT * FROM images WHERE request_key = ? AND +kind = 'image' AND missing IS NULL "
                          "ORDER BY id DESC", (request_key,))  # +kind: by the images_request_key index
        calls: dict[str, list[sqlite3.Row]] = {}
        for row in rows:  # a call is as new as its newest row (dicts keep insertion order)
            calls.setdefault(row["call_id"] or f"row-{row['id']}", []).append(row)
        for call in calls.values():
            if len(call) < count:
                continue
            by_index: dict[int, dict[str, Any]] = {}
            for record in map(self._record, reversed(call)):  # oldest first: a repeated index keeps its first
                index = record["info"].get("index")
                by_index.setdefault(index if isinstance(index, int) else 0, record)
            chosen = [by_index.get(i) for i in range(count)]
            if all(r is not None and os.path.isfile(r["path"]) for r in chosen):
                return [r for r in chosen if r is not None]
        return []

    # -- spend ------------------------------------------------------------------------------------------------

    def record_spend(self, *, backend: str, session: str, model: str | None, request_key: str | None,
                     cost: float | None, images: int, estimated: bool = False) -> None:
        """Add one answered call to the spend ledger (``cost`` None: price unknown). Local calendar day."""
        row = _spend_row(backend=backend, session=session, model=model, request_key=request_key, cost=cost,
                         images=images, estimated=estimated)
        with self._transaction() as db:
            db.execute(_INSERT_SPEND, row)

    def spent(self, backend: str, *, day: dt.date | None = None, session: str | None = None) -> float:
        """US dollars recorded for ``backend`` on ``day`` (default today), or in one ``session`` (any day; with
        ``day`` too, that session on that day). Calls whose price was unknown count as 0."""
        sql, params = "SELECT SUM(cost) FROM spend WHERE backend = ?", [backend]
        if session is None or day is not None:
            sql, params = sql + " AND day = ?", [*params, (day or dt.date.today()).isoformat()]
        if session is not None:
            sql, params = sql + " AND session = ?", [*params, session]
        return float(self._rows(sql, tuple(params))[0][0] or 0.0)

    def save_listing(self, listing: Listing) -> None:
        """Replace what is kept of ``listing.host``'s ``/v1/models`` with ``listing`` (one transaction)."""
        rows = [(listing.host, model, date.isoformat() if date else None, listing.read_on.isoformat())
                for model, date in listing.shutdown.items()]
        with self._transaction() as db:
            db.execute("DELETE FROM model_listing WHERE host = ?", (listing.host,))
            db.executemany("INSERT INTO model_listing (host, model, shutdown_date, read_on) VALUES (?,?,?,?)", rows)

    def listing(self, host: str) -> Listing | None:
        """The ``/v1/models`` listing last read from ``host``, or None."""
        rows = self._rows("SELECT model, shutdown_date, read_on FROM model_listing WHERE host = ?", (host,))
        if not rows:
            return None
        shutdown = {r["model"]: dt.date.fromisoformat(r["shutdown_date"]) if r["shutdown_date"] else None
                    for r in rows}
        return Listing(shutdown=shutdown, read_on=dt.date.fromisoformat(rows[0]["read_on"]), host=host)
