"""The proxy's ledger (SQLite): participants, their caps, and every charge, reserved before the call it pays for.

The proxy writes it from many threads; other processes (``dalle-kit proxy status``, a notebook) read it and may
change caps or revoke tokens meanwhile, so nothing is cached. Each write is one ``BEGIN IMMEDIATE`` transaction
(writers take turns, waiting up to ``BUSY_TIMEOUT``); reads never wait (WAL). One connection per thread, closed
when the thread ends or by :meth:`Ledger.close`. Only ``token_hash`` of a token is stored: no token, key or prompt.

A charge goes ``open`` (``reserved`` held against the cap) -> ``settled`` or ``failed`` (``amount`` spent); one a
crash left open becomes ``lost`` at :meth:`Ledger.recover`, spent at its reserved amount. A request turned away
for want of budget leaves a ``refused`` row (amount 0; ``reserved`` says what was asked).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hmac
import math
import os
import re
import shlex
import sqlite3
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import sqlite_db
from ..errors import InvalidArgument, TokenRevoked, UnknownName
from ..sqlite_db import Connections, migrate, transaction
from .tokens import _name_problem, token_hash

__all__ = ["BUSY_TIMEOUT", "MIGRATIONS", "Ledger", "Participant", "Refusal", "Reservation", "Standing"]

BUSY_TIMEOUT = 10.0  # seconds a write waits for the others' turns before "database is locked"
MIGRATIONS: tuple[str, ...] = (  # append only: PRAGMA user_version counts those applied
    """CREATE TABLE participants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE, cap REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, added TEXT NOT NULL)""",
    """CREATE TABLE charges (id INTEGER PRIMARY KEY, name TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
        endpoint TEXT NOT NULL, model TEXT NOT NULL, images_asked INTEGER NOT NULL, reserved REAL NOT NULL,
        amount REAL NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,  -- open, settled, failed, lost, refused
        detail TEXT)""",
    "CREATE INDEX charges_name_status ON charges(name, status)",  # reserve(), standings()
    "CREATE INDEX charges_status ON charges(status)",  # recover(), totals()
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
SPENT = "('settled', 'failed', 'lost')"  # the statuses whose amount is spent
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Participant:
    name: str
    cap: float
    revoked: bool


@dataclass(frozen=True)
class Reservation:
    id: int
    name: str
    amount: float


def _usd(value: float) -> str:
    """``$1.50``; more places only where cents would hide the amount (``$0.011``)."""
    return f"${value:.2f}" if abs(value - round(value, 2)) < 5e-7 else f"${value:.4f}".rstrip("0")


@dataclass(frozen=True)
class Refusal:
    """A request turned away: it could take ``name`` past the cap. Amounts in US dollars."""

    name: str
    cap: float
    spent: float
    reserved: float
    asked: float

    @property
    def message(self) -> str:
        flight = f" ({_usd(self.reserved)} more is in flight)" if self.reserved > 0 else ""
        return (f"{self.name} has spent {_usd(self.spent)} of a {_usd(self.cap)} budget{flight}; this request may "
                f"cost up to {_usd(self.asked)}. Ask the teacher to raise your cap "
                f"(dalle-kit proxy cap {shlex.quote(self.name)} USD).")


@dataclass(frozen=True)
class Standing:
    """One participant's row of the status table. ``requests``: calls let through; ``failed`` counts failed
    and lost ones; ``last_seen``: when the last request (refused too) started, ISO UTC."""

    name: str
    cap: float
    spent: float
    reserved: float
    images: int
    requests: int
    refused: int
    failed: int
    revoked: bool
    last_seen: str | None

    @property
    def left(self) -> float:
        return max(0.0, round(self.cap - self.spent - self.reserved, 6))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _number(value: float, what: str, kind: type | tuple[type, ...] = (int, float)) -> Any:
    """``value`` if it is a finite number (of ``kind``) >= 0, else ``ValueError``."""
    try:
        ok = not isinstance(value, bool) and isinstance(value, kind) and math.isfinite(value) and value >= 0
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        raise InvalidArgument(f"{what} must be a finite number, 0 or more, not {value!r}")
    return value


class Ledger:
    """Participants, caps and charges in one SQLite file at ``path`` (made with its folder if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # synchronous NORMAL: in WAL mode a killed process loses nothing committed (only a power cut could)
        self._connections = Connections(self.path, busy_timeout=BUSY_TIMEOUT, synchronous="NORMAL")
        weakref.finalize(self, self._connections.close)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections and transactions -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; using the ledger again opens new ones."""
        self._connections.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return sqlite_db.rows(self._connections, sql, params)

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The thread's connection in ``BEGIN IMMEDIATE``: committed on leaving, else rolled back."""
        return transaction(self._connections)

    def _migrate(self) -> None:
        migrate(self._connections, MIGRATIONS)

    def add(self, people: Mapping[str, str], cap: float) -> None:
        """Add participants, ``{name: token_hash(token)}``, each with ``cap`` dollars, in one transaction.
        A name already there (ignoring case) or a token already used: ``ValueError``, and none is added."""
        cap = float(_number(cap, "the cap (US dollars)"))
        for name, digest in people.items():
            if not isinstance(name, str) or not name.strip() or (problem := _name_problem(name)):
                raise InvalidArgument(f"participant name {name!r} {problem or 'is empty'}")
            if not isinstance(digest, str) or not _HASH.fullmatch(digest):
                raise InvalidArgument(f"the token of {name!r} must be given as token_hash(token), not as is")
        with self._write() as db:
            rows = db.execute("SELECT name, token_hash FROM participants").fetchall()
            names = {name.casefold(): name for name, _ in rows}
            hashes = {digest for _, digest in rows}
            for name, digest in people.items():
                if (other := names.get(name.casefold())) is not None:
                    raise InvalidArgument(f"a participant named {other!r} is already in the ledger; pick another "
                                          f"name than {name!r}")
                if digest in hashes:
                    raise InvalidArgument(f"the token given for {name!r} is already another participant's: "
                                          "give each participant a new token")
                names[name.casefold()], added = name, _now()
                hashes.add(digest)
                db.execute("INSERT INTO participants (name, token_hash, cap, added) VALUES (?,?,?,?)",
                           (name, digest, cap, added))

    def names(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT name FROM participants ORDER BY id")]

    def __len__(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM participants")[0][0])

    def authenticate(self, token: str) -> Participant | None:
        """The participant whose token this is (a revoked one too: ``revoked=True``), else None.

        The token's hash is compared with every stored one (``hmac.compare_digest``, no early exit), read anew
        on each call, so a revoke from another process counts at once. Never raises for odd input.
        """
        if not isinstance(token, str):
            return None
        digest = token_hash(token).encode("ascii")
        rows = self._rows("SELECT name, token_hash, cap, revoked FROM participants")
        matches = [row for row in rows if hmac.compare_digest(row[1].encode("ascii"), digest)]
        if not matches:
            return None
        name, _, cap, revoked = matches[0]
        return Participant(name=name, cap=float(cap), revoked=bool(revoked))

    def _update_participant(self, name: str, sql: str, params: tuple[Any, ...]) -> None:
        with self._write() as db:
            if db.execute(sql, (*params, name)).rowcount == 0:
                known = [row[0] for row in db.execute("SELECT name FROM participants ORDER BY id")]
                close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
                hint = f"did you mean {', '.join(close)}?" if close else f"{len(known)} participants, none close"
                raise UnknownName(f"no participant named {name!r} in {self.path}: {hint}")

    def set_cap(self, name: str, cap: float) -> None:
        """Set ``name``'s cap (dollars); unknown name: ``KeyError`` listing close ones."""
        cap = float(_number(cap, "the cap (US dollars)"))
        self._update_participant(name, "UPDATE participants SET cap = ? WHERE name = ?", (cap,))

    def revoke(self, name: str) -> None:
        """Refuse ``name``'s token from now on (every process sees it at its next request)."""
        self._update_participant(name, "UPDATE participants SET revoked = 1 WHERE name = ?", ())

    def restore(self, name: str) -> None:
        """Accept ``name``'s token again."""
        self._update_participant(name, "UPDATE participants SET revoked = 0 WHERE name = ?", ())

    # -- charges ----------------------------------------------------------------------------------------------

    def reserve(self, name: str, amount: float, *, endpoint: str, model: str, images: int) -> Reservation | Refusal:
        """Hold ``amount`` dollars of ``name``'s budget for one call, or refuse (a ``refused`` row) if spent,
        held and asked would pass the cap. A revoked participant: ``TokenRevoked`` (a ``PermissionError``);
        unknown: ``KeyError``."""
        amount, images = float(_number(amount, "the amount (US dollars)")), _number(images, "images", int)
        with self._write() as db:
            row = db.execute("SELECT cap, revoked FROM participants WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownName(f"no participant named {name!r} in {self.path}")
            cap, revoked = float(row[0]), bool(row[1])
            if revoked:
                raise TokenRevoked(f"{name}'s token was revoked by the teacher")
            spent, reserved = db.execute(
                f"SELECT TOTAL(CASE WHEN status IN {SPENT} THEN amount END), "
                "TOTAL(CASE WHEN status = 'open' THEN reserved END) FROM charges WHERE name = ?", (name,)).fetchone()
            started = _now()
            if spent + reserved + amount > cap + 1e-9:
                db.execute("INSERT INTO charges (name, started, finished, endpoint, model, images_asked, reserved, "
                           "status) VALUES (?,?,?,?,?,?,?, 'refused')",
                           (name, started, started, str(endpoint), str(model), images, amount))
                return Refusal(name=name, cap=cap, spent=round(spent, 6), reserved=round(reserved, 6), asked=amount)
            cursor = db.execute("INSERT INTO charges (name, started, endpoint, model, images_asked, reserved, "
                                "status) VALUES (?,?,?,?,?,?, 'open')",
                                (name, started, str(endpoint), str(model), images, amount))
            return Reservation(id=int(cursor.lastrowid or 0), name=name, amount=amount)

    def settle(self, reservation: Reservation, amount: float, *, images: int, status: str = "settled",
               detail: str | None = None) -> None:
        """Close a reservation: ``amount`` dollars spent (``failed`` rows usually 0), ``images`` received.
        Settling one already closed does nothing; ``detail`` (an error code) is cut to 200 characters."""
        if status not in ("settled", "failed"):
            raise InvalidArgument(f"status must be 'settled' or 'failed', not {status!r}")
        amount, images = float(_number(amount, "the amount (US dollars)")), _number(images, "images", int)
        note = None if detail is None else str(detail)[:200]
        with self._write() as db:
            done = db.execute("UPDATE charges SET status = ?, amount = ?, images = ?, finished = ?, detail = ? "
                              "WHERE id = ? AND name = ? AND status = 'open'",
                              (status, amount, images, _now(), note, reservation.id, reservation.name)).rowcount
            if not done and db.execute("SELECT 1 FROM charges WHERE id = ? AND name = ?",
                                       (reservation.id, reservation.name)).fetchone() is None:
                raise UnknownName(f"no reservation {reservation.id} for {reservation.name!r} in {self.path}")

    def recover(self) -> int:
        """At the proxy's start: reservations a crash left open become ``lost``, spent at their reserved amount
        (the call may have been paid for). Returns how many. Never call it while a proxy uses the ledger."""
        with self._write() as db:
            return db.execute("UPDATE charges SET status = 'lost', amount = reserved, finished = ?, "
                              "detail = 'the proxy stopped before the answer' WHERE status = 'open'",
                              (_now(),)).rowcount

    # -- reading ----------------------------------------------------------------------------------------------

    def standings(self) -> list[Standing]:
        """One row per participant, in the order added (one query: a consistent snapshot)."""
        rows = self._rows(
            f"SELECT p.name, p.cap, p.revoked, TOTAL(CASE WHEN c.status IN {SPENT} THEN c.amount END), "
            "TOTAL(CASE WHEN c.status = 'open' THEN c.reserved END), TOTAL(c.images), "
            "TOTAL(c.status <> 'refused'), TOTAL(c.status = 'refused'), TOTAL(c.status IN ('failed', 'lost')), "
            "MAX(c.started) FROM participants p LEFT JOIN charges c ON c.name = p.name GROUP BY p.id ORDER BY p.id")
        return [Standing(name=name, cap=float(cap), spent=round(spent, 6), reserved=round(reserved, 6),
                         images=int(images), requests=int(requests), refused=int(refused), failed=int(failed),
                         revoked=bool(revoked), last_seen=last)
                for name, cap, revoked, spent, reserved, images, requests, refused, failed, last in rows]

    def totals(self) -> dict[str, float | int]:
        """``spent``, ``reserved`` (dollars), ``images``, ``requests``, ``refused``, ``participants``."""
        spent, reserved, images, requests, refused, people = self._rows(
            f"SELECT TOTAL(CASE WHEN status IN {SPENT} THEN amount END), "
            "TOTAL(CASE WHEN status = 'open' THEN reserved END), TOTAL(images), TOTAL(status <> 'refused'), "
            "TOTAL(status = 'refused'), (SELECT COUNT(*) FROM participants) FROM charges")[0]
        return {"spent": round(spent, 6), "reserved": round(reserved, 6), "images": int(images),
                "requests": int(requests), "refused": int(refused), "participants": int(people)}

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                       "excluded.value", (str(key), str(value)))

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (str(key),))
        return rows[0][0] if rows else None
