"""Kit.generate_many / edit_many and their async twins on the in-process simulator: what goes in, what comes out,
the cache, the budget, progress, sync calls inside a running loop, retry_failed.

Faults, retries, the fault storm and resuming after kill -9 are in test_many_faults.py; pacing in
test_many_pacing.py. The simulator's own counters (``sim.stats()``) are the witness of what was sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from typing import Any

import pytest
from helpers import mask_bytes, png_bytes

from dalle_kit import BudgetExceeded, InvalidRequest, Kit, ManyResult, Prompt, Simulator

FAST = {"quality": "low", "output_format": "svg"}  # drawn in milliseconds; png where a thumbnail is needed
GENERATIONS = "POST /v1/images/generations"
EDITS = "POST /v1/images/edits"


# -- shared helpers (test_many_faults.py imports them) ------------------------------------------------------------

def sent(sim: Simulator, route: str | None = None) -> int:
    """HTTP requests the simulator received (one route, or all)."""
    stats = sim.stats()
    return stats["total"] if route is None else stats["requests"].get(route, 0)


def prompt_of(headers: Any, body: bytes) -> str | None:
    """The prompt of an image request: from its JSON body, or the ``prompt`` part of a multipart one."""
    if "json" in (headers.get("content-type") or ""):
        try:
            return json.loads(body).get("prompt")
        except (ValueError, AttributeError):
            return None
    m = re.search(rb'name="prompt"\r\n\r\n(.*?)\r\n--', body, re.S)
    return m.group(1).decode() if m else None


class Recorder:
    """Every image request the simulator answers: its prompt, when it arrived, its status (or ``dropped``) and
    the ``retry-after-ms`` it was told. Wraps ``sim.handle``, the one entry point both transports call."""

    def __init__(self, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str | None, float, int | str, str | None]] = []
        self.lock = threading.Lock()
        original = sim.handle

        def handle(method, path, headers, body, origin):
            at = time.monotonic()
            reply = original(method, path, headers, body, origin)
            if "/images/" in path:
                status = "dropped" if reply.drop else reply.status
                with self.lock:
                    self.calls.append((prompt_of(headers, body), at, status, reply.headers.get("retry-after-ms")))
            return reply

        monkeypatch.setattr(sim, "handle", handle)

    def per_prompt(self) -> Counter[str | None]:
        return Counter(prompt for prompt, *_ in self.calls)

    def statuses(self, prompt: str) -> list[int | str]:
        return [status for p, _, status, _ in self.calls if p == prompt]


def store_rows(kit: Kit) -> list[sqlite3.Row]:
    """The store's image rows, oldest first (read with a connection of our own)."""
    with closing(sqlite3.connect(kit.store.db_path)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM images WHERE kind = 'image' ORDER BY id").fetchall()


@contextmanager
def kit_on(sim: Simulator, **options: Any):
    with Kit(simulator=sim, quiet=True, **options) as kit:
        yield kit


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=3)


@pytest.fixture
def kit(sim):
    with kit_on(sim) as kit:
        yield kit


# -- 1. inputs ---------------------------------------------------------------------------------------------------

def test_every_kind_of_input_with_common_arguments(kit, sim):
    prompt = Prompt(subject="a lighthouse", lighting="golden hour")
    given = ["a fox", {"prompt": "an owl", "quality": "medium"}, kit.request("generate", prompt="a heron", **FAST),
             prompt]
    result = kit.generate_many(given, progress=False, **FAST)
    assert isinstance(result, ManyResult) and len(result) == 4 and not result.errors
    assert [o.source for o in result] == ["api"] * 4 and sent(sim, GENERATIONS) == 4 == result.sent
    assert [o.request.params["quality"] for o in result] == ["low", "medium", "low", "low"]  # a dict's own value wins
    assert result[3].request.prompt == prompt.render(model=kit.model) != ""
    assert [o.given for o in result] == given
    assert [img.prompt for img in result.images] == [o.request.prompt for o in result]


def test_a_single_prompt_dict_request_or_prompt_object_is_a_batch_of_one(kit, sim):
    assert len(kit.generate_many("a fox", progress=False, **FAST)) == 1
    assert len(kit.generate_many({"prompt": "an owl"}, progress=False, **FAST)) == 1
    assert len(kit.generate_many(kit.request("generate", prompt="a wren", **FAST), progress=False)) == 1
    assert len(kit.generate_many(Prompt(subject="a heron"), progress=False, **FAST)) == 1
    assert sent(sim) == 4


