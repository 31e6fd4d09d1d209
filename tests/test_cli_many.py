"""The dalle-kit command with several prompts (--from, stdin), history and spend; offline, on the simulator."""

from __future__ import annotations

import io
import json

import pytest

from dalle_kit import read_metadata
from dalle_kit.cli import main

FAKE_KEY = "sk-test-" + "k" * 48


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_several_prompts_are_saved_listed_and_summed_up(tmp_path, capsys):
    out_dir = tmp_path / "new" / "out"  # created when missing
    code, out, err = _run(["generate", "a red kite", "a blue whale", "-o", str(out_dir), "--quality", "low",
                           "--concurrency", "2"], capsys)
    assert code == 0
    lines = out.splitlines()
    files = sorted(out_dir.glob("*.png"))
    assert len(files) == 2 and len(lines) == 3
    assert lines[0].startswith("1  ") and "a-red-kite" in lines[0] and lines[1].startswith("2  ")
    assert all(str(f) in out for f in files)
    assert lines[2].startswith("2 requests → 2 images, 2 made") and "$" in lines[2]
    assert {read_metadata(f)["request"]["prompt"] for f in files} == {"a red kite", "a blue whale"}
    assert "generate ×2" in err and "offline simulator" in err  # the progress bar and the notice, on stderr
    code, out, _ = _run(["generate", "a red kite", "a blue whale", "-o", str(out_dir), "--quality", "low"], capsys)
    assert code == 0 and "2 from the store" in out.splitlines()[-1] and "0 sent" in out
    code, out, _ = _run(["generate", "a red kite", "a blue whale", "-o", str(out_dir), "--quality", "low",
                         "--fresh"], capsys)
    assert code == 0 and "2 made" in out


def test_quiet_turns_off_the_bar_and_the_notice(tmp_path, capsys):
    code, out, err = _run(["generate", "a", "b", "-o", str(tmp_path), "--quality", "low", "-q"], capsys)
    assert code == 0 and err == "" and "2 requests" in out


def test_prompts_from_a_file_skip_blanks_and_comments(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a workshop\n\na lighthouse at dusk\r\n   \n  # indented comment\n  a fox in snow  \n",
                       encoding="utf-8-sig")
    code, out, _ = _run(["generate", "--from", str(prompts), "-o", str(tmp_path), "--quality", "low", "-n", "2",
                         "-q"], capsys)
    assert code == 0 and "2 requests → 4 images" in out
    made = {read_metadata(f)["request"]["prompt"] for f in tmp_path.glob("*.png")}
    assert made == {"a lighthouse at dusk", "a fox in snow"}
    assert [line[:1] for line in out.splitlines()[:4]] == ["1", "1", "2", "2"]  # one line per image


