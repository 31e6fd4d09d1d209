"""Live smoke test of the Images API through dalle_kit (issue 14): skipped unless ``DALLE_KIT_LIVE=1`` and
``OPENAI_API_KEY`` are set (``DALLE_KIT_LIVE=sim``: the same tests on the offline simulator).

One low-quality generation per current model (from the registry), one masked edit, one streamed generation, one
bad request refused before sending, one Batch job of two images (submitted; collected later), and the spend:
under $0.10 by the price table, refused before sending otherwise (see ``conftest.py``).
"""

from __future__ import annotations

import pytest

import dalle_kit
from dalle_kit import ImageResult, Kit, costs, registry
from dalle_kit.request import Request

from . import support
from .conftest import Sends

pytestmark = pytest.mark.skipif(support.MODE is None, reason=support.SKIP_REASON)


def _by_model(plan: support.Plan, model: str) -> Request:
    return next(r for r in plan.generations if r.model == model)


def test_a_bad_request_is_refused_before_sending(kit: Kit, sends: Sends, ledger: support.Ledger) -> None:
    before, spent = len(sends), kit.spend()["session"]
    sim_before = kit.simulator.stats()["total"] if kit.simulator is not None else None
    with pytest.raises(dalle_kit.InvalidRequest, match="1000x1000") as caught:
        kit.generate("dalle_kit live smoke test: never sent", size="1000x1000", quality="low")
    assert len(sends) == before, f"a refused request reached the network: {sends.seen[before:]}"
    assert kit.spend()["session"] == spent
    if kit.simulator is not None:
        assert kit.simulator.stats()["total"] == sim_before
    ledger.add("bad request (size=1000x1000)", 0.0, f"refused before sending: {str(caught.value)[:60]}…")


def test_the_cap_refuses_a_costlier_suite(plan: support.Plan, sends: Sends) -> None:
    """The guard that ran before this session sent anything refuses a suite whose worst case passes the cap, or
    is unknown (a model without a price)."""
    before = len(sends)
    worst = plan.worst_case()
    assert worst.known and worst.high is not None and worst.high <= support.CAP
    assert support.refusal(worst) is None
    assert "over its cap" in (support.refusal(worst, cap=worst.high / 2) or "")
    unknown = costs.estimate(plan.generations[0]) + costs.Estimate(None, None, 1, ("x",), 1, ("no price for x",))
    assert "unknown" in (support.refusal(unknown) or "")
    assert len(sends) == before


@pytest.mark.parametrize("model", support.current_models())
def test_one_low_quality_image_per_current_model(model: str, kit: Kit, plan: support.Plan,
                                                 ledger: support.Ledger) -> None:
    spec = registry.get(model)
    assert spec is not None and spec.status() == "current"
    request = _by_model(plan, model)
    result = kit.run(request, fresh=True)
    assert isinstance(result, ImageResult) and result.source == "api"
    assert (result.width, result.height) == (1024, 1024)
    assert result.pil.size == (1024, 1024)
    ledger.add(f"generate {model} (low, 1024x1024)", result.cost, f"estimate {costs.estimate(request)}")
    assert result.cost is not None, f"no cost: usage {result.usage}"


def test_a_masked_edit(kit: Kit, plan: support.Plan, ledger: support.Ledger) -> None:
    result = kit.run(plan.edit, fresh=True)
    assert isinstance(result, ImageResult) and result.source == "api"
    assert (result.width, result.height) == (1024, 1024)
    assert result.pil.size == (1024, 1024)
    ledger.add(f"masked edit {plan.edit.model} (low)", result.cost, f"estimate {costs.estimate(plan.edit)}")
    assert result.cost is not None, f"no cost: usage {result.usage}"


def test_a_streamed_generation(kit: Kit, plan: support.Plan, ledger: support.Ledger) -> None:
    stream = kit.run(plan.stream, fresh=True)
    assert not isinstance(stream, ImageResult | dalle_kit.ImageSet)
    events = list(stream)
    finals = [e for e in events if e.partial is None]
    assert len(finals) == 1 and (finals[0].width, finals[0].height) == (1024, 1024)
    previews = len(events) - 1
    assert previews <= 1  # partial_images=1: the API may send fewer previews when the image is fast
    # Previews carry no cost of their own: the completed event's usage covers the whole call, previews included
    spent = finals[0].cost
    ledger.add(f"streamed generate {plan.stream.model} (low, 1 preview asked, {previews} came)", spent,
               f"estimate {costs.estimate(plan.stream)}")
    assert spent is not None, f"no cost: usage {finals[0].usage}"


def test_a_batch_job_of_two_images(kit: Kit, plan: support.Plan, sends: Sends, ledger: support.Ledger) -> None:
    before = len(sends)
    job = kit.batch(plan.batch, fresh=True)
    assert job.id is not None and [o.source for o in job.outcomes] == ["not sent", "not sent"]
    assert sends.seen[before:] == ["POST /v1/files", "POST /v1/batches"]
    estimate = costs.estimate_many(plan.batch, batch=True)
    base = f"OPENAI_BASE_URL={support.BASE_URL} " if support.BASE_URL else ""
    later = f"OPENAI_API_KEY=sk-... {base}DALLE_KIT_HOME={kit.store.home} dalle-kit batch collect {job.id}"
    if support.MODE == "live":  # it may take up to 24 h: submitted, its cost comes when it completes
        ledger.pending += estimate.high or 0.0
        ledger.add("batch job of 2 (submitted)", 0.0, f"{job.id} is {job.status}, estimate {estimate}; "
                   f"collect it later with: {later}")
        return
    collected = job.collect(poll=0.05, timeout=60, progress=False)  # the simulator finishes in moments
    assert [o.source for o in collected] == ["api", "api"], collected.summary()
    assert all(img.size == "1024x1024" for img in collected.images)
    ledger.add("batch job of 2 (collected)", collected.cost, f"id {job.id}; estimate {estimate}")
    assert collected.cost is not None


def test_what_it_spent_stays_under_the_cap(kit: Kit, ledger: support.Ledger) -> None:
    total = ledger.total
    print(f"\n[live:{support.MODE}] total spent {costs.usd(total)}"
          + (f", plus up to {costs.usd(ledger.pending)} for the Batch job when it completes" if ledger.pending
             else "") + f" (cap {costs.usd(support.CAP)}; the store's ledger: {costs.usd(kit.spend()['session'])})",
          flush=True)
    assert total is not None
    assert total + ledger.pending <= support.CAP
    # What the kit wrote in its spend ledger is what the answers cost (the Batch lines, collected, included)
    assert kit.spend()["session"] == pytest.approx(total, abs=1e-9)
