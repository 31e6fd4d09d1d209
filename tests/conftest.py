"""Shared fixtures: no test sees a real key, a real base URL or the real user folder."""

from __future__ import annotations

import io

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path


def png_bytes(size=(64, 64), mode="RGB", color=(200, 80, 40), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    fill = color if mode != "RGBA" else (*color, 255)
    Image.new(mode, size, fill if mode not in ("L", "LA") else 128).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_bytes(size=(64, 64), box=(16, 16, 48, 48)) -> bytes:
    """An API-correct mask: opaque, with a fully transparent rectangle where the edit goes."""
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()
