"""``dalle-kit pack record | verify | info``, and the promise of replay packs: a pack recorded from the simulator
answers a full run of notebooks 01, 03, 06 and 07 with 0 requests to any backend."""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import nbclient
import nbformat
import pytest

from dalle_kit import Kit
from dalle_kit.cli import main
from dalle_kit.replay import Pack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WORKSHOP = ("01_first_image", "03_prompt_craft", "06_masks_and_inpainting", "07_variations_and_references")
# Appended to each replayed notebook: every simulator in the kernel (each Kit's fallback, and 07's legacy one)
# reports how many requests it answered.
COUNT = ("import gc, json\nfrom dalle_kit.simulator import Simulator\n"
         "print(json.dumps([s.stats()['total'] for s in gc.get_objects() if isinstance(s, Simulator)]))")


@pytest.fixture
def small_pack(tmp_path):
    with Kit(quiet=True) as kit:
        kit.generate("a white cat", size="1024x1024", quality="low")
        return kit.export_pack(tmp_path / "small.zip")


def test_verify_and_info(small_pack, capsys):
    assert main(["pack", "verify", str(small_pack)]) == 0
    assert "ok (1 images" in capsys.readouterr().out
    assert main(["pack", "info", str(small_pack)]) == 0
    out = capsys.readouterr().out
    assert "dalle_kit.pack v1" in out and "1 answers" in out and "gpt-image" in out
    assert main(["pack", "info", "--json", str(small_pack)]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1


def test_verify_refuses_a_tampered_pack_with_exit_2(small_pack, tmp_path, capsys):
    raw = bytearray(small_pack.read_bytes())
    raw[200] ^= 0x55
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    assert main(["pack", "verify", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.zip" in err and "refused" in err and "Traceback" not in err
    assert main(["pack", "verify", str(tmp_path / "missing.zip")]) == 2


def test_record_refuses_what_is_not_a_notebook(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("x")
    assert main(["pack", "record", str(tmp_path / "x.txt"), "-o", str(tmp_path / "p.zip")]) == 2
    assert "neither a notebook" in capsys.readouterr().err
    assert main(["pack", "record", str(tmp_path), "-o", str(tmp_path / "p.zip")]) == 2
    assert "no notebooks" in capsys.readouterr().err


def _run(book: Path) -> tuple[float, list[int]]:
    """Execute ``book`` in its folder with the count cell appended; seconds taken and the simulators' totals."""
    nb = nbformat.read(book, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(COUNT))
    started = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(book.parent)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    return time.perf_counter() - started, json.loads(text.strip().splitlines()[-1])


def test_a_recorded_pack_answers_the_workshop_notebooks_with_no_request(tmp_path, monkeypatch, capsys):
    work = tmp_path / "notebooks"
    work.mkdir()
    (work / "outputs").mkdir()
    for name in WORKSHOP:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", work)
    pack = tmp_path / "workshop.zip"
    assert main(["pack", "record", str(work), "-o", str(pack)]) == 0
    assert "answers" in capsys.readouterr().out
    loaded = Pack.load(pack)
    assert len(loaded) >= 25  # every generation, edit and variation the four notebooks make
    monkeypatch.setenv("DALLE_KIT_HOME", str(tmp_path / "participant"))  # a fresh machine: nothing stored
    monkeypatch.setenv("DALLE_KIT_REPLAY", str(pack))
    monkeypatch.setenv("DALLE_KIT_REPLAY_STRICT", "1")  # a miss would raise ReplayMiss and fail the run
    for name in WORKSHOP:
        _, totals = _run(work / f"{name}.ipynb")
        assert totals and set(totals) == {0}, (name, totals)  # 0 requests to every backend in the kernel


def test_record_through_the_batch_api_sends_what_stands_alone_as_one_job_and_the_rest_live(tmp_path, capsys):
    """``--batch``: a dry run finds the notebook's requests; the two that stand alone go as one Batch job, the
    edit of an image made before is made in the real run; the pack then replays all of them, strict."""
    from dalle_kit.cli_pack import record

    work = tmp_path / "work"
    work.mkdir()
    cells = ["from dalle_kit import Kit\nkit = Kit(quiet=True)",
             'kite = kit.generate("a red kite", quality="low", size="1024x1024")',
             'more = kit.generate_many(["a blue kite"], quality="low", size="1024x1024", progress=False)',
             'snow = kit.edit(kite.bytes, "make it snow", quality="low", size="1024x1024")',
             COUNT]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, work / "kites.ipynb")
    pack_path = record([str(work / "kites.ipynb")], tmp_path / "kites.zip", offline=True, batch=True, poll=0.05)
    err = capsys.readouterr().err
    assert "Batch API: 2 generate requests" in err and "2 made" in err
    pack = Pack.load(pack_path)
    assert pack.summary()["answers"] == 3  # the two generations (from the job) and the edit (made live after)
    home = tmp_path / "replay-home"
    with _replaying(pack_path, home):
        replayed = nbclient.NotebookClient(nbformat.read(work / "kites.ipynb", as_version=4), timeout=120,
                                           kernel_name="python3", resources={"metadata": {"path": str(work)}})
        replayed.execute()
    counts = json.loads(replayed.nb.cells[-1].outputs[0]["text"])
    assert counts and all(total == 0 for total in counts)  # strict replay: nothing reached any simulator


@contextmanager
def _replaying(pack_path: Path, home: Path):
    import os

    saved = dict(os.environ)
    os.environ.update({"DALLE_KIT_HOME": str(home), "DALLE_KIT_REPLAY": str(pack_path),
                       "DALLE_KIT_REPLAY_STRICT": "1"})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
