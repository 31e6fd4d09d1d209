"""Checks for replay packs (see :mod:`dalle_kit.replay`): the manifest's schema, member names, and capped reads
from a zip or a folder. Nothing here executes or decodes anything from a pack: JSON and bytes only."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import InvalidArgument, PackError

__all__ = ["EXT", "FILE", "FORMAT", "MANIFEST", "MAX_FILE", "MAX_MANIFEST", "MAX_TOTAL", "VERSION", "Entry",
           "FolderReader", "Reader", "ZipReader", "check_entries", "member_problem", "no_duplicate_keys",
           "refuse_constant"]

FORMAT = "dalle_kit.pack"
VERSION = 1
MANIFEST = "manifest.json"
MAX_FILE = 64 * 1024 * 1024  # one image: the API's largest answers are a few tens of MB
MAX_TOTAL = 4 * 1024 * 1024 * 1024  # a whole pack, read
MAX_MANIFEST = 32 * 1024 * 1024
MAX_ENTRIES = 200_000
_CHUNK = 1 << 16
EXT = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif", "svg": "svg"}
FILE = re.compile(r"images/([0-9a-f]{64})\.(png|jpg|webp|gif|svg)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOP = {"format", "version", "dalle_kit", "created", "entries"}
_ENTRY = {"key", "index", "file", "sha256", "size", "format", "pixels", "info"}


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidArgument(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def refuse_constant(name: str) -> Any:
    raise InvalidArgument(f"{name} is not JSON")


def member_problem(name: str) -> str | None:
    """Why a member name is refused, or None."""
    if not name or "\x00" in name or "\\" in name:
        return "is not a plain relative name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in PurePosixPath(name).parts or "." in PurePosixPath(name).parts:
        return "climbs out of the pack ('..')"
    return None


@dataclasses.dataclass(frozen=True)
class Entry:
    """One image of a pack: its request key, index in the answer, file, digest, size, format and provenance."""

    key: str
    index: int
    file: str
    sha256: str
    size: int
    format: str
    pixels: str
    info: dict[str, Any]


def check_entries(where: Path, manifest: Any) -> list[Entry]:
    """The manifest's entries, its schema checked."""
    if not isinstance(manifest, dict) or set(manifest) != _TOP:
        got = sorted(manifest) if isinstance(manifest, dict) else type(manifest).__name__
        raise PackError(where, f"the manifest must have exactly the fields {sorted(_TOP)}, not {got}", entry=MANIFEST)
    if manifest["format"] != FORMAT:
        raise PackError(where, f"format {manifest['format']!r} is not {FORMAT!r}", entry=MANIFEST)
    version = manifest["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise PackError(where, f"manifest version {version!r}: this dalle_kit reads version {VERSION} (a newer pack "
                        "needs a newer dalle_kit: pip install -U dalle_kit)", entry=MANIFEST)
    if not isinstance(manifest["dalle_kit"], str) or not isinstance(manifest["created"], str):
        raise PackError(where, "dalle_kit and created must be text", entry=MANIFEST)
    raw = manifest["entries"]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ENTRIES:
        raise PackError(where, f"entries must be a list of 1 to {MAX_ENTRIES:,} images", entry=MANIFEST)
    out = []
    files: dict[str, Entry] = {}
    places: set[tuple[str, int]] = set()
    for i, item in enumerate(raw):
        label = f"{MANIFEST} entry {i}"
        if not isinstance(item, dict) or set(item) != _ENTRY:
            raise PackError(where, f"an entry must have exactly the fields {sorted(_ENTRY)}", entry=label)
        key, index, file, digest, size = item["key"], item["index"], item["file"], item["sha256"], item["size"]
        if not isinstance(key, str) or not _HEX64.fullmatch(key):
            raise PackError(where, "key is not a request key (64 hex digits)", entry=label)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 100:
            raise PackError(where, "index must be a whole number from 0 to 99", entry=label)
        match = FILE.fullmatch(file) if isinstance(file, str) else None
        if match is None:
            raise PackError(where, f"file {file!r} is not images/<sha256>.<png|jpg|webp|gif|svg>", entry=label)
        if not isinstance(digest, str) or digest != match.group(1):
            raise PackError(where, "sha256 does not match the file's name", entry=label)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_FILE:
            raise PackError(where, f"size must be 1 to {MAX_FILE:,} bytes, not {size!r}", entry=label)
        fmt = item["format"]
        if fmt not in EXT or EXT[fmt] != match.group(2):
            raise PackError(where, f"format {fmt!r} does not fit the file {file!r}", entry=label)
        if not isinstance(item["pixels"], str) or not isinstance(item["info"], dict):
            raise PackError(where, "pixels must be text and info an object", entry=label)
        if (key, index) in places:
            raise PackError(where, f"a second image for request {key[:12]}... index {index}", entry=label)
        places.add((key, index))
        entry = Entry(key, index, file, digest, size, fmt, item["pixels"], item["info"])
        if file in files and files[file].size != size:
            raise PackError(where, "two entries give one file different sizes", entry=label)
        files[file] = entry
        out.append(entry)
    return out


# -- readers: a zip or a folder, every read capped ---------------------------------------------------------


class Reader:
    where: Path

    def names(self) -> list[str]:
        raise NotImplementedError

    def read(self, name: str, cap: int, expected: int | None) -> bytes:
        raise NotImplementedError

    def _capped(self, name: str, chunks: Iterator[bytes], cap: int, expected: int | None) -> bytes:
        """Read ``chunks`` up to ``cap`` bytes (refused past it), and exactly ``expected`` bytes when given."""
        buffer = io.BytesIO()
        for chunk in chunks:
            buffer.write(chunk)
            if buffer.tell() > cap:
                raise PackError(self.where, f"is larger than {cap:,} bytes (the manifest's size, or the cap); "
                                "refused", entry=name)
        if expected is not None and buffer.tell() != expected:
            raise PackError(self.where, f"holds {buffer.tell():,} bytes, the manifest says {expected:,}: truncated or "
                            "tampered with", entry=name)
        return buffer.getvalue()


class ZipReader(Reader):
    def __init__(self, where: Path, archive: zipfile.ZipFile) -> None:
        self.where = where
        self.archive = archive
        declared = 0
        for info in archive.infolist():
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PackError(where, "is a symbolic link; refused", entry=info.filename)
            if info.flag_bits & 0x1:
                raise PackError(where, "is encrypted; a pack never is", entry=info.filename)
            if info.file_size > MAX_FILE + MAX_MANIFEST:
                raise PackError(where, f"declares {info.file_size:,} bytes, past the cap; refused",
                                entry=info.filename)
            declared += info.file_size
        if declared > MAX_TOTAL:
            raise PackError(where, f"declares {declared:,} bytes in all, past the cap of {MAX_TOTAL:,}; refused")

    def names(self) -> list[str]:
        return [info.filename for info in self.archive.infolist()]

    def read(self, name: str, cap: int, expected: int | None) -> bytes:
        info = self.archive.getinfo(name)
        if info.file_size > cap or (expected is not None and info.file_size != expected):
            raise PackError(self.where, f"declares {info.file_size:,} bytes, the manifest says "
                            f"{expected if expected is not None else cap:,}; refused", entry=name)
        with self.archive.open(info) as handle:
            return self._capped(name, iter(lambda: handle.read(_CHUNK), b""), cap, expected)


class FolderReader(Reader):
    def __init__(self, where: Path) -> None:
        self.where = where

    def names(self) -> list[str]:
        out = []
        for root, dirs, files in os.walk(self.where, followlinks=False):
            for name in [*dirs, *files]:
                full = Path(root) / name
                rel = full.relative_to(self.where).as_posix()
                if full.is_symlink():
                    raise PackError(self.where, "is a symbolic link; refused", entry=rel)
                if full.is_file():
                    out.append(rel)
        return out

    def read(self, name: str, cap: int, expected: int | None) -> bytes:
        full = self.where / name
        if full.is_symlink() or not full.is_file():
            raise PackError(self.where, "is not a plain file", entry=name)
        with open(full, "rb") as handle:
            return self._capped(name, iter(lambda: handle.read(_CHUNK), b""), cap, expected)
