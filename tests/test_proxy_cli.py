"""``dalle-kit proxy`` as a teacher runs it: a subprocess serving the room, and the status, cap, revoke and restore
commands against its ledger. Tokens go to tokens.csv (0600) and to a terminal only; never to a log or a pipe."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

LOW = {"model": "gpt-image-2", "size": "1024x1024", "quality": "low"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTHONUNBUFFERED")}
    return env


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dalle_kit", "proxy", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=60)


class Served:
    """``dalle-kit proxy ...`` in a subprocess, stdout and stderr to files (not a terminal)."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.cwd, self.port = cwd, _free_port()
        self.out, self.err = cwd / "stdout.txt", cwd / "stderr.txt"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "dalle_kit", "proxy", "--port", str(self.port),
                                             *args], cwd=cwd, env=_env(), stdout=out, stderr=err)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the proxy did not start")

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl+C
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.out.read_text(), self.err.read_text()


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    room = Served(tmp_path, "--students", "2", "--budget-each", "0.05", "--simulator")
    yield room
    room.stop()


def _tokens(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["name"]: row["token"] for row in csv.DictReader(handle)}


def test_serving_a_room_keeps_tokens_out_of_pipes_and_logs(served, tmp_path):
    tokens_file = tmp_path / "tokens.csv"
    tokens = _tokens(tokens_file)
    deadline = time.monotonic() + 5  # the participants' line shows while it serves, even through a pipe
    while "participants: Kit(" not in served.out.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "participants: Kit(" in served.out.read_text()
    assert sorted(tokens) == ["participant-01", "participant-02"]
    assert tokens_file.stat().st_mode & 0o777 == 0o600
    name, token = "participant-01", tokens["participant-01"]
    with openai.OpenAI(base_url=served.url, api_key=token, max_retries=0) as client:
        assert client.images.generate(prompt="a lighthouse", **LOW).data
    with openai.OpenAI(base_url=served.url, api_key=token + "x", max_retries=0) as client, \
            pytest.raises(openai.AuthenticationError):
        client.images.generate(prompt="a lighthouse", **LOW)
    # the teacher's commands work on the ledger while it serves
    status = _cli(tmp_path, "status", "--json")
    assert status.returncode == 0, status.stderr
    table = json.loads(status.stdout)
    assert table["totals"]["images"] == 1 and [p["name"] for p in table["participants"]] == sorted(tokens)
    plain = _cli(tmp_path, "status")
    assert plain.returncode == 0 and name in plain.stdout and "1 images" in plain.stdout
    assert _cli(tmp_path, "cap", name, "0.001").returncode == 0
    with openai.OpenAI(base_url=served.url, api_key=token, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as info:
            client.images.generate(prompt="a lighthouse", **LOW)
        assert info.value.code == "insufficient_quota"
        assert _cli(tmp_path, "cap", name, "1").returncode == 0
        assert client.images.generate(prompt="a harbour", **LOW).data
        revoked = _cli(tmp_path, "revoke", name)
        assert revoked.returncode == 0 and "revoked" in revoked.stdout
        with pytest.raises(openai.AuthenticationError) as denied:
            client.images.generate(prompt="a harbour", **LOW)
        assert denied.value.code == "token_revoked"
        assert _cli(tmp_path, "restore", name).returncode == 0
        assert client.images.generate(prompt="a harbour at night", **LOW).data
    out, err = served.stop()
    assert "participants: Kit(base_url=" in out and f"127.0.0.1:{served.port}/v1" in out
    assert "written to tokens.csv" in out
    assert name in err and "POST /v1/images/generations 200" in err  # the log names participants
    for secret in tokens.values():
        assert secret not in out and secret not in err
        assert secret not in status.stdout and secret not in plain.stdout
    assert "Traceback" not in err


def test_show_tokens_prints_them_even_to_a_pipe(tmp_path):
    room = Served(tmp_path, "--students", "2", "--budget-each", "0.05", "--simulator", "--show-tokens")
    out, err = room.stop()
    tokens = _tokens(tmp_path / "tokens.csv")
    assert all(token in out for token in tokens.values())
    assert not any(token in err for token in tokens.values())


def test_listening_beyond_this_machine_warns_loudly(tmp_path):
    room = Served(tmp_path, "--students", "2", "--budget-each", "0.05", "--simulator", "--host", "0.0.0.0")
    out, err = room.stop()
    assert "WARNING" in err and "0.0.0.0" in err and "revoke" in err
    assert "WARNING" not in out


def test_no_key_and_no_simulator_is_one_clean_line(tmp_path):
    done = _cli(tmp_path, "--students", "2", "--budget-each", "0.05", "--port", str(_free_port()))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0] and "--simulator" in lines[0]
    assert not (tmp_path / "tokens.csv").exists()


def test_teacher_commands_refuse_unknown_names_in_one_line(tmp_path):
    ledger = tmp_path / "room.sqlite"
    from dalle_kit.proxy.run import open_room

    book, _ = open_room(ledger, students=2, budget_each=0.05)
    book.close()
    for args in (("cap", "participant-1", "2"), ("revoke", "nobody"), ("restore", "nobody")):
        done = _cli(tmp_path, *args, "--ledger", str(ledger))
        assert done.returncode == 2, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "no participant named" in lines[0], lines
    hint = _cli(tmp_path, "cap", "participant-1", "2", "--ledger", str(ledger)).stderr
    assert "participant-01" in hint
    bad = _cli(tmp_path, "cap", "participant-01", "-1", "--ledger", str(ledger))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
