"""The store's files: crash-safe writes, the user's file mode, advisory locks. No SQLite here."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

if sys.platform != "win32":
    import fcntl

__all__ = ["BUSY_TIMEOUT", "IMAGE_NAME", "NEW_GRACE", "STALE_AGE", "atomic_write", "chmod_new", "lock", "sync_dir"]

BUSY_TIMEOUT = 30.0  # seconds a connection waits for another process's write lock
STALE_AGE = 600.0  # seconds: without locks (Windows, dalle_kit 0.1's temp files) only a temp file this old is dead
NEW_GRACE = 5.0  # seconds: a writer renames its new temp file ``.tmp`` microseconds after making it
IMAGE_NAME = re.compile(r"([0-9a-f]{64})\.([a-z0-9]+)")


_UMASK_AT_IMPORT = os.umask(0o022)  # the portable way to read it is to set it: restored at once, at import
os.umask(_UMASK_AT_IMPORT)


def _umask() -> int:
    """The umask now: from /proc on Linux (read without setting it: os.umask is process-global), else at import."""
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/self/status", "rb") as status:
        return int(next(line for line in status if line.startswith(b"Umask:")).split()[1], 8)
    return _UMASK_AT_IMPORT


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


