"""The Batch API through the official SDK on the simulator: submit, poll, collect into the store, errors by line,
a restarted kernel collecting a job by its id, the Batch price, and what is never sent."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from dalle_kit import BudgetExceeded, InvalidArgument, Kit, Simulator
from dalle_kit import batch as batch_api
from dalle_kit.batch import BatchLineError

FAST = {"quality": "low", "size": "1024x1024"}


def kit_on(sim: Simulator, **options) -> Kit:
    return Kit(simulator=sim, quiet=True, **options)


def image_rows(kit: Kit) -> int:
    with closing(sqlite3.connect(kit.store.db_path)) as db:
        return db.execute("SELECT COUNT(*) FROM images WHERE kind = 'image'").fetchone()[0]


def test_a_100_line_job_with_3_failing_lines_stores_97_images_and_reports_the_3_by_line():
    sim = Simulator(seed=2, batch_seconds_per_line=0.001, batch_fail_lines={7, 50, 93})
    with kit_on(sim) as kit:
        job = batch_api.submit(kit, [f"a lighthouse, variant {i}" for i in range(100)], **FAST)
        assert job.id and sim.stats()["requests"].get("POST /v1/images/generations", 0) == 0  # one job, no calls
        result = job.collect(poll=0.02, progress=False)
        assert image_rows(kit) == 97 and len(result.images) == 97
        errors = result.errors
        assert [e.error.line for e in errors] == [7, 50, 93]
        assert all(isinstance(e.error, BatchLineError) and e.error.custom_id == e.request.key for e in errors)
        assert [o.index for o in errors] == [6, 49, 92]  # in submission order, by line
        made = [o for o in result if o.ok]
        assert all(o.source == "api" and o.images[0].stored_at for o in made)
        # the Batch price: half of what the same usage costs live
        first = made[0].images[0]
        live = kit._collector(made[0].request).pricing(first.model, first.usage)  # type: ignore[misc]
        assert first.cost == pytest.approx(live * 0.5)
        # collected images are the cache: the same requests live send nothing
        before = sim.stats()["total"]
        again = kit.generate_many([f"a lighthouse, variant {i}" for i in range(3)], progress=False, **FAST)
        assert [o.source for o in again] == ["store"] * 3 and sim.stats()["total"] == before


def test_a_restarted_kernel_finds_the_job_in_the_store_and_collects_it(tmp_path):
    sim = Simulator(seed=3, batch_seconds_per_line=None)  # nothing runs until the test says so
    home = tmp_path / "home"
    with kit_on(sim, home=home) as kit:
        job = batch_api.submit(kit, ["a red kite", "a blue kite", {"prompt": "x", "quality": "ultra"}], **FAST)
        assert job.outcomes[2].source == "invalid"  # refused before the file was written
    sim.run_batches(100)
    with kit_on(sim, home=home) as kit:  # a new kernel: only the store remembers
        listed = batch_api.jobs(kit)
        assert [j["id"] for j in listed] == [job.id] and listed[0]["requests"] == 3
        found = batch_api.open_job(kit, job.id)
        result = found.collect(poll=0.01, progress=False)
        assert [o.source for o in result] == ["api", "api", "invalid"]
        assert [o.request.key for o in result[:2]] == [o.request.key for o in job.outcomes[:2]]
        with pytest.raises(InvalidArgument, match="no Batch job 'batch_nope'"):
            batch_api.open_job(kit, "batch_nope")


def test_an_edit_job_carries_its_images_and_a_restarted_kernel_rebuilds_it(tmp_path):
    from helpers import png_bytes

    sim = Simulator(seed=4, batch_seconds_per_line=None)
    home = tmp_path / "home"
    photo = ("photo.png", png_bytes((1024, 1024)), "image/png")
    with kit_on(sim, home=home) as kit:
        job = batch_api.submit(kit, ["make it snow", "make it night"], endpoint="edit", image=photo)
    sim.run_batches(100)
    with kit_on(sim, home=home) as kit:
        result = batch_api.open_job(kit, job.id).collect(poll=0.01, progress=False)
        assert [o.source for o in result] == ["api", "api"] and len(result.images) == 2


def test_the_budget_is_checked_at_the_batch_price_and_a_refused_job_sends_nothing():
    sim = Simulator(seed=5, batch_seconds_per_line=None)
    with kit_on(sim, budget=0.0) as kit, pytest.raises(BudgetExceeded, match="Batch job of 2 requests"):
        batch_api.submit(kit, ["a", "b"], **FAST)
    assert sim.stats()["total"] == 0


def test_what_the_store_holds_is_not_sent_again():
    sim = Simulator(seed=6, batch_seconds_per_line=0.001)
    with kit_on(sim) as kit:
        kit.generate("a white siamese cat", **FAST)
        job = batch_api.submit(kit, ["a white siamese cat"], **FAST)
        assert job.id is None and job.outcomes[0].source == "store"
        assert job.collect(progress=False)[0].images[0].source == "store"


def test_the_command_submits_waits_collects_and_lists(tmp_path, monkeypatch, capsys):
    from dalle_kit.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["batch", "submit", "a red kite", "a blue kite", "--quality", "low", "--size", "1024x1024", "--wait",
                 "--poll", "0.02", "-o", "out", "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "2 made" in out and len(list((tmp_path / "out").iterdir())) == 2
    assert main(["batch", "status"]) == 0
    listed = capsys.readouterr().out
    assert "generate  2 requests  collected" in listed
    assert main(["batch", "collect", "batch_nope"]) == 2
    assert "no Batch job 'batch_nope'" in capsys.readouterr().err


def test_kit_batch_takes_a_grids_cells_and_lists_its_jobs():
    sim = Simulator(seed=8, batch_seconds_per_line=0.001)
    with kit_on(sim) as kit:
        grid = kit.compare("a kite", x="quality=low,medium", confirm=False, progress=False, live=False)
        job = kit.batch(grid, fresh=True)  # the grid's two cells as one job (fresh: not from the store)
        assert job.id and [j["id"] for j in kit.batch_jobs()] == [job.id]
        result = kit.batch_job(job.id).collect(poll=0.01, progress=False)
        assert [o.source for o in result] == ["api", "api"]


def test_collecting_twice_pays_once_and_a_reopened_job_keeps_what_the_store_answered(tmp_path):
    sim = Simulator(seed=9, batch_seconds_per_line=None)
    home = tmp_path / "home"
    with kit_on(sim, home=home) as kit:
        kit.generate("a stored kite", **FAST)
        job = batch_api.submit(kit, ["a stored kite", "a new kite", "another kite"], **FAST)
        assert [o.source for o in job.outcomes] == ["store", "not sent", "not sent"]
    sim.run_batches(100)
    with kit_on(sim, home=home) as kit:
        first = batch_api.open_job(kit, job.id).collect(poll=0.01, progress=False)
        assert [o.source for o in first] == ["store", "api", "api"] and first.sent == 2
        spent = kit.spend()["today"]
        again = batch_api.open_job(kit, job.id).collect(poll=0.01, progress=False)
        assert [o.source for o in again] == ["store"] * 3 and again.sent == 0
        assert kit.spend()["today"] == spent  # read twice, paid once
        assert [o.images[0].bytes for o in again] == [o.images[0].bytes for o in first]