def test_invalid_requests_are_reported_and_never_sent(kit, sim):
    given = ["a fox", {"prompt": "an owl", "quality": "bogus"}, 42, {"prompt": "a wren", "stream": True},
             kit.request("edit", image=png_bytes(), prompt="an edit"), "a heron"]
    result = kit.generate_many(given, progress=False, **FAST)
    assert [o.source for o in result] == ["api", "invalid", "invalid", "invalid", "invalid", "api"]
    assert sent(sim) == 2 == result.sent  # only the valid ones
    bad_quality, not_a_request, stream, edit = (result[i].error for i in (1, 2, 3, 4))
    assert isinstance(bad_quality, InvalidRequest) and bad_quality.param == "quality"
    assert "int" in str(not_a_request)
    assert "stream" in str(stream)
    assert "edit" in str(edit) and "generate_many" in str(edit)
    assert all(result[i].reason().startswith("invalid, not sent") for i in (1, 2, 3, 4))
    assert all(result[i].attempts == 0 and result[i].request is None for i in (1, 2, 3, 4))
    assert [o.index for o in result.errors] == [1, 2, 3, 4]


def test_every_request_is_validated_before_the_first_is_sent(kit, sim):
    """The items come from a generator that notes, as each is taken, how many requests the simulator has seen:
    none, up to the (invalid) last one; only then does anything go out."""
    seen_at_each_item: list[int] = []

    def items():
        for item in ["a fox", "an owl", "a heron", {"prompt": "a wren", "size": "10x10"}]:
            seen_at_each_item.append(sent(sim))
            yield item
        seen_at_each_item.append(sent(sim))

    result = kit.generate_many(items(), progress=False, **FAST)
    assert seen_at_each_item == [0, 0, 0, 0, 0]
    assert [o.source for o in result] == ["api", "api", "api", "invalid"] and sent(sim) == 3
    assert result[3].error.param == "size"


def test_an_invalid_batch_is_refused_whole_before_the_budget_too(sim):
    """Validation, then the budget: a batch whose valid part is over budget sends nothing, invalid or not."""
    with kit_on(sim, budget=0.0) as kit, pytest.raises(BudgetExceeded):
        kit.generate_many(["a fox", {"prompt": "x", "quality": "bogus"}], progress=False, **FAST)
    assert sent(sim) == 0


def test_edit_many_with_dicts_and_with_a_common_image(kit, sim):
    photo, other = png_bytes(color=(10, 120, 200)), png_bytes(color=(240, 200, 10))
    result = kit.edit_many([{"image": photo, "prompt": "add a hat"}, {"image": other, "prompt": "add a scarf",
                                                                       "mask": mask_bytes()}], progress=False, **FAST)
    assert [o.source for o in result] == ["api", "api"] and sent(sim, EDITS) == 2
    common = kit.edit_many(["add a moon", "add a sun"], image=photo, progress=False, **FAST)
    assert [o.source for o in common] == ["api", "api"] and sent(sim, EDITS) == 4
    assert [img.prompt for img in common.images] == ["add a moon", "add a sun"]
    refused = kit.edit_many(["no image here"], progress=False, **FAST)
    assert refused[0].source == "invalid" and "image" in str(refused[0].error) and sent(sim) == 4
    generate_request = kit.request("generate", prompt="a fox")
    wrong = kit.edit_many([generate_request], progress=False)
    assert wrong[0].source == "invalid" and "edit_many" in str(wrong[0].error) and sent(sim) == 4


# -- 2. outcomes in input order, and how a batch shows itself ------------------------------------------------

def test_outcomes_are_in_input_order_when_answers_arrive_out_of_order(monkeypatch):
    sim = Simulator(seed=5, latency=(0.0, 0.3))
    recorder = Recorder(sim, monkeypatch)
    prompts = [f"a lighthouse #{i}" for i in range(12)]
    with kit_on(sim) as kit:
        result = kit.generate_many(prompts, concurrency=12, progress=False, **FAST)
        finished = [row["prompt"] for row in store_rows(kit)]  # the store's rows: in the order answers came back
    assert finished != prompts and sorted(finished) == sorted(prompts)  # they did come back out of order
    assert [o.index for o in result] == list(range(12))
    assert [o.request.prompt for o in result] == prompts
    assert [img.prompt for img in result.images] == prompts
    assert len(recorder.calls) == 12


