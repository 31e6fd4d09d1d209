"""The dalle-kit command: models, generate (offline), a fast --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dalle_kit import read_metadata
from dalle_kit.cli import main


def test_models_lists_status_and_replacement(capsys):
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
