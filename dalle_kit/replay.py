"""Replay packs: the store's images exported with their provenance, answered again with no key and no network.

A pack is a zip (or a folder) holding ``manifest.json`` and ``images/<sha256>.<ext>`` (the bytes exactly as
received). The manifest names the format and its version, the dalle_kit version, when it was made, and per image
the request key, its index in the answer, the file, its SHA-256 and size, its format and its provenance (never a
key: the store holds none, and text that looks like one, ``sk-...`` or ``Bearer ...``, is scrubbed on export and
refused on load). ``Kit(replay="workshop.zip")`` (or ``DALLE_KIT_REPLAY``) answers every request whose key is in
the pack: the caption says "replayed", and the images enter the local store (a re-run says "from the store").

Loading verifies everything before anything is answered, and never executes anything from the pack (JSON only,
no pickle; images are decoded only when shown): the manifest's schema and version; every member's name (no
absolute path, no ``..``, no duplicate, no symlink, nothing the manifest does not name, nothing it names
missing); sizes (declared and actually read, per file and in all: a zip bomb stops at the cap); every file's
SHA-256 and size against the manifest. A tampered or truncated pack raises ``PackError`` naming the pack, the
entry and the problem. Each answer re-checks its file's digest.

Which requests replay: a request's key is a digest of its canonical form (model, parameters, prompt, and input
images and masks by SHA-256), so a request replays on another machine when it is made of the same things. A
notebook that generates an image and then edits it replays both: the edit's input is the replayed image, whose
bytes, and so digest, are those recorded. What can never replay is input that differs per run or per person: a
mask painted by hand in the ``MaskPainter``, a photo of one's own, a prompt typed into a widget, anything random
or dated. A notebook makes such a step replayable by using the widget's Python twin when nothing was drawn (the
painter's ``if painter.empty: painter.add_stroke([...])`` draws the same mask everywhere), by shipping its input
files beside the notebook, and by fixing prompts in code. A PIL image passed as input is encoded to PNG by
Pillow before its digest is taken: the same Pillow version gives the same bytes; pass ``result.bytes`` (or a file)
for keys that hold across Pillow versions. Such a miss falls back to the simulator with a warning, or raises
``ReplayMiss`` in strict mode.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidArgument, PackError, ReplayMiss, warn
from .replay_checks import (
    EXT,
    FILE,
    FORMAT,
    MANIFEST,
    MAX_FILE,
    MAX_MANIFEST,
    MAX_TOTAL,
    VERSION,
    Entry,
    FolderReader,
    Reader,
    ZipReader,
    check_entries,
    member_problem,
    no_duplicate_keys,
    refuse_constant,
)
from .request import Request
from .results import ImageResult, ImageSet
from .store import Store

__all__ = ["FORMAT", "MAX_FILE", "MAX_TOTAL", "VERSION", "Pack", "export_pack", "looks_secret", "replay_answer"]

_SECRET = re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}|(?i:\bbearer\s+[A-Za-z0-9._~+/=\-]{8,})")


def looks_secret(text: str) -> bool:
    """Whether ``text`` holds something that looks like an API key (``sk-...``) or an ``Authorization`` value."""
    return _SECRET.search(text) is not None


def _scrub(value: Any, found: list[str]) -> Any:
    """``value`` with key-like text replaced by ``[redacted]`` (``found`` collects where)."""
    if isinstance(value, str):
        if looks_secret(value):
            found.append(value[:12])
            return _SECRET.sub("[redacted]", value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, found) for v in value]
    return value


# -- export -------------------------------------------------------------------------------------------------


def _selected_keys(store: Store, since: Any, search: str | None, keys: Iterable[str] | None) -> list[str]:
    """Request keys to export, oldest first (each once)."""
    if keys is not None:
        chosen = [str(k) for k in keys]
        return list(dict.fromkeys(chosen))
    from .gallery import _where

    where, params = _where(search, None, since, None, "image")
    rows = store.query(f"SELECT request_key, MIN(id) AS first FROM images WHERE {where} AND request_key IS NOT NULL "
                       "GROUP BY request_key ORDER BY first", params)
    return [row["request_key"] for row in rows]


def _answer_count(record: Mapping[str, Any]) -> int:
    n = (record.get("info") or {}).get("request", {}).get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def export_pack(store: Store, path: str | os.PathLike[str], *, since: Any = None, search: str | None = None,
                keys: Iterable[str] | None = None) -> Path:
    """Export the newest complete answer to each selected request from ``store`` into a pack at ``path`` (a zip
    when it ends in ``.zip``, else a folder, which must be new or empty). Selection: ``keys`` (request keys), or
    the images created from ``since`` whose prompt holds every word of ``search`` (default: everything).
    The zip is written to a temporary file and renamed: whole or not at all. Returns ``path``."""
    from . import __version__

    target = Path(path)
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    scrubbed: list[str] = []
    for key in _selected_keys(store, since, search, keys):
        rows = store.find(key, 1)
        if not rows:
            continue
        records = store.find(key, _answer_count(rows[0]))
        for record in records:
            data = Path(record["path"]).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            fmt = str(record["format"])
            name = f"images/{digest}.{EXT.get(fmt, 'bin')}"
            if not FILE.fullmatch(name):
                continue  # a format a pack does not carry
            files[name] = data
            info = _scrub(record["info"], scrubbed)
            entries.append({"key": key, "index": int(info.get("index") or 0), "file": name, "sha256": digest,
                            "size": len(data), "format": fmt, "pixels": str(info.get("size") or "0x0"),
                            "info": info})
    if not entries:
        raise InvalidArgument(f"export_pack: the store at {store.home} holds no answer to export"
                              f"{' matching the selection' if since or search or keys is not None else ''}; "
                              "run the notebook (or the calls) first")
    if scrubbed:
        warn(f"export_pack: {len(scrubbed)} provenance text(s) looked like an API key; replaced by [redacted]")
    manifest = {"format": FORMAT, "version": VERSION, "dalle_kit": __version__,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "entries": entries}
    text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
    assert not looks_secret(text), "a pack manifest must never hold a key"  # scrubbed above: cannot happen
    if target.suffix.lower() == ".zip":
        _write_zip(target, text.encode("utf-8"), files)
    else:
        _write_folder(target, text.encode("utf-8"), files)
    return target


def _write_zip(target: Path, manifest: bytes, files: Mapping[str, bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                archive.writestr(MANIFEST, manifest, compress_type=zipfile.ZIP_DEFLATED)
                for name in sorted(files):
                    archive.writestr(name, files[name], compress_type=zipfile.ZIP_STORED)  # images: compressed
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_folder(target: Path, manifest: bytes, files: Mapping[str, bytes]) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidArgument(f"export_pack: {target} exists and is not an empty folder; choose a new path (or end "
                              "it in .zip for a zip)")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (temp / "images").mkdir()
        for name, data in files.items():
            (temp / name).write_bytes(data)
        (temp / MANIFEST).write_bytes(manifest)
        if target.exists():
            target.rmdir()
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


# -- load and verify ----------------------------------------------------------------------------------------


class Pack:
    """A verified replay pack (``Pack.load(path)``); ``answer(request)`` gives its images for a request."""

    def __init__(self, path: Path, manifest: dict[str, Any], entries: list[Entry]) -> None:
        self.path = path
        self.name = path.name
        self.manifest = manifest
        self.entries = tuple(entries)
        answers: dict[str, dict[int, Entry]] = {}
        for entry in entries:
            answers.setdefault(entry.key, {}).setdefault(entry.index, entry)
        self._answers = answers

    def __repr__(self) -> str:
        return f"Pack({str(self.path)!r}: {len(self._answers)} answers, {len(self.entries)} images)"

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: object) -> bool:
        return key in self._answers

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._answers)

    def _error(self, problem: str, entry: str | None = None) -> PackError:
        return PackError(self.path, problem, entry=entry)

    # -- loading --------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str] | Pack) -> Pack:
        """Open and verify the pack at ``path``; ``PackError`` (an ``InvalidArgument``) when anything is wrong."""
        if isinstance(path, Pack):
            return path
        where = Path(path).expanduser()
        if where.is_dir():
            return cls._load(where, FolderReader(where))
        if not where.is_file():
            raise PackError(where, "no such file or folder (make one with kit.export_pack(...) or "
                            "dalle-kit pack record)")
        try:
            with zipfile.ZipFile(where) as archive:
                return cls._load(where, ZipReader(where, archive))
        except PackError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError, KeyError, IndexError, OverflowError, zlib.error, UnicodeDecodeError) as exc:
            raise PackError(where, f"is not a readable zip, or it is truncated or tampered with "
                            f"({type(exc).__name__}: {exc})") from None

    @classmethod
    def _load(cls, where: Path, reader: Reader) -> Pack:
        names = reader.names()
        seen: set[str] = set()
        for name in names:
            if (problem := member_problem(name)) is not None:
                raise PackError(where, f"the member name {problem}; refused", entry=name)
            if name.lower() in seen:
                raise PackError(where, "appears twice in the pack; refused", entry=name)
            seen.add(name.lower())
        if MANIFEST not in names:
            raise PackError(where, f"has no {MANIFEST}: not a dalle_kit pack, or truncated")
        raw = reader.read(MANIFEST, MAX_MANIFEST, None)
        try:
            text = raw.decode("utf-8")
            manifest = json.loads(text, object_pairs_hook=no_duplicate_keys, parse_constant=refuse_constant)
        except ValueError as exc:
            raise PackError(where, f"is not valid UTF-8 JSON ({exc})", entry=MANIFEST) from None
        if looks_secret(text):
            raise PackError(where, "holds text that looks like an API key (sk-... or Bearer ...); a pack never "
                            "carries one: refused (ask its author for a clean export)", entry=MANIFEST)
        entries = check_entries(where, manifest)
        wanted = {e.file: e for e in entries}
        extra = sorted(set(names) - set(wanted) - {MANIFEST} - {n for n in names if n.endswith("/")})
        if extra:
            raise PackError(where, "is in the pack but not in its manifest; refused", entry=extra[0])
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise PackError(where, "is named by the manifest but missing from the pack (truncated?)", entry=missing[0])
        total = len(raw)
        for name, entry in sorted(wanted.items()):
            data = reader.read(name, entry.size, entry.size)
            total += len(data)
            if total > MAX_TOTAL:
                raise PackError(where, f"the pack holds more than {MAX_TOTAL:,} bytes; refused", entry=name)
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                raise PackError(where, "does not match its SHA-256 in the manifest: tampered with or damaged",
                                entry=name)
        return cls(where, manifest, entries)

    # -- answering ------------------------------------------------------------------------------------------

    def read(self, entry: Entry) -> bytes:
        """The bytes of ``entry``, checked again against its digest (the pack may have changed since loading)."""
        try:
            if self.path.is_dir():
                data = FolderReader(self.path).read(entry.file, entry.size, entry.size)
            else:
                with zipfile.ZipFile(self.path) as archive:
                    data = ZipReader(self.path, archive).read(entry.file, entry.size, entry.size)
        except PackError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError, KeyError,
                zlib.error) as exc:
            raise self._error(f"cannot be read any more ({type(exc).__name__}: {exc})", entry.file) from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise self._error("changed since the pack was loaded: its SHA-256 no longer matches", entry.file)
        return data

    def answer(self, request: Request) -> ImageResult | ImageSet | None:
        """The pack's images for ``request`` (``source="replay"``), or None when it does not hold them all."""
        answer = self._answers.get(request.key)
        if answer is None:
            return None
        n = request.params.get("n")
        count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
        chosen = [answer.get(i) for i in range(count)]
        if any(e is None for e in chosen):
            return None
        results = []
        started = time.perf_counter()
        for entry in chosen:
            assert entry is not None
            info = entry.info
            width, _, height = entry.pixels.partition("x")
            data = self.read(entry)
            results.append(ImageResult(
                data=data, format=entry.format, width=int(width) if width.isdigit() else 0,
                height=int(height) if height.isdigit() else 0, request=request, index=entry.index,
                usage=info.get("usage") if isinstance(info.get("usage"), dict) else None,
                revised_prompt=_text(info.get("revised_prompt")), request_id=_text(info.get("request_id")),
                created=info.get("created") if isinstance(info.get("created"), int) else None,
                timings={"total": round(time.perf_counter() - started, 4)},
                backend=_text(info.get("backend")) or "openai", source="replay"))
        return results[0] if len(results) == 1 else ImageSet(results)

    def summary(self) -> dict[str, Any]:
        """What the pack holds: format, versions, when made, answers, images, bytes, models, endpoints."""
        models: dict[str, int] = {}
        endpoints: dict[str, int] = {}
        for entry in self.entries:
            got = entry.info.get("request")
            request: dict[str, Any] = got if isinstance(got, dict) else {}
            models[str(request.get("model"))] = models.get(str(request.get("model")), 0) + 1
            endpoints[str(request.get("endpoint"))] = endpoints.get(str(request.get("endpoint")), 0) + 1
        return {"path": str(self.path), "format": self.manifest["format"], "version": self.manifest["version"],
                "dalle_kit": self.manifest["dalle_kit"], "created": self.manifest["created"],
                "answers": len(self._answers), "images": len(self.entries),
                "bytes": sum(e.size for e in self.entries), "models": models, "endpoints": endpoints}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# -- the kit's side ---------------------------------------------------------------------------------------


