"""Setup on the machines people bring: the Makefile's .venv recovery, pyproject's license form, dalle-kit lab."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_make = pytest.mark.skipif(shutil.which("make") is None or sys.platform == "win32", reason="needs make")


def _project(tmp_path: Path) -> Path:
    """A scratch copy of what the Makefile reads (its recipes never run against the real .venv)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(folder), "--no-print-directory", *args], capture_output=True, text=True,
                          timeout=60)


def _fake_python(path: Path, version: str) -> Path:
    """A stand-in for an older Python: reports ``version`` and fails every other command (as dalle_kit's
    requires-python check would fail on it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n[ "$1" = "-V" ] && echo "Python {version}" && exit 0\nexit 1\n')
    path.chmod(0o755)
    return path


def _stamp(folder: Path) -> Path:
    out = _make(folder, "-p", "-n", "setup")
    name = next(line.split(":")[0] for line in out.stdout.splitlines() if line.startswith(".venv/.installed-"))
    return folder / name


@needs_make
def test_too_old_a_python_stops_in_one_line_and_leaves_no_venv(tmp_path):
    folder = _project(tmp_path)
    old = _fake_python(tmp_path / "bin" / "python3.10", "3.10.13")
    out = _make(folder, "setup", f"PY={old}")
    assert out.returncode != 0 and not (folder / ".venv").exists()
    said = [line for line in out.stderr.splitlines() if not re.match(r"make(\[\d+\])?:", line)]  # make's own
    assert said == [f"dalle_kit needs Python 3.11 or newer, and {old} is Python 3.10.13: run make setup "
                    "PY=python3.11 (or any newer python3)"]


@needs_make
def test_a_venv_made_by_an_older_python_is_rebuilt_even_with_its_stamp(tmp_path):
    folder = _project(tmp_path)
    stamp = _stamp(folder)
    _fake_python(folder / ".venv" / "bin" / "python", "3.10.13")
    stamp.touch()  # as if a setup had finished: only the Python is wrong
    planned = _make(folder, "-n", "setup").stdout
    assert "-m venv .venv" in planned and "rm -rf .venv" in planned
    # the same stamp over a venv of a good Python: nothing to do
    (folder / ".venv" / "bin" / "python").unlink()
    (folder / ".venv" / "bin" / "python").symlink_to(sys.executable)
    os.utime(stamp)
    assert "Nothing to be done" in _make(folder, "setup").stdout


@needs_make
def test_the_stamp_is_written_last_and_lab_takes_host_and_port(tmp_path):
    folder = _project(tmp_path)
    steps = _make(folder, "-n", "setup", "PY=" + sys.executable).stdout.splitlines()
    assert steps[-1].startswith("rm -f .venv/.installed-* && touch .venv/.installed-")
    assert any("pip install" in step for step in steps[:-1])
    planned = _make(folder, "-n", "lab", "HOST=0.0.0.0", "PORT=9999").stdout.splitlines()[-1]
    assert planned == ".venv/bin/dalle-kit lab notebooks --host 0.0.0.0 --port 9999"


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    floor = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert floor.startswith("setuptools>=") and int(floor.split(">=")[1].split(".")[0]) >= 77  # PEP 639


def _run_lab(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_lab_without_jupyterlab_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['jupyterlab'] = None; from dalle_kit.cli import main; "
            "sys.exit(main(['lab', '--no-browser']))")
    out = _run_lab(code, {})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == 'dalle-kit: JupyterLab is not installed: pip install "dalle_kit[lab]"\n'


def test_lab_picks_the_notebooks_folder(tmp_path):
    from dalle_kit import cli_lab

    assert cli_lab.notebooks_folder(tmp_path) == ROOT / "notebooks"  # a checkout: its notebooks
    assert cli_lab.notebooks_folder(tmp_path).is_dir()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:  # loopback only
        return str(answer.read().decode("utf-8"))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process handling in the test")
def test_lab_serves_the_notebooks_with_the_news_prompt_off(tmp_path):
    pytest.importorskip("jupyterlab")
    port, token = _free_port(), "dalle-kit-test-token"
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "DALLE_KIT_HOME": str(tmp_path / "home")}
    lab = subprocess.Popen([sys.executable, "-m", "dalle_kit", "lab", "--port", str(port), "--host", "127.0.0.1",
                            "--no-browser"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                contents = json.loads(_get(f"{base}/api/contents?token={token}"))
                break
            except OSError:
                if lab.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dalle-kit lab did not serve: {lab.stderr.read() if lab.stderr else ''}")
                time.sleep(0.3)
        names = {item["name"] for item in contents["content"]}
        assert "01_first_image.ipynb" in names  # the repository's notebooks folder, wherever it was started
        setting = json.loads(_get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification"
                                  f"?token={token}"))
        # the prompt "Would you like to get notified about official Jupyter news?" shows only when fetchNews is
        # "none" (JupyterLab's default); the page reads the schema's default unless the user saved a choice
        assert setting["schema"]["properties"]["fetchNews"]["default"] == "false"
        assert "fetchNews" not in setting["settings"]
        assert json.loads(_get(f"{base}/lab/api/news?token={token}"))["news"] == []  # news_url=None: nothing fetched
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait(timeout=10)
        if lab.stderr:
            lab.stderr.close()