def test_repr_summary_and_html(kit, sim):
    result = kit.generate_many(["a fox", "an owl", "a moderation-test poster", {"prompt": "x", "quality": "bogus"}],
                               progress=False, quality="low", size="1024x1024")  # png: real thumbnails
    assert len(result.images) == 2 and [o.index for o in result.errors] == [2, 3]
    summary = result.summary()
    assert summary.startswith("4 requests → 2 images, 2 made, 1 invalid, 1 failed (1 by moderation)")
    assert "3 sent" in summary and "$" in summary
    assert repr(result) == f"ManyResult({summary})"
    page = result._repr_html_()
    assert page.count("<img") == 2 and page.count("data:image/") == 2
    assert page.count("<figcaption") == 2
    assert "4 requests → 2 images" in page
    assert "#2: blocked by moderation at the input stage (violence)" in page
    assert "#3: invalid, not sent: quality=" in page
    assert result.counts() == {"api": 2, "store": 0, "invalid": 1, "failed": 1, "not sent": 0, "moderation": 1}
    assert result.cost is not None and result.cost == pytest.approx(sum(o.cost for o in result if o.ok))


def test_a_batch_of_nothing(kit, sim):
    result = kit.generate_many([], progress=False)
    assert len(result) == 0 and result.summary().startswith("0 requests → 0 images") and sent(sim) == 0
    assert result.retry_failed() is result


# -- 5. the cache -------------------------------------------------------------------------------------------

PROMPTS = ["a red fox", "a grey owl", "a blue heron"]


def test_running_the_same_batch_again_sends_nothing(kit, sim):
    first = kit.generate_many(PROMPTS, progress=False, **FAST)
    assert sent(sim) == 3
    again = kit.generate_many(PROMPTS, progress=False, **FAST)
    assert sent(sim) == 3 and again.sent == 0
    assert [o.source for o in again] == ["store"] * 3 and again.cost == 0
    assert all(img.source == "store" and "from the store" in img.caption() for img in again.images)
    assert [img.bytes for img in again.images] == [img.bytes for img in first.images]
    assert [img.stored_at for img in again.images] == [img.stored_at for img in first.images]
    assert "3 from the store" in again.summary() and len(store_rows(kit)) == 3


def test_fresh_sends_again(kit, sim):
    kit.generate_many(PROMPTS, progress=False, **FAST)
    again = kit.generate_many(PROMPTS, progress=False, fresh=True, **FAST)
    assert sent(sim) == 6 and [o.source for o in again] == ["api"] * 3 and len(store_rows(kit)) == 6


def test_a_kit_without_cache_sends_again(sim):
    with kit_on(sim) as kit:
        kit.generate_many(PROMPTS, progress=False, **FAST)
    with kit_on(sim, cache=False) as kit:
        again = kit.generate_many(PROMPTS, progress=False, **FAST)
        assert kit.generate(PROMPTS[0], **FAST).source == "api"
    assert sent(sim) == 7 and [o.source for o in again] == ["api"] * 3


def test_repeats_in_a_batch_are_takes_of_their_own(kit, sim):
    """Four of one prompt want four answers: each is sent (takes 0-3, keys of their own), each re-runs from its
    own row. (The simulator draws the same picture for equal requests, so the bytes may be equal; the API's
    would differ.)"""
    result = kit.generate_many(["a cat"] * 4 + ["a dog"], progress=False, **FAST)
    assert sent(sim) == 5 and [o.source for o in result] == ["api"] * 5
    assert [o.request.take for o in result] == [0, 1, 2, 3, 0]
    assert len({o.request.key for o in result}) == 5
    rows = store_rows(kit)
    assert len(rows) == 5 and len({r["request_key"] for r in rows}) == 5
    again = kit.generate_many(["a cat"] * 4 + ["a dog"], progress=False, **FAST)
    assert sent(sim) == 5 and [o.source for o in again] == ["store"] * 5
    assert [img.stored_at for img in again.images] == [img.stored_at for img in result.images]
    more = kit.generate_many(["a cat"] * 6, progress=False, **FAST)  # two more takes than stored: two sent
    assert [o.source for o in more] == ["store"] * 4 + ["api"] * 2 and sent(sim) == 7


