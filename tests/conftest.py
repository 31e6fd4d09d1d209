"""Fixtures: no test, and no notebook kernel, sees a real key, a real base URL or the user's real store.

``pytest_configure`` points ``DALLE_KIT_HOME`` at a temporary folder and drops ``OPENAI_API_KEY`` /
``OPENAI_BASE_URL`` for the whole session, before nbval starts any kernel (kernels inherit the environment);
``isolated_env`` gives each test a folder of its own on top of that. Hypothesis runs a fixed, modest budget
(profile ``ci``); ``--hypothesis-profile=thorough`` runs a larger one.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from dalle_kit import registry

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_SESSION_HOME: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_HOME
    _SESSION_HOME = tempfile.mkdtemp(prefix="dalle-kit-test-home-")
    os.environ["DALLE_KIT_HOME"] = _SESSION_HOME
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DALLE_KIT_REPLAY", "DALLE_KIT_REPLAY_STRICT",
                 "DALLE_KIT_PRICES"):
        os.environ.pop(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_HOME:
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    yield tmp_path
    registry.clear_listing()  # a listing read from /v1/models is process-wide; each test starts without one
