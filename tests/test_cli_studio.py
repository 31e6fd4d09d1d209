"""``dalle-kit studio``: help, a missing Voilà, bad ports and hosts, the loud warning off loopback, the notebook found.

Nothing here starts Voilà: ``os.execv`` is replaced, and the command line it would have run is checked instead
(tests/browser/test_studio_browser.py serves the page for real).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dalle_kit import cli_studio
from dalle_kit.cli import main

ROOT = Path(__file__).resolve().parent.parent


class Exec(BaseException):
    """What the replaced ``os.execv`` raises (past ``main``'s one-line error report, as ``SystemExit`` does): the
    command line Voilà would have started with."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.argv = argv


@pytest.fixture
def execv(monkeypatch, tmp_path):
    def fake(path: str, argv: list[str]) -> None:
        raise Exec(argv)

    monkeypatch.setattr(cli_studio.os, "execv", fake)
    monkeypatch.setattr(cli_studio.sys, "platform", "linux")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "home"))
    return fake


def started(args: list[str]) -> list[str]:
    with pytest.raises(Exec) as caught:
        main(["studio", *args])
    return caught.value.argv


def test_help_names_the_extra_the_port_and_the_host(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["studio", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for words in ("--port", "--host", "--no-browser", 'dalle_kit[studio]', "127.0.0.1", "offline simulator"):
        assert words in text
    assert "studio" in main.__globals__["_parser"]().format_help()


def test_without_voila_one_line_says_what_to_install(monkeypatch, capsys, execv):
    monkeypatch.setitem(sys.modules, "voila", None)  # import voila fails, find_spec finds nothing
    assert main(["studio", "--no-browser"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == 'dalle-kit: Voilà is not installed: pip install "dalle_kit[studio]"\n'


@pytest.mark.parametrize("host", ["not a host", "http://0.0.0.0", "exa mple.org", "-x", "a..b", ""])
def test_a_bad_host_is_refused_in_one_line(capsys, execv, host):
    assert main(["studio", f"--host={host}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--host" in err and "127.0.0.1" in err


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_a_bad_port_is_refused(capsys, execv, port):
    with pytest.raises(SystemExit) as exited:  # a usage error: argparse's own exit, one line
        main(["studio", f"--port={port}"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--port" in err and "1 to 65535" in err and err.count("\n") == 1


def test_loopback_by_default_on_the_checkouts_notebook_with_sources_stripped(capsys, execv):
    argv = started(["--no-browser", "--port", "9123"])
    assert argv[:4] == [sys.executable, "-m", "voila", str(ROOT / "notebooks" / "studio.ipynb")]
    for flag in ("--Voila.ip=127.0.0.1", "--port=9123", "--Voila.port_retries=0", "--strip_sources=True",
                 "--show_tracebacks=False", "--no-browser", "--VoilaConfiguration.file_allowlist=^$"):
        assert flag in argv
    assert "--token" not in argv
    err = capsys.readouterr().err
    assert "WARNING" not in err and "offline simulator" in err


def test_without_a_port_voila_picks_8866_or_the_next_free_one(execv):
    argv = started([])
    assert "--port=8866" in argv and "--Voila.port_retries=0" not in argv and "--no-browser" not in argv


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "studio.example.org"])
def test_a_network_host_gets_a_loud_warning_and_a_token(capsys, execv, host):
    argv = started(["--host", host])
    assert f"--Voila.ip={host}" in argv and "--token" in argv
    err = capsys.readouterr().err
    assert "WARNING" in err and host in err and "!!!!" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_stay_quiet(capsys, execv, host):
    argv = started(["--host", host])
    assert "--token" not in argv
    assert "WARNING" not in capsys.readouterr().err


def test_the_warning_names_the_key_when_one_is_set(capsys, execv, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "x" * 60)
    started(["--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert "YOUR OPENAI_API_KEY" in err and "offline simulator" not in err


def test_the_packaged_notebook_is_the_repositorys():
    """``notebooks/studio.ipynb`` (run by nbval, served from a checkout) and the copy in the package (served when
    dalle_kit is installed without the repository) are one file."""
    assert (ROOT / "notebooks" / "studio.ipynb").read_bytes() == cli_studio.PACKAGED.read_bytes()


def test_without_a_checkout_the_packaged_copy_is_served_from_the_home_folder(tmp_path, monkeypatch):
    fake = tmp_path / "site" / "dalle_kit" / "cli_studio.py"  # an installed package: no pyproject.toml beside it
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(cli_studio, "__file__", str(fake))
    home = tmp_path / "home"
    first = cli_studio.studio_notebook(home)
    assert first == home / "studio" / "studio.ipynb"
    assert first.read_bytes() == cli_studio.PACKAGED.read_bytes()
    first.write_text("{}")  # an older copy is replaced by the package's
    assert cli_studio.studio_notebook(home).read_bytes() == cli_studio.PACKAGED.read_bytes()


def test_the_notebook_is_the_studio_widget_and_imports_only_dalle_kit():
    nb = json.loads((ROOT / "notebooks" / "studio.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    imports = [line.split()[1] for cell in code for line in cell.splitlines() if line.startswith(("import ", "from "))]
    assert {name.split(".")[0] for name in imports} == {"dalle_kit"}
    assert code[-1].split("#")[0].rstrip().endswith("Studio()")  # the last cell's output is the page
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in nb["cells"]
               if c["cell_type"] == "code")
    assert [c["cell_type"] for c in nb["cells"]].count("markdown") == 1  # the title: Voilà shows every markdown cell
