"""The canonical request: one normalized description of a call, and the input images it carries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["Request", "Upload"]


@dataclass(frozen=True)
class Upload:
    """An input image as it will be sent: bytes with a filename and a MIME type (never bare bytes).

    ``width`` and ``height`` are the picture upright, after its EXIF ``orientation`` (1-8; 1 = as stored), as
    the API compares them: a phone photo stored 4032x3024 with Orientation 6 is 3024x4032. ``stored_size`` is
    the pixel grid in the file. ``frames`` is more than 1 for an animated PNG, WebP or GIF.
    """

    name: str
    mimetype: str
    data: bytes = field(repr=False)
    width: int
    height: int
    mode: str
    orientation: int = 1
    frames: int = 1
    clear_pixels: bool = False  # some pixel has alpha 0 (what a mask or markup needs), read during the one decode

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the bytes sent, computed once per upload (it enters every key that carries this upload)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` upright: what the API and the simulator compare masks and markups with."""
        return (self.width, self.height)

    @property
    def stored_size(self) -> tuple[int, int]:
        """``(width, height)`` of the pixels as stored, before the EXIF orientation turns them."""
        return (self.height, self.width) if self.orientation in (5, 6, 7, 8) else (self.width, self.height)

    def as_file(self) -> tuple[str, bytes, str]:
        """The ``(filename, bytes, mimetype)`` tuple the SDK turns into a multipart part."""
        return (self.name, self.data, self.mimetype)

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "mimetype": self.mimetype, "size": f"{self.width}x{self.height}",
               "bytes": len(self.data), "sha256": self.digest}
        return out if self.orientation == 1 else {**out, "orientation": self.orientation}


@dataclass(frozen=True)
class Request:
    """A validated request: endpoint, model, JSON parameters (prompt included) and input images.

    ``key`` is a digest of the canonical form; equal requests have equal keys (the cache key). ``take`` tells
    repeats of one request apart (a batch asking for the same prompt four times wants four answers): take 0 is
    the request itself, take 1, 2 ... have keys of their own. It is never sent.
    """

    endpoint: str
    model: str
    params: Mapping[str, Any]
    images: tuple[Upload, ...] = ()
    mask: Upload | None = None
    markup: Upload | None = None
    take: int = 0

    @property
    def prompt(self) -> str | None:
        return self.params.get("prompt")

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: parameters, and input images by digest (no bytes)."""
        out: dict[str, Any] = {"endpoint": self.endpoint, "model": self.model, **self.params}
        if self.images:
            out["image"] = [u.describe() for u in self.images]
        for name in ("mask", "markup"):
            upload = getattr(self, name)
            if upload is not None:
                out[name] = upload.describe()
        if self.take:
            out["take"] = self.take
        return out

    @cached_property
    def key(self) -> str:
        canonical = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def sdk_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``client.images.generate / edit / create_variation``."""
        kwargs: dict[str, Any] = {"model": self.model, **self.params}
        if self.images:
            files = [u.as_file() for u in self.images]
            kwargs["image"] = files[0] if len(files) == 1 else files
        if self.mask is not None:
            kwargs["mask"] = self.mask.as_file()
        if self.markup is not None:
            kwargs["markup"] = self.markup.as_file()
        return kwargs
