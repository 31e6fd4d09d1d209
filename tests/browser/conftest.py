"""JupyterLab + Debian Chromium (through Playwright) for the browser tests; see shared/reference/browser-testing.md.

One Lab server per module, on a private temporary HOME, settings and workspace, serving a copy of the test
notebook. Chromium is /usr/bin/chromium (``make test`` installs it; override with DALLE_KIT_CHROMIUM). Without
it these tests fail with an explanation rather than skip: run ``pytest -m "not browser"`` to leave them out.

Two folders: ``DALLE_KIT_BROWSER_OUT`` (``lab.out``) is each Lab's scratch folder, fresh per module, where test
notebooks write masks and ledgers; screenshots and other files a person looks at after the run go to the artefacts
folder (``artifacts_dir()``, the ``artifacts`` fixture): ``$DALLE_KIT_BROWSER_ARTIFACTS``, else
``<repo>/test-artifacts/browser/`` (git-ignored), kept after the run.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DALLE_KIT_CHROMIUM", "/usr/bin/chromium")  # else Playwright's own, if installed
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True,
                                                                   "windowingMode": "none"},
}


ARTIFACTS_ENV = "DALLE_KIT_BROWSER_ARTIFACTS"

# The project's layout rule, checked by every widget's browser test: nothing past the output area's right edge and
# no horizontal scrolling inside it. Returns the elements past the edge and the area's horizontal overflow.
OVERFLOW = """(area) => {
  const edge = area.getBoundingClientRect().right + 0.5;
  const past = [...area.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > edge)
    .map(e => `${e.tagName}.${e.className}: ${Math.round(e.getBoundingClientRect().right - edge)}px`);
  return {past, scroll: area.scrollWidth - area.clientWidth, width: area.clientWidth};
}"""


def artifacts_dir() -> Path:
    """The folder for screenshots kept after the run (created): ``$DALLE_KIT_BROWSER_ARTIFACTS``, else
    ``<repo>/test-artifacts/browser``."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or Path(__file__).resolve().parents[2] / "test-artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return artifacts_dir()


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in Chromium (needs /usr/bin/chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_env(root: Path) -> dict[str, str]:
    """Environment whose HOME, XDG, Jupyter, IPython and matplotlib folders are all under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "OPENAI_"))}
    for name, sub in [("HOME", "home"), ("XDG_CONFIG_HOME", "xdg/config"), ("XDG_CACHE_HOME", "xdg/cache"),
                      ("XDG_DATA_HOME", "xdg/data"), ("XDG_RUNTIME_DIR", "xdg/runtime"),
                      ("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("IPYTHONDIR", "ipython"),
                      ("MPLCONFIGDIR", "mpl"), ("DALLE_KIT_HOME", "dalle_kit")]:
        path = root / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    os.chmod(root / "xdg/runtime", 0o700)
    return env


@dataclass
class Lab:
    url: str
    token: str
    folder: Path  # the notebooks it serves
    out: Path  # where the test notebook writes masks

    def open(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, request) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    env = private_env(root)
    folder, out, settings = root / "notebooks", root / "out", root / "settings"
    for path in (folder, out, root / "workspaces"):
        path.mkdir()
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    for notebook in getattr(request.module, "NOTEBOOKS", {}).items():
        (folder / notebook[0]).write_text(json.dumps(notebook[1]))
    env["DALLE_KIT_BROWSER_OUT"] = str(out)
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    with open(root / "lab.log", "wb") as log:  # the server keeps its own copy of the file
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; its log:\n{(root / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield Lab(url, token, folder, out)
    finally:
        try:
            shutdown = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
            with urllib.request.urlopen(shutdown, timeout=5) as answer:
                answer.read()
            server.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    executable: str | None = CHROMIUM
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        with sync_playwright() as playwright:
            bundled = playwright.chromium.executable_path
        if not os.path.isfile(bundled):
            pytest.fail(f"No Chromium: not at {CHROMIUM}, and Playwright has none at {bundled}. `make test` gets one "
                        "(as root: apt-get install chromium; else: python -m playwright install chromium, where the "
                        "network allows), or set DALLE_KIT_CHROMIUM, or leave the browser tests out with "
                        "-m 'not browser'.")
        executable = None  # Playwright's own

    env = private_env(tmp_path_factory.mktemp("chromium"))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, env=env)
        try:
            yield chromium
        finally:
            chromium.close()
