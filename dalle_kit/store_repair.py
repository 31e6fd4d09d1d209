"""Repairing a store after a crash: files and index brought into agreement, live writers left alone."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .store_files import IMAGE_NAME, NEW_GRACE, STALE_AGE, lock

__all__ = ["RepairReport", "Repairing"]


@dataclass(frozen=True)
class RepairReport:
    """What :meth:`Store.repair` fixed (absolute paths). True when anything was repaired."""

    temp_removed: tuple[Path, ...] = ()  # unfinished temp files of writers that died
    recovered: tuple[Path, ...] = ()  # image files that had no row: indexed with kind="recovered"
    missing: tuple[Path, ...] = ()  # rows whose file is gone: flagged (column ``missing``), hidden from history
    restored: tuple[Path, ...] = ()  # flagged rows whose file is back: unflagged

    def __bool__(self) -> bool:
        return bool(self.temp_removed or self.recovered or self.missing or self.restored)

    def __str__(self) -> str:
        parts = [(self.temp_removed, "removed {} unfinished temp file(s)"),
                 (self.recovered, "indexed {} image file(s) that had no record (kind='recovered')"),
                 (self.missing, "flagged {} record(s) whose file is missing"),
                 (self.restored, "unflagged {} record(s) whose file is back")]
        return "; ".join(text.format(len(paths)) for paths, text in parts if paths) or "nothing to repair"


class Repairing:
    """The repair half of :class:`dalle_kit.store.Store` (it supplies the folders and the transactions)."""

    home: Path
    images: Path
    pending: Path

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError


    def _pending_entries(self, removed: list[Path] | None = None) -> Iterator[tuple[os.DirEntry[str], int | None]]:
        """Each temp file in ``.pending`` with an fd locked by us (its writer is gone), or None (a live writer).

        With ``removed``, also deletes ``.new`` files older than ``NEW_GRACE`` (a writer killed before its lock).
        """
        with contextlib.suppress(FileNotFoundError), os.scandir(self.pending) as entries:
            for entry in entries:
                if removed is not None and entry.name.endswith(".new"):
                    with contextlib.suppress(FileNotFoundError):
                        if time.time() - entry.stat().st_mtime > NEW_GRACE:
                            os.unlink(entry.path)
                            removed.append(Path(entry.path))
                if not entry.name.endswith(".tmp"):
                    continue
                try:
                    fd = os.open(entry.path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # finished meanwhile
                ours = lock(fd, wait=False)
                stat = os.fstat(fd)
                if ours is None:  # no locks here: only age tells
                    ours = time.time() - stat.st_mtime > STALE_AGE
                if ours and stat.st_nlink:
                    yield entry, fd
                else:
                    os.close(fd)
                    yield entry, None

    def _interrupted(self) -> bool:
        """Whether a writer died (an abandoned temp file in ``.pending``, or a ``.new`` one older than
        ``NEW_GRACE``: killed before it took its lock): the cheap check made on opening, ``.pending`` only."""
        now, old_new = time.time(), False
        with contextlib.suppress(FileNotFoundError), os.scandir(self.pending) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    if entry.name.endswith(".new") and now - entry.stat().st_mtime > NEW_GRACE:
                        old_new = True
        fds = [fd for _, fd in self._pending_entries() if fd is not None]
        for fd in fds:
            os.close(fd)
        return bool(fds) or old_new

    def _list_images(self, removed: list[Path]) -> dict[str, str]:
        """Image files under ``images/``: path relative to home -> full path; old-style abandoned temp files go."""
        found: dict[str, str] = {}  # strings: Path objects would be most of the cost
        now = time.time()
        with os.scandir(self.images) as folders:
            for folder in folders:
                if len(folder.name) != 2 or not folder.is_dir():
                    continue
                prefix = os.path.join("images", folder.name, "")
                with os.scandir(folder.path) as files:
                    for entry in files:
                        if entry.name.startswith(".") and entry.name.endswith(".tmp"):  # dalle_kit <= 0.1
                            with contextlib.suppress(FileNotFoundError):
                                if now - entry.stat().st_mtime > STALE_AGE:
                                    os.unlink(entry.path)
                                    removed.append(Path(entry.path))
                        elif IMAGE_NAME.fullmatch(entry.name) and entry.is_file():
                            found[prefix + entry.name] = entry.path
        return found

    def _sort_pending(self, files: dict[str, str], removed: list[Path], dead: list[tuple[str, int]]) -> set[str]:
        """The targets of live writers. Dead ones' entries go to ``dead`` with our lock on them; their linked
        file joins ``files``, an unlinked temp file is counted in ``removed`` (both deleted after the commit)."""
        live: set[str] = set()
        for entry, fd in self._pending_entries(removed):
            match = IMAGE_NAME.match(entry.name)
            target = self.images / match[1][:2] / match[0] if match else self.pending / entry.name
            rel = str(target.relative_to(self.home))
            if fd is None:
                live.add(rel)
                continue
            dead.append((entry.path, fd))
            if match and target.exists() and os.path.samestat(os.fstat(fd), target.stat()):
                files[rel] = str(target)  # in place, maybe without its row (indexed below)
            else:
                removed.append(Path(entry.path))
        return live

    def repair(self) -> RepairReport:
        """Make files and index agree; safe while other processes write (their files are never touched).

        Removes the temp files of writers that died, indexes image files without a row (``kind="recovered"``,
        format from the extension, no request info), flags rows whose file is missing (column ``missing``;
        unflagged when the file is back). Returns what it did.
        """
        # The order matters: a file listed here without a row had its row committed before our transaction
        # began, or its writer still holds its lock in .pending (live), or died (dead: indexed here).
        removed: list[Path] = []
        recovered: list[Path] = []
        missing: list[Path] = []
        restored: list[Path] = []
        dead: list[tuple[str, int]] = []
        try:
            files = self._list_images(removed)
            live = self._sort_pending(files, removed, dead)
            with self._transaction() as db:
                rows = {row["path"]: row["missing"] for row in db.execute("SELECT path, missing FROM images")}
                for rel, path in files.items():
                    if rel not in rows and rel not in live:
                        self._index_recovered(db, rel, Path(path))
                        recovered.append(Path(path))
                    elif rows.get(rel) is not None:
                        db.execute("UPDATE images SET missing = NULL WHERE path = ?", (rel,))
                        restored.append(Path(path))
                for rel, flagged in rows.items():  # exists(): the file may have come after the listing
                    if rel not in files and flagged is None and not (self.home / rel).exists():
                        db.execute("UPDATE images SET missing = ? WHERE path = ?", (time.time(), rel))
                        missing.append(self.home / rel)
            for entry_path, _ in dead:  # only once their rows are committed
                Path(entry_path).unlink(missing_ok=True)
        finally:
            for _, fd in dead:
                os.close(fd)
        return RepairReport(tuple(removed), tuple(recovered), tuple(missing), tuple(restored))

    def _index_recovered(self, db: sqlite3.Connection, rel: str, path: Path) -> None:
        """A row for an image file found without one: what its name says (hash, format), no request info."""
        digest, ext = path.name.split(".", 1)
        fmt = "jpeg" if ext == "jpg" else ext
        info = json.dumps({"format": fmt, "recovered": True, "software": "dalle_kit"})
        db.execute("INSERT INTO images (created, sha256, path, format, kind, info) VALUES (?,?,?,?,?,?)",
                   (path.stat().st_mtime, digest, rel, fmt, "recovered", info))
