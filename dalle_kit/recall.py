"""Recall: the exact call behind an image, rebuilt as a validated ``Request`` (``kit.run(request)`` re-runs it,
from the store when it holds the answer).

The source may be a store record, an ``ImageResult``, or a saved file (its PNG chunk or sidecar JSON, read by
``read_metadata``; a file with neither is looked up in the store by its SHA-256). An edit's input images are found
in the store by their SHA-256, or passed in (``recall(kit, path, image="photo.png")``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import InvalidArgument, warn
from .image_io import encode_png
from .image_io import source as image_source
from .metadata import read_metadata, strip_metadata
from .request import Request
from .results import ImageResult
from .store import Store
from .validation import validate

__all__ = ["recall"]

_UPLOADS = ("image", "mask", "markup")


def _info_of(source: Any, store: Store) -> tuple[dict[str, Any], str]:
    """The provenance behind ``source`` (a record, an info dict, a path or bytes) and what to call it."""
    if isinstance(source, Mapping):
        if "info" in source and isinstance(source["info"], Mapping):
            return dict(source["info"]), f"store record {source.get('id', '?')}"
        return dict(source), "the given metadata"
    if isinstance(source, bool) or not isinstance(source, (str, os.PathLike, bytes, bytearray, int)):
        raise InvalidArgument(f"recall takes a store record, an ImageResult, a Request, a saved file's path or an "
                              f"image's bytes, not {type(source).__name__}")
    if isinstance(source, int):
        found = store.query("SELECT * FROM images WHERE id = ?", [source])
        if not found:
            raise InvalidArgument(f"recall: the store at {store.home} has no record {source}")
        return found[0]["info"], f"store record {source}"
    what = "the bytes" if isinstance(source, (bytes, bytearray)) else repr(os.fspath(source))
    info = read_metadata(bytes(source) if isinstance(source, bytearray) else source)
    if info:
        return info, what
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    record = _by_digest(store, hashlib.sha256(data).hexdigest())
    if record is None:
        raise InvalidArgument(f"recall: {what} carries no dalle_kit provenance (no dalle_kit PNG chunk, no sidecar "
                              f"JSON beside it) and the store at {store.home} holds no image with its SHA-256; "
                              "recall a file saved with result.save(), or a record from the store")
    return record["info"], what


def _by_digest(store: Store, digest: str) -> dict[str, Any] | None:
    """The newest record of the bytes with ``digest`` whose file is still there (images_sha256 index)."""
    for record in store.query("SELECT * FROM images WHERE sha256 = ? AND missing IS NULL ORDER BY id DESC LIMIT 3",
                              [digest]):
        try:
            data = Path(record["path"]).read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            return {**record, "data": data}
    return None


def _given_bytes(obj: Any, param: str) -> bytes:
    got = image_source(obj, param)
    return encode_png(got, param)[0] if isinstance(got, Image.Image) else got[0]


def _label(param: str, desc: Mapping[str, Any]) -> str:
    return (f"{param} ({desc.get('name', '?')}, {desc.get('size', '?')} {desc.get('mimetype', '?')}, "
            f"sha256 {str(desc.get('sha256', '?'))[:12]}…)")


def _inputs(descs: dict[str, list[Mapping[str, Any]]], given: dict[str, Any], store: Store,
            call: str) -> dict[str, Any]:
    """The input images an edit sent, as ``(name, bytes)`` for ``validate``: given, else from the store."""
    out: dict[str, Any] = {}
    missing = []
    for name, items in descs.items():
        supplied = given.get(name)
        if supplied is None:
            supplied = [None] * len(items)
        elif not isinstance(supplied, list):
            supplied = [supplied]
        if len(supplied) != len(items):
            raise InvalidArgument(f"recall: {name}= has {len(supplied)} images; the call sent {len(items)} "
                                  f"(in order; None where the store holds one)")
        files = []
        for i, (desc, obj) in enumerate(zip(items, supplied)):
            param = f"{name}[{i}]" if len(items) > 1 else name
            want = str(desc.get("sha256"))
            if obj is not None:
                data = _given_bytes(obj, param)
                if hashlib.sha256(data).hexdigest() != want:  # a copy saved with its provenance chunk?
                    data = strip_metadata(data)
                if hashlib.sha256(data).hexdigest() != want:
                    raise InvalidArgument(f"recall: the {param} given is not the one the call sent, "
                                          f"{_label(param, desc)}; pass that file (its SHA-256 must match), or "
                                          "make a new edit with kit.edit()")
            elif (record := _by_digest(store, want)) is not None:
                data = record["data"]
            else:
                missing.append((name, param, desc))
                continue
            files.append((str(desc.get("name") or f"{name}.png"), data))
        out[name] = files if name == "image" and len(files) > 1 else (files[0] if files else None)
    if missing:
        what = "; ".join(_label(param, desc) for _, param, desc in missing)
        how = ", ".join(dict.fromkeys(f"{name}=..." if len(descs[name]) == 1 else f"{name}=[...]"
                                      for name, _, _ in missing))
        raise InvalidArgument(f"recall: the store at {store.home} does not hold the input this call sent: {what}. "
                              f"Pass it: {call}source, {how}) with the original file (a path, bytes or PIL image)")
    return out


def recall(kit: Any, source: Any, *, image: Any = None, mask: Any = None, markup: Any = None,
           lenient: bool | None = None, store: Store | None = None) -> Request:
    """The validated ``Request`` that made ``source``: a store record (or its id), an ``ImageResult``, a saved
    file's path or an image's bytes (provenance from ``read_metadata``; a file without any is looked up in the
    store by its SHA-256). ``kit.run(request)`` re-runs it (from the store when it holds the answer).

    An edit's input images (and mask, markup) are looked up in the store by their SHA-256; one the store does not
    hold must be passed (``image=``, ``mask=``, ``markup=``; a list for several images), else ``InvalidArgument``
    says which. ``kit`` (or None) validates the way it would send (its ``lenient``, its host); ``store`` defaults
    to the kit's, else the default one.
    """
    if isinstance(source, Request):
        return source
    if isinstance(source, ImageResult):
        if image is mask is markup is None:
            return source.request  # it carries its input images
        source = source.info()
    own = store is None and kit is None
    db = store if store is not None else kit.store if kit is not None else Store()
    try:
        info, what = _info_of(source, db)
        described = info.get("request")
        if not isinstance(described, Mapping) or "endpoint" not in described or "model" not in described:
            raise InvalidArgument(f"recall: {what} has no dalle_kit request in its provenance (keys: "
                                  f"{', '.join(sorted(info)) or 'none'})")
        params = dict(described)
        endpoint, model, take = params.pop("endpoint"), params.pop("model"), int(params.pop("take", 0) or 0)
        descs: dict[str, list[Mapping[str, Any]]] = {
            name: [d] if isinstance(d, Mapping) else list(d) for name in _UPLOADS
            if (d := params.pop(name, None)) is not None}
        given = {"image": image, "mask": mask, "markup": markup}
        for name, value in given.items():
            if value is not None and name not in descs:
                raise InvalidArgument(f"recall: {what} is a {endpoint} call that sent no {name}; leave {name}= out")
        files = _inputs(descs, given, db, "kit.recall(" if kit is not None else "dalle_kit.gallery.recall(None, ")
    finally:
        if own:
            db.close()
    if kit is not None:
        request = kit.request(endpoint, lenient=lenient, model=model, **params, **files)
    else:
        other_host = info.get("backend") not in (None, "openai", "simulator")
        request = validate(endpoint, lenient=bool(lenient), other_host=other_host, model=model, **params, **files)
    if take:
        request = dataclasses.replace(request, take=take)
    recorded = info.get("request_key")
    if recorded and recorded != request.key:
        warn(f"recall: the rebuilt request differs from the one recorded for {what} (key {request.key[:12]}… vs "
             f"{str(recorded)[:12]}…): today's validation normalizes it differently; kit.run(request) will send it")
    return request


# -- export -------------------------------------------------------------------------------------------------