def test_a_take_set_by_hand_never_shares_a_key_with_a_repeat(kit, sim):
    request = kit.request("generate", prompt="a cat", **FAST)
    result = kit.generate_many([request, request, dataclasses.replace(request, take=1), request], progress=False)
    assert sorted(o.request.take for o in result) == [0, 1, 2, 3] and len({o.request.key for o in result}) == 4
    assert sent(sim) == 4


def test_single_calls_are_answered_from_the_store(kit, sim):
    batch = kit.generate_many(["a red fox"], progress=False, **FAST)
    single = kit.generate("a red fox", **FAST)  # the batch's first take has the single call's key
    assert single.source == "store" and single.bytes == batch.images[0].bytes and sent(sim) == 1
    photo = png_bytes(color=(30, 160, 90))
    edited = kit.edit(photo, "add a hat", **FAST)
    again = kit.edit(photo, "add a hat", **FAST)
    assert (edited.source, again.source) == ("api", "store") and sent(sim, EDITS) == 1
    varied = kit.vary(photo, **FAST)
    assert kit.vary(photo, **FAST).source == "store" and varied.source == "api" and sent(sim) == 3
    assert kit.generate("a red fox", fresh=True, **FAST).source == "api" and sent(sim) == 4


def test_async_single_calls_are_answered_from_the_store(kit, sim):
    first = asyncio.run(kit.agenerate("a red fox", **FAST))
    second = asyncio.run(kit.agenerate("a red fox", **FAST))
    assert (first.source, second.source) == ("api", "store") and sent(sim) == 1


def test_a_stream_from_the_store_yields_the_final_images(kit, sim):
    streamed = list(kit.generate("a red fox", stream=True, partial_images=2, quality="low"))
    assert [r.partial for r in streamed] == [0, 1, None] and sent(sim) == 1
    again = list(kit.generate("a red fox", stream=True, partial_images=2, quality="low"))
    assert sent(sim) == 1 and len(again) == 1
    assert again[0].partial is None and again[0].source == "store" and again[0].bytes == streamed[-1].bytes


def test_input_images_and_masks_enter_the_key_by_their_bytes(kit, sim):
    red, blue = png_bytes(color=(200, 0, 0)), png_bytes(color=(0, 0, 200))
    key = lambda image, mask=None: kit.request("edit", image=image, prompt="add a hat", mask=mask).key  # noqa: E731
    assert key(red) == key(bytes(red)) and key(red) != key(blue)
    assert key(red, mask_bytes()) == key(red, mask_bytes())
    assert key(red, mask_bytes()) != key(red, mask_bytes(box=(0, 0, 8, 8))) != key(red)
    first = kit.edit_many([{"image": red, "prompt": "add a hat"}, {"image": blue, "prompt": "add a hat"}],
                          progress=False, **FAST)
    again = kit.edit_many([{"image": bytes(red), "prompt": "add a hat"}, {"image": png_bytes(color=(0, 200, 0)),
                                                                         "prompt": "add a hat"}],
                          progress=False, **FAST)
    assert [o.source for o in first] == ["api", "api"] and [o.source for o in again] == ["store", "api"]
    assert sent(sim, EDITS) == 3


# -- 7. the budget -------------------------------------------------------------------------------------------

def test_a_batch_that_would_cross_the_budget_is_refused_and_nothing_is_sent(sim):
    prompts = [f"a lighthouse #{i}" for i in range(10)]
    with kit_on(sim) as probe:
        estimate = probe.estimate_many(prompts, **FAST)
    assert estimate.high and estimate.high > 0
    with kit_on(sim, budget=estimate.high * 0.5) as kit:
        with pytest.raises(BudgetExceeded) as refused:
            kit.generate_many(prompts, progress=False, **FAST)
        assert "nothing was sent" in str(refused.value) and refused.value.estimate == pytest.approx(estimate.high)
        assert sent(sim) == 0 and store_rows(kit) == [] and kit.spend()["today"] == 0


