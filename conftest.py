"""Any pytest run from the repository (``pytest notebooks/01_first_image.ipynb --nbval-lax`` too, which does not
load tests/conftest.py) gets a temporary DALLE_KIT_HOME and no key: notebook kernels inherit this environment,
so no test ever writes to the user's real store or reaches the network."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HOME: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _HOME
    _HOME = tempfile.mkdtemp(prefix="dalle-kit-test-home-")
    os.environ["DALLE_KIT_HOME"] = _HOME
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DALLE_KIT_REPLAY", "DALLE_KIT_REPLAY_STRICT",
                 "DALLE_KIT_PRICES"):
        os.environ.pop(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HOME:
        shutil.rmtree(_HOME, ignore_errors=True)
