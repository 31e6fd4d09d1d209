"""The binder/ folder (repo2docker: mybinder.org, JupyterHub) agrees with pyproject.toml.

repo2docker cannot run here (it needs Docker and the network), so this checks what can be checked without it:
the Python of ``runtime.txt`` satisfies ``requires-python``, ``postBuild`` is an executable bash script that stops
on errors and installs this checkout with extras that pyproject.toml defines, the settings step of ``postBuild``
writes what ``dalle-kit lab`` uses, and the README gives the Binder link to the notebooks.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dalle_kit.cli_lab import NEWS_OFF

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
POST_BUILD = BINDER / "postBuild"
#: The extras a class needs: JupyterLab, and the teacher's proxy.
EXTRAS = {"lab", "workshop"}


def _commands(script: str) -> list[list[str]]:
    """The script's command lines as words (comments, heredoc bodies and blank lines left out)."""
    out, heredoc = [], None
    for raw in script.splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        words = shlex.split(raw, comments=True)
        if words:
            out.append(words)
        if (m := re.search(r"<<-?\s*'?(\w+)'?", raw)) is not None:
            heredoc = m.group(1)
    return out


def _pip_installs(script: str) -> list[list[str]]:
    return [w[w.index("install") + 1:] for w in _commands(script) if "pip" in w and "install" in w]


def test_runtime_txt_names_a_python_that_requires_python_allows():
    text = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    m = re.fullmatch(r"python-(3\.\d+)", text)
    assert m, f"runtime.txt must read python-3.X (repo2docker's form), got {text!r}"
    assert Version(m.group(1)) in SpecifierSet(PROJECT["requires-python"]), (
        f"runtime.txt asks for Python {m.group(1)}; pyproject.toml requires {PROJECT['requires-python']}")


def test_one_environment_file_so_repo2docker_picks_the_python_buildpack():
    assert (BINDER / "requirements.txt").is_file()
    for other in ("environment.yml", "environment.yaml", "Pipfile", "Pipfile.lock", "Dockerfile", "setup.py",
                  "install.R", "Project.toml"):
        assert not (BINDER / other).exists(), f"binder/{other} would change how repo2docker builds the image"


def test_requirements_txt_leaves_the_dependencies_to_pyproject():
    lines = [line.split("#", 1)[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines()]
    names = {Requirement(line).name.lower() for line in lines if line}  # each line parses as a requirement
    ours = {Requirement(d).name.lower() for d in PROJECT["dependencies"]}
    assert not names & ours, f"requirements.txt repeats pyproject.toml's dependencies {sorted(names & ours)}"
    assert not names & {"dalle_kit", "dalle-kit"}, "postBuild installs the package; requirements.txt must not"


def test_post_build_is_an_executable_bash_script_that_stops_on_errors():
    text = POST_BUILD.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n")
    assert os.access(POST_BUILD, os.X_OK), "binder/postBuild must be executable (git update-index --chmod=+x)"
    assert "\r" not in text, "CRLF line ends break the #! line in the image"
    assert any(w[:1] == ["set"] and any(f.startswith("-") and "e" in f for f in w[1:]) for w in _commands(text))
    subprocess.run(["bash", "-n", str(POST_BUILD)], check=True)


def test_post_build_installs_this_checkout_with_the_class_extras():
    installs = _pip_installs(POST_BUILD.read_text(encoding="utf-8"))
    editable = [args[args.index("-e") + 1] for args in installs if "-e" in args]
    assert len(editable) == 1, f"expected one pip install -e of the checkout, got {installs}"
    m = re.fullmatch(r"\.\[([\w,\s-]+)\]", editable[0])
    assert m, f"expected pip install -e \".[extras]\" from the repository's root, got {editable[0]!r}"
    extras = {e.strip() for e in m.group(1).split(",")}
    defined = set(PROJECT["optional-dependencies"])
    assert extras <= defined, f"postBuild names extras pyproject.toml lacks: {sorted(extras - defined)}"
    assert extras >= EXTRAS, f"postBuild must install {sorted(EXTRAS)}"
    assert "dev" not in extras  # a class needs no test tools (playwright, hypothesis ...)
    assert 'cd "$(dirname "$0")/.."' in POST_BUILD.read_text(), "postBuild must run pip from the repository root"
    extras_deps = [Requirement(d).name.lower() for e in extras for d in PROJECT["optional-dependencies"][e]]
    assert "jupyterlab" in extras_deps


def test_post_build_turns_jupyterlabs_news_prompt_off_as_dalle_kit_lab_does(tmp_path):
    text = POST_BUILD.read_text(encoding="utf-8")
    code = re.search(r"<<'PY'\n(.*?)\nPY\n", text, re.S)
    assert code, "postBuild's settings step (a python <<'PY' heredoc) is missing"
    target = tmp_path / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"@jupyterlab/other:plugin": {"x": 1}}')
    # the step run as postBuild runs it, with sys.prefix (the image's environment) pointed at a temporary folder
    subprocess.run([sys.executable, "-c", f"import sys; sys.prefix = {str(tmp_path)!r}\n" + code.group(1)],
                   check=True, cwd=ROOT)
    written = json.loads(target.read_text())
    assert written == {"@jupyterlab/other:plugin": {"x": 1}, **NEWS_OFF}


def test_the_readme_gives_the_binder_link_to_the_notebooks():
    text = (BINDER / "README.md").read_text(encoding="utf-8")
    assert "https://mybinder.org/v2/gh/<owner>/<repo>/HEAD?urlpath=lab/tree/notebooks" in text
    assert (ROOT / "notebooks").is_dir() and any((ROOT / "notebooks").glob("*.ipynb"))
    assert "repo2docker" in text and "JupyterHub" in text
