"""The store's files: crash-safe writes, the user's file mode, advisory locks. No SQLite here."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

if sys.platform != "win32":
    import fcntl

__all__ = ["BUSY_TIMEOUT", "IMAGE_NAME", "NEW_GRACE", "STALE_AGE", "atomic_write", "chmod_new", "linked_write", "lock",
           "pending_file", "sync_dir"]

BUSY_TIMEOUT = 30.0  # seconds a connection waits for another process's write lock
STALE_AGE = 600.0  # seconds: without locks (Windows, dalle_kit 0.1's temp files) only a temp file this old is dead
NEW_GRACE = 5.0  # seconds: a writer renames its new temp file ``.tmp`` microseconds after making it
IMAGE_NAME = re.compile(r"([0-9a-f]{64})\.([a-z0-9]+)")


def _proc_umask() -> int | None:
    """The umask from /proc/self/status (Linux 4.7+): read without setting it. None where there is no such line."""
    with contextlib.suppress(OSError, StopIteration, ValueError, IndexError), \
            open("/proc/self/status", "rb") as status:
        return int(next(line for line in status if line.startswith(b"Umask:")).split()[1], 8)
    return None


def _read_umask_once() -> int:
    """The umask at import. Without /proc the only way to read it is to set it (os.umask is process-wide), so it is
    done once, under a lock, setting the strictest mask meanwhile: a file another thread makes in that instant is
    at worst private, never more open than the user asked."""
    found = _proc_umask()
    if found is not None:
        return found
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()
_UMASK_AT_IMPORT = _read_umask_once()


def _umask() -> int:
    """The umask now: from /proc where there is one (a umask changed since import counts), else the one at import."""
    found = _proc_umask()
    return _UMASK_AT_IMPORT if found is None else found


def chmod_new(fd: int) -> None:
    """Give a temp file (mkstemp makes it 0600) the mode any new file gets: 0666 less the umask."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_umask())


def sync_dir(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable (POSIX; Windows has no directory handle to sync)."""
    if sys.platform != "win32":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def lock(fd: int, *, wait: bool) -> bool | None:
    """Take an exclusive advisory lock on ``fd``: True, False when another process holds it, None when this
    system or file system has no such locks (Windows, some network mounts)."""
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return None
        return True
    return None


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and a rename: a crash leaves the old file or none."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            chmod_new(handle.fileno())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        sync_dir(target.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target




def pending_file(pending: Path, name: str) -> tuple[int, str]:
    """A new temp file in ``pending``, named after its target and locked by this process (its open file).

    It is made as ``.new`` and renamed ``.tmp`` once locked, so no repair sees a ``.tmp`` file its live writer
    has not locked yet (a ``.new`` file is only removed once ``NEW_GRACE`` old). The lock is ``flock``'s: held
    per open file, so another thread of this process, opening the file anew, sees it taken too.
    """
    pending.mkdir(exist_ok=True)
    if sys.platform == "win32":  # no locks to take, and an open file cannot be renamed
        return tempfile.mkstemp(dir=pending, prefix=f"{name}.", suffix=".tmp")
    while True:
        fd, new = tempfile.mkstemp(dir=pending, prefix=f"{name}.", suffix=".new")
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
def linked_write(pending: Path, target: Path, data: bytes) -> Iterator[None]:
    """Put ``data`` at ``target`` (whole or not at all) through a locked temp file in ``pending``; the body
    indexes it; then the temp file goes. If the body raises, the temp file stays (unlocked once closed) as the
    trace by which the next opening of the store finds the file and indexes it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = pending_file(pending, target.name)
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