def test_a_batch_within_the_budget_runs_and_its_spend_survives_a_new_kit(sim):
    prompts = [f"a lighthouse #{i}" for i in range(6)]
    with kit_on(sim) as probe:
        estimate = probe.estimate_many(prompts, **FAST)
    budget = estimate.high * 1.5  # room for this batch, not for a second one like it
    with kit_on(sim, budget=budget) as kit:
        result = kit.generate_many(prompts, progress=False, **FAST)
        assert [o.source for o in result] == ["api"] * 6 and result.cost and result.cost > 0
        spend = kit.spend()
        assert spend["today"] == pytest.approx(result.cost) == pytest.approx(spend["session"])
        assert spend["budget"] == budget and spend["left"] == pytest.approx(budget - result.cost)
        assert result.cost == pytest.approx(sum(img.cost for img in result.images))
        assert sent(sim) == 6
    with kit_on(sim, budget=budget) as restarted:  # a restarted kernel: same store, new session
        spend = restarted.spend()
        assert spend["today"] == pytest.approx(result.cost) and spend["session"] == 0
        with pytest.raises(BudgetExceeded):
            restarted.generate_many([f"a harbour #{i}" for i in range(6)], progress=False, **FAST)
        assert sent(sim) == 6
        again = restarted.generate_many(prompts, progress=False, **FAST)  # from the store: nothing to pay
        assert [o.source for o in again] == ["store"] * 6 and sent(sim) == 6
        assert restarted.spend()["today"] == pytest.approx(result.cost)


def test_a_single_generate_over_the_budget_is_refused(sim):
    with kit_on(sim, budget=0.0) as kit:
        with pytest.raises(BudgetExceeded):
            kit.generate("a red fox", **FAST)
        with pytest.raises(BudgetExceeded):
            asyncio.run(kit.agenerate("a red fox", **FAST))
        with pytest.raises(BudgetExceeded):
            list(kit.generate("a red fox", stream=True, quality="low"))
        assert sent(sim) == 0 and kit.spend()["today"] == 0


# -- 9. sync inside a running loop; the async twins -----------------------------------------------------------

def test_a_sync_batch_inside_a_running_event_loop(kit, sim, monkeypatch):
    """As in Jupyter, where a loop is already running: the sync call runs its batch in a helper thread."""
    threads: set[str] = set()
    original = sim.handle

    def handle(*args):
        threads.add(threading.current_thread().name)
        return original(*args)

    monkeypatch.setattr(sim, "handle", handle)

    async def cell() -> ManyResult:
        assert asyncio.get_running_loop() is not None
        return kit.generate_many(PROMPTS, progress=False, **FAST)

    result = asyncio.run(cell())
    assert [o.source for o in result] == ["api"] * 3 and sent(sim) == 3
    assert threads and threading.current_thread().name not in threads  # answered on the helper thread's loop

    async def cell_again() -> ManyResult:
        return kit.generate_many(PROMPTS + ["a moderation-test poster"], progress=False, **FAST).retry_failed()

    again = asyncio.run(cell_again())
    assert [o.source for o in again] == ["store"] * 3 + ["failed"] and sent(sim) == 4


def test_the_async_twins(kit, sim):
    photo = png_bytes(color=(30, 160, 90))

    async def main() -> tuple[ManyResult, ManyResult]:
        return await asyncio.gather(kit.agenerate_many(PROMPTS, progress=False, **FAST),
                                    kit.aedit_many(["add a hat", "add a scarf"], image=photo, progress=False, **FAST))

    generated, edited = asyncio.run(main())
    assert [o.source for o in generated] == ["api"] * 3 and [o.source for o in edited] == ["api"] * 2
    assert sent(sim, GENERATIONS) == 3 and sent(sim, EDITS) == 2
    again = asyncio.run(kit.agenerate_many(PROMPTS, progress=False, **FAST))
    assert [o.source for o in again] == ["store"] * 3 and sent(sim) == 5


def test_bad_options_are_refused_before_anything(kit, sim):
    from dalle_kit import InvalidArgument

    for options in ({"concurrency": 0}, {"retries": -1}, {"deadline": 0}, {"images_per_minute": -5},
                    {"concurrency": True}):
        with pytest.raises(InvalidArgument):
            kit.generate_many(PROMPTS, progress=False, **options)
    assert sent(sim) == 0