def test_prompts_from_stdin(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a cat\n# no\na dog\n"), encoding="utf-8"))
    code, out, _ = _run(["generate", "a bird", "--from", "-", "-o", str(tmp_path), "--quality", "low", "-q"],
                        capsys)
    assert code == 0 and "3 requests → 3 images" in out
    assert {read_metadata(f)["request"]["prompt"] for f in tmp_path.glob("*.png")} == {"a bird", "a cat", "a dog"}


def test_one_prompt_from_a_file_is_as_one_on_the_command_line(tmp_path, capsys):
    (tmp_path / "one.txt").write_text("a red kite\n")
    code, out, _ = _run(["generate", "--from", str(tmp_path / "one.txt"), "-o", str(tmp_path / "kite.png"),
                         "--quality", "low"], capsys)
    assert code == 0 and out.startswith(str(tmp_path / "kite.png")) and "requests" not in out


@pytest.mark.parametrize("case", ["missing", "folder", "latin1", "only comments", "nothing"])
def test_a_bad_prompts_file_is_one_line_and_exit_2(case, tmp_path, capsys):
    path = tmp_path / "p.txt"
    if case == "latin1":
        path.write_bytes("un caf\xe9\n".encode("latin-1"))
    elif case == "only comments":
        path.write_text("# nothing\n\n")
    argv = {"missing": ["--from", str(tmp_path / "nope.txt")], "folder": ["--from", str(tmp_path)],
            "nothing": []}.get(case, ["--from", str(path)])
    code, out, err = _run(["generate", *argv, "-q"], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("dalle-kit: ")
    assert {"missing": "No such file", "latin1": "not UTF-8", "only comments": "holds no prompt",
            "nothing": "give a prompt"}.get(case, "cannot read prompts") in err


def test_partly_failed_batch_exits_with_the_failure_code(tmp_path, capsys):
    code, out, err = _run(["generate", "a cat", "a moderation-test poster", "a dog", "-o", str(tmp_path),
                           "--quality", "low", "-q"], capsys)
    lines = out.splitlines()
    assert code == 3 and "Traceback" not in out + err
    assert lines[1].startswith("2  blocked by moderation") and "a moderation-test poster" in lines[1]
    assert "2 made, 1 failed (1 by moderation)" in lines[-1]
    code, out, _ = _run(["generate", "a cat", "a \udcff cat", "a moderation-test poster", "-o", str(tmp_path),
                         "-q"], capsys)
    assert code == 2 and "invalid, not sent" in out and "not valid Unicode" in out  # the lowest code wins


def test_errors_worth_retrying_exit_4_and_no_credit_exits_3(tmp_path, capsys, monkeypatch):
    import dalle_kit.client
    from dalle_kit import Simulator

    monkeypatch.setattr("dalle_kit.many._backoff", lambda attempt, rng: 0.0)
    real = dalle_kit.client.Kit
    for simulator, expected, words in ((Simulator(seed=1, fail={500: 1.0}), 4, "failed: the API answered 500"),
                                       (Simulator(seed=1, account="insufficient_quota"), 3, "insufficient_quota")):
        monkeypatch.setattr("dalle_kit.client.Kit", lambda sim=simulator, **kw: real(simulator=sim, **kw))
        code, out, _ = _run(["generate", "a", "b", "-o", str(tmp_path), "--quality", "low", "-q"], capsys)
        assert code == expected and words in out and "2 requests → 0 images" in out, out


def test_budget_is_one_line_and_exit_6(tmp_path, capsys):
    for prompts in (["a cat", "a dog"], ["a cat"]):
        code, out, err = _run(["generate", *prompts, "--budget", "0", "-o", str(tmp_path), "-q"], capsys)
        assert code == 6 and out == "" and len(err.splitlines()) == 1
        assert "nothing was sent" in err and "--budget USD" in err and "Kit(" not in err
    assert list(tmp_path.glob("*.png")) == []
    assert _run(["generate", "a", "b", "--budget", "-1", "-q"], capsys)[0] == 2


def test_cannot_write_exits_5_and_keeps_the_image_in_the_store(tmp_path, capsys, monkeypatch):
    from dalle_kit.results import ImageResult

    (tmp_path / "a-file").write_text("not a folder")
    code, _, err = _run(["generate", "a", "b", "-o", str(tmp_path / "a-file"), "-q"], capsys)
    assert code == 2 and "is a file" in err

    def refuse(self, path="."):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ImageResult, "save", refuse)
    code, out, _ = _run(["generate", "a", "b", "-o", str(tmp_path), "--quality", "low", "-q"], capsys)
    assert code == 5 and out.count("Permission denied") == 2 and "kept in the store" in out


def test_bad_engine_options_exit_2(capsys):
    code, _, err = _run(["generate", "a", "b", "--concurrency", "0", "-q"], capsys)
    assert code == 2 and "concurrency must be" in err and "Traceback" not in err


def test_history_lists_the_newest_first(tmp_path, capsys):
    main(["generate", "a red kite over the sea at dawn, with long ribbons and a cloudless sky", "a blue whale",
          "-o", str(tmp_path), "--quality", "low", "--format", "webp", "-q"])
    capsys.readouterr()
    code, out, _ = _run(["history"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "gpt-image-2.5-flare" in lines[0] and "1024x1024 webp" in lines[0] and lines[0].endswith(".webp")
    assert "a red kite over the sea at dawn, with l…" in out  # prompts shortened
    assert _run(["history", "--limit", "1"], capsys)[1].count("\n") == 1
    code, out, _ = _run(["history", "--search", "WHALE"], capsys)
    assert code == 0 and len(out.splitlines()) == 1 and "a blue whale" in out
    code, out, _ = _run(["history", "--search", "zebra"], capsys)
    assert code == 0 and "no image whose prompt contains 'zebra'" in out
    assert _run(["history", "--limit", "0"], capsys)[0] == 2


def test_history_json_lines(tmp_path, capsys):
    main(["generate", "a cat", "a dog", "-o", str(tmp_path), "--quality", "low", "-q"])
    capsys.readouterr()
    code, out, _ = _run(["history", "--json"], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(records) == 2
    assert {r["prompt"] for r in records} == {"a cat", "a dog"}
    assert all(r["model"] and r["path"].endswith(".png") and "T" in r["time"] for r in records)
    assert records[0]["info"]["request"]["quality"] == "low"


def test_history_and_spend_on_an_empty_store(capsys):
    code, out, err = _run(["history"], capsys)
    assert code == 0 and "no images yet in the store" in out and err == ""
    code, out, err = _run(["history", "--json"], capsys)
    assert code == 0 and out == "" and "no images yet" in err
    code, out, _ = _run(["spend"], capsys)
    assert code == 0 and "$0.000" in out and "nothing spent in the last 7 days" in out


def test_spend_today_and_per_day(tmp_path, capsys):
    main(["generate", "a cat", "a dog", "-o", str(tmp_path), "--quality", "low", "-q"])
    summary = capsys.readouterr().out.splitlines()[-1]
    code, out, _ = _run(["spend", "--days", "3"], capsys)
    lines = out.splitlines()
    cost = summary.split(" · ")[2]  # what the batch said it cost
    assert code == 0 and lines[0].startswith("today (") and cost in lines[0] and "simulator" in lines[0]
    assert "simulator" in lines[1] and cost in lines[1] and "2 calls, 2 images" in lines[1]
    assert _run(["spend", "--days", "0"], capsys)[0] == 2


def test_never_a_key_in_any_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    seen, codes = "", []
    for argv in (["generate", "a cat", "a moderation-test poster", "-o", str(tmp_path), "--offline"],
                 ["generate", "a", "b", "--budget", "0", "--offline"], ["history", "--json"], ["history"],
                 ["spend"]):
        code, out, err = _run(argv, capsys)
        seen, codes = seen + out + err, [*codes, code]
    assert codes == [3, 6, 0, 0, 0]
    assert FAKE_KEY not in seen and FAKE_KEY[-12:] not in seen and "a moderation-test poster" in seen
