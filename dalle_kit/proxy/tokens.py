"""The roster: participants' names and tokens (new, hashed, read from and written to files).

A token is shown once, in the file :func:`write_tokens` writes for the teacher (mode 0600); the ledger keeps
only :func:`token_hash` of it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from ..errors import InvalidArgument
from ..store_files import sync_dir

__all__ = ["MAX_NAME", "MAX_PARTICIPANTS", "default_names", "new_token", "read_names", "read_tokens", "token_hash",
           "write_tokens"]

PREFIX = "dkp_"
MAX_NAME = 64
MAX_PARTICIPANTS = 1000
_SALT = b"dalle-kit-proxy:"
_FORBIDDEN = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}  # control, invisible (format), surrogates, private, breaks


def new_token() -> str:
    """A new participant token: ``dkp_`` and 32 URL-safe characters (192 random bits)."""
    return PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """Hex SHA-256 of the token (with a fixed prefix), as stored in the ledger.

    A fast hash is right here: tokens carry 192 random bits, so there is nothing to guess or precompute (a slow
    password hash would only slow down every request). Any ``str`` hashes, lone surrogates too.
    """
    return hashlib.sha256(_SALT + token.encode("utf-8", "surrogatepass")).hexdigest()


def default_names(count: int) -> list[str]:
    """``participant-01`` ... ``participant-<count>``, zero-padded to the width of ``count`` (at least 2)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PARTICIPANTS:
        raise InvalidArgument(f"the number of students must be a whole number from 1 to {MAX_PARTICIPANTS}, "
                              f"not {count!r}")
    width = max(2, len(str(count)))
    return [f"participant-{i:0{width}d}" for i in range(1, count + 1)]


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a participant's name, or None."""
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long (at most {MAX_NAME}): shorten it"
    if "," in name:
        return "contains a comma: remove it (names are written to a CSV file)"
    if any(unicodedata.category(c) in _FORBIDDEN for c in name):
        return "contains a control or invisible character: retype it"
    return None


def _lines(path: Path, text: str) -> Iterable[tuple[int, str]]:
    """``(line number, raw name)`` per line of a text file, or per row of a CSV file (its first column)."""
    if path.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        for row in reader:
            yield reader.line_num, row[0] if row else ""
    else:
        yield from enumerate(text.splitlines(), start=1)


def read_names(path: str | os.PathLike[str]) -> list[str]:
    """Participants' names from a text file (one a line) or a CSV file (the first column; a ``name`` header is
    skipped). Blank lines and lines starting with ``#`` are skipped; whitespace around names is dropped.

    Raises ``ValueError`` naming the file and line for a name that is repeated (ignoring case), too long, or
    holds a comma or control character, and when the file has no names; ``OSError`` when it cannot be read.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{source} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8 "
                              "(one name per line)") from None
    names: list[str] = []
    seen: dict[str, int] = {}  # casefolded name -> its line
    first_row = True
    try:
        for number, raw in _lines(source, text):
            name = raw.strip()
            if not name or name.startswith("#"):
                continue
            header, first_row = first_row and name.casefold() == "name", False
            if header:
                continue
            if (problem := _name_problem(name)) is not None:
                raise InvalidArgument(f"{source}, line {number}: the name {name[:80]!r} {problem}")
            if (first := seen.get(name.casefold())) is not None:
                raise InvalidArgument(f"{source}, line {number}: the name {name!r} is already on line {first} "
                                      "(names are compared ignoring case): rename one of them")
            seen[name.casefold()] = number
            names.append(name)
    except csv.Error as exc:
        raise InvalidArgument(f"{source} is not a readable CSV file ({exc}): put one name per line") from None
    if not names:
        raise InvalidArgument(f"{source} has no names: put one name per line (lines starting with # are skipped)")
    return names


def write_tokens(path: str | os.PathLike[str], pairs: Iterable[tuple[str, str]]) -> Path:
    """Write ``name,token`` rows (with a header) to a new CSV file, readable by its owner only (0600).

    The file appears whole or not at all (a temp file in the same folder, synced, then linked into place).
    An existing file is never replaced: ``InvalidArgument`` (its tokens would be lost).
    """
    target = Path(path)
    refusal = (f"{target} already exists; the tokens in it would be lost: pass another --tokens path, or delete "
               "it if those tokens are no longer needed")
    if os.path.lexists(target):
        raise InvalidArgument(refusal)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)  # os.open(O_EXCL, 0o600)
    tmp = Path(tmp_name)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "token"])
            writer.writerows((name, token) for name, token in pairs)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)  # unlike a rename, never replaces a file made since the check above
        except FileExistsError:
            raise InvalidArgument(refusal) from None
        except OSError:  # no hard links here (some file systems): the checked rename
            if os.path.lexists(target):
                raise InvalidArgument(refusal) from None
            os.replace(tmp, target)
        sync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def read_tokens(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: token}`` from a file :func:`write_tokens` wrote (the header, blank rows and ``#`` lines skipped)."""
    source = Path(path)
    tokens: dict[str, str] = {}
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#") or [c.casefold() for c in cells[:2]] == ["name", "token"]:
                continue
            if len(cells) < 2 or not cells[1]:
                raise InvalidArgument(f"{source}, line {reader.line_num}: expected name,token")
            tokens[cells[0]] = cells[1]
    return tokens
