"""The dalle-kit command: models, generate (offline), a fast --help."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

import dalle_kit
from dalle_kit import read_metadata
from dalle_kit.cli import main


def test_models_lists_status_and_replacement(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every cell on one line
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "gpt-image-2.6-sunburst" in out and "dall-e-3" in out
    assert "retired: shut down 2026-05-12; use gpt-image-2.5-flare" in out
    assert main(["models", "--current"]) == 0
    assert "dall-e-3" not in capsys.readouterr().out


def test_generate_saves_and_prints_paths(tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["generate", "a red kite", "-o", str(out_dir), "-n", "2", "--size", "1536x864",
                 "--quality", "low", "--format", "jpeg"]) == 0
    printed = capsys.readouterr()
    files = sorted(out_dir.glob("*.jpg"))
    assert len(files) == 2 and all(str(f) in printed.out for f in files)
    assert read_metadata(files[0])["request"]["prompt"] == "a red kite"
    assert "offline simulator" in printed.err


def test_generate_to_a_file_name(tmp_path):
    target = tmp_path / "kite.png"
    assert main(["generate", "a red kite", "-o", str(target), "--quality", "low"]) == 0
    assert read_metadata(target)["request"]["quality"] == "low"


def test_invalid_request_is_a_clear_error_and_exit_2(capsys):
    assert main(["generate", "a red kite", "--quality", "hd"]) == 2
    assert "quality='hd' is a DALL·E value" in capsys.readouterr().err


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from dalle_kit.cli import _parser; _parser().format_help(); "
            "print(sorted(m for m in ('openai', 'PIL', 'httpx2', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run([sys.executable, "-m", "dalle_kit", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "serve" in help_text.stdout


def test_serve_is_a_real_subcommand_with_its_own_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0 and "dalle-kit serve" in capsys.readouterr().out
    assert "serve" in subprocess.run([sys.executable, "-m", "dalle_kit", "--help"], capture_output=True,
                                     text=True, check=True).stdout
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "--port", "8000"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --port 8000" in capsys.readouterr().err


def _exit_of(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _failures(err: str) -> list[str]:
    """stderr without the offline notice (a notice, not a failure)."""
    return [line for line in err.splitlines() if not line.startswith("dalle_kit: no OPENAI_API_KEY")]


def test_every_error_is_one_clean_line_with_its_own_exit_code(tmp_path, capsys):
    code, err = _exit_of(["generate", "a moderation-test poster"], capsys)
    assert code == 3 and "moderation_blocked" in err and "Traceback" not in err
    assert "rephrase the prompt" in err  # the note dalle_kit adds, on the same line
    assert len(_failures(err)) == 1 and _failures(err)[0].startswith("dalle-kit: the API answered 400")
    (tmp_path / "a-file").write_text("not a folder")
    code, err = _exit_of(["generate", "a cat", "-o", str(tmp_path / "a-file" / "x.png")], capsys)
    assert code == 5 and "cannot write" in err and "kept in the store" in err and "Traceback" not in err
    code, err = _exit_of(["generate", "a \udcff cat"], capsys)  # what non-UTF-8 argv decodes to
    assert code == 2 and "not valid Unicode" in err
    code, err = _exit_of(["generate", "a cat", "--size", "1000x1000"], capsys)
    assert code == 2 and [line for line in err.splitlines() if not line.startswith("dalle_kit: no OPENAI")] == [
        line for line in err.splitlines() if line.startswith("dalle-kit: size='1000x1000' is not accepted")]


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(dalle_kit.InvalidRequest):
        main(["generate", "a cat", "--size", "1000x1000", "--debug"])


def test_errors_worth_retrying_later_exit_4(capsys):
    import openai

    from dalle_kit import Kit, Simulator
    from dalle_kit.cli import _report

    kit = Kit(simulator=Simulator(seed=1, fail={500: 1.0}), quiet=True, max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        kit.generate("a cat", quality="low")
    assert _report(info.value) == 4 and "server error" in capsys.readouterr().err
    quota = Kit(simulator=Simulator(seed=1, account="insufficient_quota"), quiet=True)
    with pytest.raises(openai.RateLimitError) as info:
        quota.generate("a cat", quality="low")
    assert _report(info.value) == 3  # no credit: waiting does not help


def test_non_utf8_argv_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "dalle_kit", "generate", b"a \xff cat", "-o", str(tmp_path)],
                         capture_output=True, text=True, env={**os.environ, "DALLE_KIT_HOME": str(tmp_path)})
    assert out.returncode == 2 and "Traceback" not in out.stderr and "not valid Unicode" in out.stderr


def test_repair_reports_what_it_did(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path))
    assert main(["repair"]) == 0 and "nothing to repair" in capsys.readouterr().out
    orphan = tmp_path / "images" / "ab" / ("ab" + "0" * 62 + ".png")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\x89PNG not really")
    assert main(["repair"]) == 0 and "indexed 1 image file(s)" in capsys.readouterr().out


@pytest.mark.parametrize("port", ["99999", "-5", "eighty"])
def test_serve_refuses_an_impossible_port_in_one_line(port, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", port])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "0 to 65535" in err and "Traceback" not in err


def _cli(*argv: str, env: dict[str, str] | None = None, **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dalle_kit", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, **options)


def test_moderation_blocked_is_one_stderr_line_from_the_real_command(tmp_path):
    out = _cli("generate", "moderation-test something", "-q", "-o", str(tmp_path))
    assert out.returncode == 3 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("dalle-kit: the API answered 400 (moderation_blocked)")
    assert "rephrase the prompt" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(("fault", "code", "words"), [
    ({500: 1.0}, 4, "server error"),
    ({429: 1.0}, 4, "rate limited"),
    ({"drop": 1.0}, 4, "Connection error"),
    ("insufficient_quota", 3, "insufficient_quota"),
])
def test_api_errors_are_one_line_with_the_note_on_it(fault, code, words, capsys):
    import openai

    from dalle_kit import Kit, Simulator
    from dalle_kit.cli import _report

    simulator = Simulator(seed=1, account=fault) if isinstance(fault, str) else Simulator(seed=1, fail=fault)
    kit = Kit(simulator=simulator, quiet=True, max_retries=0)
    with pytest.raises(openai.APIError) as info:
        kit.generate("a cat", quality="low")
    assert info.value.__notes__  # dalle_kit's advice ...
    assert _report(info.value) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dalle-kit: ") and words in err  # ... on the error's line
    assert " — " in err and "dalle_kit: " not in err


def test_usage_errors_and_warnings_are_one_line(tmp_path):
    for argv, words in [(["generate", "--quality"], "argument --quality: expected one argument"),
                        (["bogus"], "invalid choice: 'bogus'"),
                        (["batch"], "required: STEP"),
                        (["serve", "--port", "99999"], "0 to 65535"),
                        (["lab", "--port", "eighty"], "1 to 65535"), (["proxy", "--port", "0"], "1 to 65535")]:
        out = _cli(*argv)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and words in out.stderr, (argv, out.stderr)
        assert "usage:" not in out.stderr and "--help" in out.stderr
    out = _cli("generate", "   ", "-q", "-o", str(tmp_path))
    assert out.returncode == 0
    assert out.stderr.splitlines() == [line for line in out.stderr.splitlines() if line.startswith("dalle-kit: warning: ")]
    assert len(out.stderr.splitlines()) == 1 and "only whitespace" in out.stderr


def test_a_closed_stdout_is_not_a_complaint():
    reader = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        out = subprocess.run([sys.executable, "-m", "dalle_kit", "models"], stdout=reader.stdin,
                             stderr=subprocess.PIPE, text=True, timeout=60, env={**os.environ, "COLUMNS": "60"})
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert out.stderr == "" and out.returncode in (0, 5)


def test_output_without_a_suffix_is_a_folder(tmp_path, capsys):
    target = tmp_path / "out" / "newdir"
    assert main(["generate", "a red kite", "-o", str(target), "-n", "2", "--quality", "low", "-q"]) == 0
    files = sorted(target.iterdir())
    assert target.is_dir() and len(files) == 2 and all(f.suffix == ".png" and f.name.startswith("a-red-kite-")
                                                       for f in files)
    printed = capsys.readouterr().out
    assert all(str(f) in printed for f in files)
    plain = tmp_path / "plainfile"  # an existing file without a suffix stays a file
    plain.write_bytes(b"")
    assert main(["generate", "a red kite", "-o", str(plain), "--quality", "low", "-q"]) == 0
    assert plain.is_file() and plain.read_bytes().startswith(b"\x89PNG")
    blocked = tmp_path / "plainfile" / "sub"  # cannot be made: refused before sending
    code, err = _exit_of(["generate", "a red kite", "-o", str(blocked), "--quality", "low", "-q"], capsys)
    assert code == 2 and "cannot create the folder" in err and len(err.splitlines()) == 1


def test_saved_files_follow_the_umask(tmp_path):
    """Images saved by the command (-o) and kept in the store, PNG and JPEG with its sidecar: 0644 under 022."""
    code = ("import os, sys; os.umask(0o022); from dalle_kit.cli import main; "
            "sys.exit(main(['generate', 'a kite', '-q', '--quality', 'low', *sys.argv[1:]]))")
    home = tmp_path / "home"
    for name, extra in (("png", []), ("jpeg", ["--format", "jpeg"])):
        run = subprocess.run([sys.executable, "-c", code, "-o", str(tmp_path / name), *extra], capture_output=True,
                             text=True, env={**os.environ, "DALLE_KIT_HOME": str(home)}, timeout=120)
        assert run.returncode == 0, run.stderr
    saved = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".png", ".jpg", ".json")]
    assert {p.suffix for p in saved} == {".png", ".jpg", ".json"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in saved} == {"0o644"}, saved


@pytest.mark.parametrize("columns", [200, 100, 80, 60, 40, 24])
def test_models_fits_the_terminal(columns):
    out = _cli("models", env={"COLUMNS": str(columns)})
    assert out.returncode == 0 and out.stderr == ""
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    from dalle_kit.registry import all_specs

    words = out.stdout.split()
    ids = [spec.id for spec in all_specs()]
    if columns >= max(len(i) for i in ids):
        assert all(i in words for i in ids)  # every model id whole, never wrapped or cut
    if columns >= 80:
        assert lines[0].split()[:2] == ["model", "status"]