def describe_miss(request: Request) -> str:
    """A request named for a miss: model, endpoint, the start of its prompt and of its key."""
    prompt = request.prompt or ""
    start = prompt if len(prompt) <= 40 else prompt[:40] + "..."
    return f"{request.model} {request.endpoint} {start!r} (key {request.key[:12]})"


def store_replayed(store: Store, pack: Pack, answer: ImageResult | ImageSet) -> ImageResult | ImageSet:
    """Put a replayed answer in the local store (the gallery shows it; a re-run is answered from the store) and
    return it with ``stored_at``; on a store that cannot take it, the answer in memory."""
    import sqlite3

    results = list(answer) if isinstance(answer, ImageSet) else [answer]
    call_id = uuid.uuid4().hex
    try:
        places = store.put_many([(r.data, r.format, {**r.info(), "call_id": call_id, "replayed_from": pack.name})
                                 for r in results])
    except (OSError, sqlite3.Error):
        return answer
    out = [dataclasses.replace(r, stored_at=p) if isinstance(p, Path) else r for r, p in zip(results, places)]
    return out[0] if len(out) == 1 else ImageSet(out)


def replay_answer(pack: Pack, store: Store, request: Request, *, strict: bool, missed: set[str],
                  backend: str) -> ImageResult | ImageSet | None:
    """``pack``'s answer to ``request`` (also put in ``store``). A miss raises ``ReplayMiss`` when ``strict``;
    else it returns None (the backend answers) with one warning per missed request (``missed`` remembers)."""
    answer = pack.answer(request)
    if answer is not None:
        return store_replayed(store, pack, answer)
    what = describe_miss(request)
    if strict:
        raise ReplayMiss(f"the replay pack {pack.name} holds no answer to {what}; nothing was sent (strict). Record "
                         "it: run the notebook where the pack is made (dalle-kit pack record NOTEBOOK -o PACK, or "
                         "kit.export_pack(PACK) after running it), or leave strict off to let the backend answer "
                         "misses", request=request, pack=pack.name)
    if request.key not in missed:
        missed.add(request.key)
        warn(f"not in the replay pack {pack.name}: {what}; the {backend} answers it instead")
    return None
