"""SQLite as the store and the workshop ledger use it: a connection per thread, WAL, ``BEGIN IMMEDIATE`` writes,
append-only migrations.

Many writers at once (threads, processes): each write is one ``BEGIN IMMEDIATE`` transaction, which waits its
turn (the busy timeout) rather than failing with "database is locked"; reads never wait (WAL). Each thread keeps
one connection per database (a connection cannot be shared between threads), closed when the thread ends, by
:meth:`Connections.close`, or when its owner is collected; a forked child never touches its parent's.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = ["Connections", "migrate", "rows", "transaction"]


class Connections:
    """A database's connections, one per thread: ``get()`` is this thread's (opened on first use)."""

    def __init__(self, path: Path, *, busy_timeout: float, synchronous: str = "FULL",
                 row_factory: Any = None) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        self.row_factory = row_factory
        self.local = threading.local()
        self.open: dict[int, sqlite3.Connection] = {}  # by key, for close(); the thread-local holder keeps the key
        self.lock = threading.Lock()
        _EVERY.add(self)

    def get(self) -> sqlite3.Connection:
        holder = getattr(self.local, "holder", None)
        if holder is not None and holder.pid == os.getpid() and (db := self.open.get(holder.key)) is not None:
            return db
        # isolation_level None: transactions by hand (BEGIN IMMEDIATE); the timeout is SQLite's busy_timeout
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            if self.row_factory is not None:
                db.row_factory = self.row_factory
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
        except BaseException:
            db.close()
            raise
        holder = _Holder(os.getpid(), next(_KEYS))
        with self.lock:
            self.open[holder.key] = db
        weakref.finalize(holder, _close_one, weakref.ref(self), holder.key)  # when the thread ends
        self.local.holder = holder
        return db

    def close(self) -> None:
        """Close every thread's connection; using the database again opens new ones."""
        with self.lock:
            dbs = list(self.open.values())
            self.open.clear()
        for db in dbs:
            db.close()


class _Holder:  # a thread's key to its connection; collected with the thread's locals
    def __init__(self, pid: int, key: int) -> None:
        self.pid, self.key = pid, key


def _close_one(ref: weakref.ref[Connections], key: int) -> None:
    if (connections := ref()) is not None:  # else the owner's close() came first
        with connections.lock:
            db = connections.open.pop(key, None)
        if db is not None:
            db.close()


_KEYS = itertools.count()
_EVERY: weakref.WeakSet[Connections] = weakref.WeakSet()
_INHERITED: list[sqlite3.Connection] = []  # a forked child's copies of its parent's connections: kept, never used


def _after_fork() -> None:
    """SQLite forbids carrying a connection across a fork: the child neither uses nor closes its copies (closing
    one would act on lock and WAL state that is the parent's); it opens its own when it uses the database."""
    for connections in list(_EVERY):
        _INHERITED.extend(connections.open.values())
        connections.open.clear()
        connections.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _patiently(db: sqlite3.Connection, sql: str, busy_timeout: float) -> list[Any]:
    """``db.execute(sql)``; a "database is locked" that SQLite's busy handler does not wait out (switching to WAL,
    a BEGIN meeting a WAL being recovered) is retried until ``busy_timeout`` has passed."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if not ("locked" in str(exc) or "busy" in str(exc)) or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


def rows(connections: Connections, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """All rows of one query (one statement: one consistent snapshot), its cursor closed (an unfinished
    statement would hold a read snapshot open)."""
    with closing(connections.get().execute(sql, tuple(params))) as cursor:
        return cursor.fetchall()


@contextlib.contextmanager
def transaction(connections: Connections) -> Iterator[sqlite3.Connection]:
    """This thread's connection in ``BEGIN IMMEDIATE`` (one writer at a time, the others wait their turn):
    committed on leaving, else rolled back. Transactions do not nest."""
    db = connections.get()
    assert not db.in_transaction, "transactions do not nest"  # a bug in dalle_kit, not a user error
    _patiently(db, "BEGIN IMMEDIATE", connections.busy_timeout)
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def migrate(connections: Connections, migrations: Sequence[str]) -> None:
    """WAL mode (persistent, once per database), then the migrations not applied yet (``PRAGMA user_version``
    counts them), in one transaction that reads the version again: processes opening a new database at once
    wait their turn and find nothing left to do."""
    db, deadline = connections.get(), time.monotonic() + connections.busy_timeout
    while _patiently(db, "PRAGMA journal_mode=WAL", connections.busy_timeout)[0][0] != "wal":
        if time.monotonic() >= deadline:  # another process held the database the whole time
            raise sqlite3.OperationalError(f"{connections.path} could not be switched to WAL: database is locked")
        time.sleep(0.005)
    if rows(connections, "PRAGMA user_version")[0][0] >= len(migrations):
        return
    with transaction(connections) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for step, sql in enumerate(migrations[version:], start=version + 1):
            db.execute(sql)
            db.execute(f"PRAGMA user_version = {step}")
