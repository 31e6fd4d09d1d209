"""Provenance in files: PNG chunk splice keeps the image bytes; sidecars for other formats; atomic writes."""

from __future__ import annotations

import io
import os

import pytest
from helpers import png_bytes
from PIL import Image

from dalle_kit import read_metadata
from dalle_kit.metadata import embed_png_metadata, sidecar_path, strip_metadata, write_with_metadata
from dalle_kit.store import atomic_write

INFO = {"request": {"prompt": "一只白色的暹罗猫 / a white siamese cat", "model": "gpt-image-2", "size": "1024x1024"},
        "usage": {"total_tokens": 1234}}


def test_png_chunk_round_trip_keeps_pixels_and_original_bytes(tmp_path):
    original = png_bytes((40, 30), mode="RGBA")
    path = write_with_metadata(tmp_path / "a.png", original, INFO)
    saved = path.read_bytes()
    assert saved != original and strip_metadata(saved) == original
    assert read_metadata(path) == INFO
    with Image.open(path) as img:  # Pillow still reads it, and sees our chunk as text
        assert img.size == (40, 30) and "dalle_kit" in img.text
        assert img.tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert not sidecar_path(path).exists()


def test_embedding_twice_replaces_the_chunk():
    once = embed_png_metadata(png_bytes(), {"a": 1})
    twice = embed_png_metadata(once, {"a": 2})
    assert twice.count(b"iTXtdalle_kit") == 1 and strip_metadata(twice) == strip_metadata(once)


@pytest.mark.parametrize("fmt,ext", [("WEBP", "webp"), ("JPEG", "jpg"), ("GIF", "gif")])
def test_other_formats_get_a_sidecar_and_identical_bytes(tmp_path, fmt, ext):
    original = png_bytes((20, 20), fmt=fmt)
    path = write_with_metadata(tmp_path / f"a.{ext}", original, INFO)
    assert path.read_bytes() == original
    assert sidecar_path(path).name == f"a.{ext}.json"
    assert read_metadata(path) == INFO


def test_no_metadata_reads_as_empty(tmp_path):
    path = tmp_path / "plain.png"
    path.write_bytes(png_bytes())
    assert read_metadata(path) == {}


def test_atomic_write_leaves_no_temp_file_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.bin"
    atomic_write(target, b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
