"""Fixtures: no test, and no notebook kernel, sees a real key, a real base URL or the user's real store.

The repository's root ``conftest.py`` points ``DALLE_KIT_HOME`` at a temporary folder and drops the key, base URL
and replay variables for the whole session, before nbval starts any kernel (kernels inherit the environment);
``isolated_env`` gives each test a folder of its own on top of that. Hypothesis runs a fixed, modest budget
(profile ``ci``); ``--hypothesis-profile=thorough`` runs a larger one.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from dalle_kit import registry

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    yield tmp_path
    registry.clear_listing()  # a listing read from /v1/models is process-wide; each test starts without one
