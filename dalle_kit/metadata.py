"""Provenance in saved files: PNG text chunks, or a sidecar JSON for JPEG, WebP, GIF and SVG.

The image bytes are never re-encoded. For PNG, one ``iTXt`` chunk (keyword ``dalle_kit``, UTF-8 JSON) is
spliced in before ``IEND``; every other chunk stays byte-for-byte as received, so ``strip_metadata`` gives
back the original bytes exactly. Pillow cannot add a chunk without re-encoding, so the splice is written
here by hand (the PNG chunk format is four fields and a CRC).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidArgument
from .store import atomic_write

__all__ = ["embed_png_metadata", "read_metadata", "sidecar_path", "strip_metadata", "write_with_metadata"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"dalle_kit"


def _chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, type) of each chunk after the signature."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        yield pos, end, kind
        pos = end


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _is_ours(data: bytes, start: int, end: int, kind: bytes) -> bool:
    return kind == b"iTXt" and data[start + 8:end - 4].startswith(KEYWORD + b"\0")


def strip_metadata(data: bytes) -> bytes:
    """PNG bytes without dalle_kit's chunk (the bytes as the API sent them)."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    kept = [data[s:e] for s, e, kind in _chunks(data) if not _is_ours(data, s, e, kind)]
    return PNG_SIGNATURE + b"".join(kept)


def embed_png_metadata(data: bytes, info: Mapping[str, Any]) -> bytes:
    """``data`` with one iTXt chunk of ``info`` as JSON inserted before IEND (an older one is replaced)."""
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidArgument("not a PNG: embed_png_metadata takes PNG bytes; other formats get a sidecar JSON")
    original = strip_metadata(data)
    text = json.dumps(info, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    chunk = _chunk(b"iTXt", KEYWORD + b"\0\0\0\0\0" + text)  # keyword, no compression, no language/translation
    iend = next(s for s, _, kind in _chunks(original) if kind == b"IEND")
    return original[:iend] + chunk + original[iend:]


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_with_metadata(path: str | os.PathLike[str], data: bytes, info: Mapping[str, Any]) -> Path:
    """Save ``data`` at ``path`` with ``info``: in the PNG itself, or beside it in ``<name>.json``."""
    if data.startswith(PNG_SIGNATURE):
        return atomic_write(path, embed_png_metadata(data, info))
    text = json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    atomic_write(sidecar_path(path), text.encode("utf-8"))
    return atomic_write(path, data)


def read_metadata(source: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """The provenance dalle_kit saved with an image (PNG chunk first, then a sidecar JSON); {} if none.

    ``source`` is a saved file's path, or an image's bytes (then only the PNG chunk can hold it).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_chunk(bytes(source), "the bytes") or {}
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidArgument(f"read_metadata takes a file's path or an image's bytes, not {type(source).__name__}")
    path = Path(source)
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"read_metadata: cannot read {str(path)!r:.200} ({exc.__class__.__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc})") from None
    found = _from_chunk(data, str(path))
    if found is not None:
        return found
    sidecar = sidecar_path(path)
    if sidecar.exists():
        try:
            return dict(json.loads(sidecar.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"read_metadata: the sidecar {str(sidecar)!r} is not dalle_kit's JSON ({exc})") \
                from None
    return {}


def _from_chunk(data: bytes, where: str) -> dict[str, Any] | None:
    """The provenance in a PNG's ``dalle_kit`` chunk, or None when there is none."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    for start, end, kind in _chunks(data):
        if _is_ours(data, start, end, kind):
            body = data[start + 8 + len(KEYWORD) + 3:end - 4]  # after keyword, NUL, flag, method
            try:
                _language, _translated, text = body.split(b"\0", 2)
                return dict(json.loads(text.decode("utf-8")))
            except (ValueError, TypeError) as exc:
                raise InvalidArgument(f"read_metadata: the dalle_kit chunk in {where} is damaged ({exc})") from None
    return None