# -- 10. the progress bar -------------------------------------------------------------------------------------

def test_no_progress_prints_nothing(kit, sim, capsys):
    kit.generate_many(PROMPTS + ["a moderation-test poster"], progress=False, **FAST)
    assert capsys.readouterr() == ("", "")


def test_progress_shows_done_failed_retrying_and_spend(kit, sim, capsys):
    result = kit.generate_many(PROMPTS + ["a moderation-test poster", {"prompt": "x", "quality": "bogus"}], **FAST)
    out, err = capsys.readouterr()
    assert out == ""
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "generate ×5" in final and "5/5" in final
    assert "done 3, failed 2, retrying 0" in final
    assert f"spend ${result.cost:.3f}" in final


def test_progress_shows_a_retry_while_it_waits(capsys):
    flaky = Simulator(seed=1, fail={429: 0.3})  # seed 1: the first request meets a 429, its retry does not
    with kit_on(flaky) as kit:
        result = kit.generate_many(["a fox"], **FAST)
    assert result[0].attempts == 2
    err = capsys.readouterr().err
    assert "done 0, failed 0, retrying 1" in err and "done 1, failed 0, retrying 0" in err


# -- 11. retry_failed ---------------------------------------------------------------------------------------------

def test_retry_failed_sends_only_what_failed_or_was_not_sent(monkeypatch):
    """A batch meets moderation, then the account runs out of credit (the rest is not sent); once credit is
    back, retry_failed sends the failed and the unsent only, never the refused or the invalid, and merges."""
    sim = Simulator(seed=2)
    recorder = Recorder(sim, monkeypatch)
    original = sim.handle

    def out_of_credit_after_the_first(*args):
        reply = original(*args)
        if len(recorder.calls) == 1:  # once: the test gives the credit back below
            sim.account = "insufficient_quota"
        return reply

    monkeypatch.setattr(sim, "handle", out_of_credit_after_the_first)
    given = ["a moderation-test poster", {"prompt": "x", "quality": "bogus"}, "a fox", "an owl", "a heron"]
    with kit_on(sim) as kit:
        first = kit.generate_many(given, concurrency=1, progress=False, **FAST)
        assert [o.source for o in first] == ["failed", "invalid", "failed", "not sent", "not sent"]
        assert first[0].moderation == {"stage": "input", "categories": ["violence"]}
        assert "quota" in str(first[2].error) and first[3].reason().startswith("not sent (")
        assert "2 not sent" in first.summary()
        sim.account = "ok"
        retried = first.retry_failed()
    assert [o.source for o in retried] == ["failed", "invalid", "api", "api", "api"]
    assert [o.index for o in retried] == [0, 1, 2, 3, 4] and retried[0] is first[0] and retried[1] is first[1]
    assert [img.prompt for img in retried.images] == ["a fox", "an owl", "a heron"]
    assert recorder.per_prompt() == {"a moderation-test poster": 1, "a fox": 2, "an owl": 1, "a heron": 1}
    assert retried.sent == first.sent + 3 == 5
    assert retried.retry_failed() is retried  # nothing left worth sending


def test_on_outcome_hears_each_sent_request_as_it_ends_and_cannot_break_the_batch():
    heard: list[tuple[int, str]] = []
    sim = Simulator(seed=1)
    with kit_on(sim) as kit:
        kit.generate_many(["a fox"], progress=False, **FAST)  # from the store next time: not "heard"
        result = kit.generate_many(["a fox", "a hen", "a cow", "moderation-test owl"], progress=False,
                                   on_outcome=lambda o: heard.append((o.index, o.source)), **FAST)
        assert sorted(heard) == [(1, "api"), (2, "api"), (3, "failed")]

        def broken(_outcome):
            raise RuntimeError("the view is gone")

        with pytest.warns(UserWarning, match="on_outcome failed .* the batch goes on"):
            again = kit.generate_many(["a yak", "an elk"], progress=False, on_outcome=broken, **FAST)
    assert [o.source for o in result] == ["store", "api", "api", "failed"]
    assert [o.source for o in again] == ["api", "api"]
