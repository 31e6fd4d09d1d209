"""The gallery's work over the store: search it, recall the exact call behind an image, export a selection.

- ``search(store, "lighthouse", model=..., since=..., until=..., kind="image", page=0)`` gives one ``Page`` of
  records, newest first, and the number of matches. Every query walks an index in id order and stops after one
  page (``images_kind_id``; with a model, ``images_kind_model_id``): no sort, whatever the store holds.
  Prompt text is matched with ``LIKE`` (each word anywhere in the prompt, in any order; ``%`` and ``_`` are
  escaped): substrings match as they do in ``dalle-kit history --search``, a Chinese prompt (no spaces between
  words) matches as well as an English one, and no second table has to be kept in step by every writer.
  FTS5 would match whole tokens only ("light" would not find "lighthouse", and a run of Chinese characters is one
  token). Case is folded for ASCII letters (SQLite's LIKE). Counting 10,000 rows this way takes milliseconds.
- ``recall(kit, source)`` (from :mod:`dalle_kit.recall`) rebuilds the validated ``Request`` an image came from.
- ``export(records, "folder")`` or ``export(records, "pick.zip")`` writes the files with their provenance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from PIL import Image, ImageDraw

from .errors import InvalidArgument
from .metadata import PNG_SIGNATURE, embed_png_metadata, sidecar_path
from .recall import recall
from .results import ImageResult, _slug
from .store import Store, atomic_write

__all__ = ["KINDS", "PER_PAGE", "Page", "export", "recall", "search", "thumbnail"]

KINDS = ("image", "partial", "recovered")
"""What the store keeps: final images, streamed previews, files ``repair()`` found without a record."""
PER_PAGE = 24
THUMB_PX = 160
_UPLOADS = ("image", "mask", "markup")
When = dt.datetime | dt.date | float | int | str


@dataclasses.dataclass(frozen=True)
class Page(Sequence[dict[str, Any]]):
    """One page of ``search`` results: store records newest first, and how many match in all."""

    records: tuple[dict[str, Any], ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.per_page < self.total

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[dict[str, Any], ...]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | tuple[dict[str, Any], ...]:
        return self.records[index]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __repr__(self) -> str:
        return f"Page({self.page + 1} of {self.pages}: {len(self.records)} of {self.total:,} images)"


def _store_of(obj: Any) -> Store:
    store = getattr(obj, "store", obj)
    if not isinstance(store, Store):
        raise InvalidArgument(f"search takes a Store or a Kit, not {type(obj).__name__}")
    return store


def _timestamp(value: When, param: str, *, end: bool) -> float:
    """Seconds since the epoch; a date (or 'YYYY-MM-DD') is its local midnight, or for ``until`` the next one."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if len(value.strip()) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidArgument(f"{param}={value!r} is not a date; pass '2026-05-01', '2026-05-01T14:30', a "
                                  "datetime.date or datetime.datetime") from None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end else value
        return dt.datetime.combine(day, dt.time()).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise InvalidArgument(f"{param} takes a date, datetime, 'YYYY-MM-DD' or a timestamp, not {type(value).__name__}")


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(text: str | None, model: str | None, since: When | None, until: When | None,
           kind: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["missing IS NULL"]
    params: list[Any] = []
    if kind is not None:
        if kind not in KINDS:
            raise InvalidArgument(f"kind={kind!r}: the store keeps {', '.join(KINDS)} (None: every kind)")
        clauses.append("kind = ?")
        params.append(kind)
    if model:
        clauses.append("model = ?")
        params.append(model)
    for word in (text or "").split():
        clauses.append("prompt LIKE ? ESCAPE '\\'")
        params.append(_like(word))
    if since is not None:
        clauses.append("created >= ?")
        params.append(_timestamp(since, "since", end=False))
    if until is not None:
        clauses.append("created < ?" if isinstance(until, (dt.date, str)) and not isinstance(until, dt.datetime)
                       else "created <= ?")
        params.append(_timestamp(until, "until", end=True))
    return " AND ".join(clauses), params


def search(store: Store | Any, text: str | None = None, *, model: str | None = None, since: When | None = None,
           until: When | None = None, kind: str | None = "image", page: int = 0, per_page: int = PER_PAGE) -> Page:
    """Records of ``store`` (or a ``Kit``'s) newest first: prompt containing every word of ``text``, ``model``,
    created from ``since`` to ``until`` (a date counts whole), of ``kind`` (None: all); page ``page`` (from 0)."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise InvalidArgument(f"page must be a whole number from 0, got {page!r}")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= 500:
        raise InvalidArgument(f"per_page must be a whole number from 1 to 500, got {per_page!r}")
    db = _store_of(store)
    where, params = _where(text, model, since, until, kind)
    total = db.query(f"SELECT COUNT(*) AS n FROM images WHERE {where}", params)[0]["n"]
    records = db.query(f"SELECT * FROM images WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                       [*params, per_page, page * per_page]) if page * per_page < total else []
    return Page(tuple(records), total, page, per_page)


def models(store: Store | Any, kind: str | None = "image") -> list[str]:
    """The models the store has images of (for the gallery's model picker), by name."""
    sql = "SELECT DISTINCT model FROM images WHERE model IS NOT NULL" + (" AND kind = ?" if kind else "")
    return sorted(row["model"] for row in _store_of(store).query(sql, [kind] if kind else []))


# -- thumbnails ---------------------------------------------------------------------------------------------


def _encode(img: Image.Image) -> tuple[bytes, str]:
    """JPEG for an opaque picture, WebP (which keeps alpha) for a transparent one: a few kB either way."""
    buffer = io.BytesIO()
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img.convert("RGBA").save(buffer, format="WEBP", quality=70, method=4)
        return buffer.getvalue(), "webp"
    img.convert("RGB").save(buffer, format="JPEG", quality=72, optimize=True)
    return buffer.getvalue(), "jpeg"


@functools.lru_cache(maxsize=16)
def _placeholder(px: int, label: str) -> tuple[bytes, str]:
    img = Image.new("RGB", (px, px * 2 // 3), (225, 225, 225))
    ImageDraw.Draw(img).text((8, 8), label, fill=(90, 90, 90))
    return _encode(img)


@functools.lru_cache(maxsize=1024)
def _thumb(path: str, sha256: str, px: int) -> tuple[bytes, str]:
    with Image.open(path) as img:
        img.draft("RGB", (px, px))  # JPEG decodes at a fraction of its size
        img.thumbnail((px, px), reducing_gap=2.0)
        return _encode(img)


def thumbnail(record: Mapping[str, Any], px: int = THUMB_PX) -> tuple[bytes, str]:
    """A small JPEG (WebP with transparency) of a store record's image and its format ("jpeg", "webp", "svg+xml");
    the full-size file stays on disk. Made once per image and size (kept in memory)."""
    path, fmt = str(record["path"]), record.get("format")
    if fmt == "svg":
        try:
            data = Path(path).read_bytes()
        except OSError:
            return _placeholder(px, "file missing")
        return (data, "svg+xml") if len(data) <= 32_768 else _placeholder(px, "SVG")
    try:
        return _thumb(path, str(record.get("sha256")), px)
    except OSError:  # gone from disk (Store.repair() flags it), or not a picture Pillow reads
        return _placeholder(px, "file missing" if not os.path.exists(path) else f"{fmt or '?'} image")


# -- recall -------------------------------------------------------------------------------------------------


def _exportable(item: Any) -> tuple[bytes, str, dict[str, Any]]:
    """The bytes, file name and provenance of a store record or an ``ImageResult``."""
    if isinstance(item, ImageResult):
        info, data, fmt = item.info(), item.data, item.format
    elif isinstance(item, Mapping) and "path" in item and "info" in item:
        info, fmt = dict(item["info"]), str(item.get("format") or "png")
        try:
            data = Path(item["path"]).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"export: the file of store record {item.get('id', '?')} cannot be read "
                                  f"({exc.strerror or exc}): Store.repair() flags it; leave it out") from None
    else:
        raise InvalidArgument(f"export takes store records (search() pages) or ImageResults, not {type(item).__name__}")
    request = info.get("request") or {}
    key = str(info.get("request_key") or hashlib.sha256(data).hexdigest())
    name = f"{_slug(request.get('prompt') or request.get('model') or 'image')}-{key[:8]}-{info.get('index', 0)}"
    return data, f"{name}.{'jpg' if fmt == 'jpeg' else fmt}", info


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{stem}-{n}{dot}{ext}", n + 1
    taken.add(candidate.lower())
    return candidate


def export(records: Iterable[Any], target: str | os.PathLike[str]) -> Path:
    """Write the images of ``records`` (store records, a ``Page``, ``ImageResult``s) with their provenance: into
    the folder ``target`` (a PNG carries it in a text chunk, other formats in ``<file>.json``, as
    ``ImageResult.save``), or, when ``target`` ends in ``.zip``, into that zip (written whole or not at all).
    Names come from the prompt; none is overwritten (``-2``, ``-3``... are added). Returns ``target``."""
    items = [_exportable(item) for item in records]  # every file read first: nothing half-written on a bad one
    if not items:
        raise InvalidArgument("export: nothing to export; select some images first")
    target = Path(target)
    files: list[tuple[str, bytes]] = []
    taken: set[str] = set()
    if target.suffix.lower() != ".zip":
        target.mkdir(parents=True, exist_ok=True)
        taken = {p.name.lower() for p in target.iterdir()}
    for data, name, info in items:
        name = _unique(name, taken)
        if data.startswith(PNG_SIGNATURE):
            files.append((name, embed_png_metadata(data, info)))
        else:
            text = json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True, default=str)
            files += [(name, data), (sidecar_path(name).name, text.encode("utf-8"))]
    if target.suffix.lower() != ".zip":
        for name, data in files:
            atomic_write(target / name, data)
        return target
    buffer = io.BytesIO()  # the files are in memory already; atomic_write gives temp file, fsync, rename
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            packed = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=packed)
    return atomic_write(target, buffer.getvalue())
