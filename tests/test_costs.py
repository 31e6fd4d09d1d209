"""dalle_kit.costs: the sourced price table, overrides, estimates against the simulator's usage, cost, budget."""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from openai.types.images_response import Usage
from PIL import Image

from dalle_kit import Kit, costs, price_table, registry, validate
from dalle_kit.errors import BudgetExceeded, InvalidArgument
from dalle_kit.request import Request, Upload

TABLE = json.loads(resources.files("dalle_kit").joinpath("prices.json").read_text(encoding="utf-8"))
PRICED = ("gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst-2026-09-08",
          "gpt-image-2.6-sunburst", "gpt-image-2.6-flare")
UNPRICED = ("gpt-image-1.5", "gpt-image-1.5-2025-12-16", "chatgpt-image-latest", "dall-e-3", "dall-e-2")
TINY = 1e-12  # float noise between summing per-image dollars and pricing summed tokens


@pytest.fixture(autouse=True)
def fresh_prices(monkeypatch):
    monkeypatch.delenv(costs.ENV, raising=False)
    costs.reset_prices()
    yield
    costs.reset_prices()


def request(model="gpt-image-2", prompt="a lighthouse at dusk", **params) -> Request:
    return Request("generate", model, {"prompt": prompt, **params})


def upload(w: int, h: int) -> Upload:
    return Upload(name="x.png", mimetype="image/png", data=b"", width=w, height=h, mode="RGBA")


def covers(est: costs.Estimate, actual: float | None) -> bool:
    assert est.known and est.low is not None and est.high is not None and actual is not None
    return est.low - TINY <= actual <= est.high + TINY


# --- the table -----------------------------------------------------------------------------------------------------

def test_every_table_entry_and_fact_has_a_source_a_date_and_a_confidence():
    facts = [TABLE[k] for k in ("batch_discount", "partial_image_tokens", "output_tokens")] + list(
        TABLE["models"].values())
    for fact in facts:
        assert fact["source"].strip()
        assert dt.date.fromisoformat(fact["as_of"]) <= dt.date(2026, 11, 23)
        assert fact["confidence"] in price_table.CONFIDENCE
    for model, entry in TABLE["models"].items():
        assert set(price_table.RATES) <= set(entry), model  # every rate is stated, if only as null (unknown)
        priced = any(entry[r] is not None for r in price_table.RATES)
        assert (entry["confidence"] == "none") == (not priced), model


def test_the_table_covers_every_registry_model_directly_or_through_its_snapshot():
    for model in registry.model_ids():
        spec = registry.get(model)
        assert model in TABLE["models"] or (spec is not None and spec.snapshot_of in TABLE["models"]), model


def test_prices_are_the_published_figures():
    one = costs.price("gpt-image-1")
    assert one is not None and one.confidence == "official"
    assert (one.text_in, one.text_in_cached, one.image_in, one.image_in_cached, one.image_out) == (5, 1.25, 10, 2.5, 40)
    assert one.per_image["high"]["1536x1024"] == 0.25 and one.per_image["low"]["1024x1024"] == 0.011
    mini = costs.price("gpt-image-1-mini")
    assert mini is not None and (mini.text_in, mini.image_in, mini.image_out) == (2, 2.5, 8)
    sunburst = costs.price("gpt-image-2.6-sunburst")
    assert sunburst is not None and sunburst.confidence == "official" and sunburst.image_in_cached == 2.0
    flare = costs.price("gpt-image-2.5-flare")
    assert flare is not None and flare.confidence == "relayed" and flare.image_out == 30 and flare.text_out is None
    assert flare.as_of == dt.date(2026, 9, 9) and "apidog" in flare.source
    assert costs.batch_discount() == 0.5


def test_unknown_models_have_no_price_and_an_unknown_estimate_and_cost():
    usage = {"input_tokens": 10, "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}, "output_tokens": 272}
    for model in (*UNPRICED, "gpt-image-9", ""):
        assert costs.price(model) is None
        assert costs.cost(model, usage) is None
        est = costs.estimate(request(model))
        assert not est.known and est.low is None and est.high is None and est.unknown_models == (model,)
        assert str(est) == f"unknown (no published price for {model})"
    assert costs.price(None) is None  # type: ignore[arg-type]


def test_a_snapshot_id_uses_its_models_prices():
    assert costs.price("gpt-image-2.5-flare-2026-09-08") == costs.price("gpt-image-2.5-flare")
    assert costs.price("gpt-image-2-2026-04-21") == costs.price("gpt-image-2")
    assert costs.estimate(request("gpt-image-2-2026-04-21")) == costs.estimate(request("gpt-image-2"))


# --- cost from usage -----------------------------------------------------------------------------------------------

def test_cost_from_real_simulator_usage():
    with Kit(offline=True, quiet=True) as kit:
        result = kit.generate("a lighthouse at dusk", model="gpt-image-2", size="1024x1024", quality="low")
    usage = result.usage
    assert usage is not None and usage["output_tokens"] == 272  # gpt-image-1's relayed table, as the simulator has it
    text = usage["input_tokens_details"]["text_tokens"]
    assert costs.cost("gpt-image-2", usage) == pytest.approx(text * 5 / 1e6 + 272 * 30 / 1e6)
    assert costs.cost("gpt-image-2", usage, batch=True) == pytest.approx((text * 5 + 272 * 30) / 2e6)
    assert costs.cost("gpt-image-2", Usage(**usage)) == costs.cost("gpt-image-2", usage)  # the SDK's own object


def test_cost_prices_each_kind_of_token_and_refuses_what_it_cannot_price():
    usage = {"input_tokens": 1300, "output_tokens": 1000,
             "input_tokens_details": {"text_tokens": 300, "image_tokens": 1000,
                                      "cached_tokens_details": {"text_tokens": 100, "image_tokens": 400}},
             "output_tokens_details": {"image_tokens": 1000, "text_tokens": 0}}
    expected = (200 * 5 + 100 * 1.25 + 600 * 10 + 400 * 2.5 + 1000 * 40) / 1e6
    assert costs.cost("gpt-image-1", usage) == pytest.approx(expected)
    bare = {**usage, "input_tokens_details": {"text_tokens": 300, "image_tokens": 1000, "cached_tokens": 350}}
    assert costs.cost("gpt-image-1", bare) == pytest.approx((1 * 1.25 * 300 + 50 * 2.5 + 950 * 10 + 40_000) / 1e6)
    assert costs.cost("gpt-image-2.5-flare", usage) is None  # its cached rates are unknown
    with_text_out = {**usage, "output_tokens_details": {"image_tokens": 900, "text_tokens": 100}}
    assert costs.cost("gpt-image-1", with_text_out) is None  # no text-out price is published
    assert costs.cost("gpt-image-1", None) is None
    assert costs.cost("gpt-image-1", {"output_tokens": 5}) is None
    assert costs.cost("gpt-image-1", {"input_tokens": 5, "output_tokens": 5}) is None  # no text/image split
    assert costs.cost("gpt-image-1", {"input_tokens": 0, "output_tokens": 1000}) == pytest.approx(0.04)


# --- estimates against the simulator -------------------------------------------------------------------------------

WORDS = st.sampled_from(["a cat", "portrait of a fox", "a wide landscape", "tall tower", "猫の絵", "ok", "x" * 300])


@st.composite
def calls(draw):
    """A generation (no input images) or an edit (1-2 plain images) on a priced model, with sizes, qualities and
    n the model takes; the simulator answers each with its own usage."""
    model = draw(st.sampled_from(PRICED))
    spec = registry.get(model)
    assert spec is not None
    fixed = st.sampled_from((*spec.sizes.fixed, "auto"))
    free = st.builds(lambda w, h: f"{16 * w}x{16 * h}", st.integers(28, 80), st.integers(28, 80))
    size = draw(st.one_of(fixed, free, st.none()))
    assume(size is None or spec.sizes.problem(size) is None)
    quality = draw(st.sampled_from([q for q in spec.qualities if q in ("low", "medium", "high", "auto")] + [None]))
    images = draw(st.lists(st.tuples(st.integers(8, 64), st.integers(8, 64)), max_size=2))
    fidelity = draw(st.sampled_from((None, *spec.input_fidelity))) if images else None
    prompt = (draw(WORDS) + draw(st.text())).strip() or "a cat"
    assume("\x00" not in prompt)
    return model, [(16 * w, 16 * h) for w, h in images], prompt, dict(
        size=size, quality=quality, n=draw(st.integers(1, 2)), input_fidelity=fidelity)


def test_the_estimate_covers_the_simulators_usage():
    with Kit(offline=True, quiet=True) as kit:
        @given(calls())
        def check(call):
            model, sizes, prompt, params = call
            images = [Image.new("RGB", wh, (40, 90, 200)) for wh in sizes]
            if images:
                result = kit.edit(images, prompt, model=model, output_format="jpeg", **params)  # jpeg: quicker
            else:
                result = kit.generate(prompt, model=model, output_format="jpeg", **params)
            req = result.request if hasattr(result, "request") else result[0].request
            assert len(req.images) == len(images)
            assert covers(costs.estimate(req), costs.cost(model, result.usage))
            assert covers(costs.estimate(req, batch=True), costs.cost(model, result.usage, batch=True))
        check()


@pytest.mark.parametrize("partials", [1, 3])
def test_the_estimate_covers_streamed_partial_images(partials):
    with Kit(offline=True, quiet=True) as kit:
        results = list(kit.generate("a kite", model="gpt-image-2.5-flare", size="1536x1024", quality="medium", n=2,
                                    stream=True, partial_images=partials))
    finals = [r for r in results if r.partial is None]
    assert len(finals) == 2
    spent = sum(costs.cost("gpt-image-2.5-flare", r.usage) or math.nan for r in finals)
    est = costs.estimate(finals[0].request)
    assert covers(est, spent)
    without = costs.estimate(Request("generate", "gpt-image-2.5-flare",
                                     {k: v for k, v in finals[0].request.params.items() if k != "partial_images"}))
    assert est.low == pytest.approx(without.low + 2 * partials * 100 * 30 / 1e6)  # 100 tokens per partial


def test_deprecated_model_estimates_cover_the_simulator_too():
    with Kit(offline=True, quiet=True) as kit, pytest.warns(FutureWarning):
        result = kit.generate("a cat", model="gpt-image-1-mini", size="1024x1536", quality="high")
    assert covers(costs.estimate(result.request), costs.cost("gpt-image-1-mini", result.usage))


def test_where_sources_disagree_the_range_covers_both():
    text_low = math.ceil(len("a lighthouse at dusk") / 6) * 5 / 1e6
    medium = costs.estimate(request(size="1024x1024", quality="medium"))
    assert medium.low == pytest.approx(text_low + 1056 * 30 / 1e6)  # the token table
    assert medium.high is not None and medium.high >= 0.053  # the relayed calculator figure
    low = costs.estimate(request("gpt-image-1", size="1536x1024", quality="low"))
    assert low.low == pytest.approx(text_low + 400 * 40 / 1e6)  # the forum table's 1536x1024 count
    assert low.high is not None and low.high >= 408 * 40 / 1e6  # pixels scaled from 1024x1024


def test_auto_size_and_quality_span_what_the_model_can_pick():
    auto = costs.estimate(request(size="auto", quality="auto"))
    cheapest = costs.estimate(request(size="1024x1024", quality="low"))
    dearest = costs.estimate(request(size="1536x1024", quality="high"))
    assert auto.low == cheapest.low and auto.high == dearest.high
    big = Request("edit", "gpt-image-2", {"prompt": "x", "size": "auto", "quality": "low"}, images=(upload(2048, 2048),))
    small = Request("edit", "gpt-image-2", {"prompt": "x", "size": "1024x1024", "quality": "low"},
                    images=(upload(2048, 2048),))
    assert big.params["size"] == "auto" and costs.estimate(big).high > costs.estimate(small).high  # follows the image


def test_input_images_and_masks_widen_the_estimate():
    plain = costs.estimate(Request("edit", "gpt-image-2", {"prompt": "x", "size": "1024x1024", "quality": "low"}))
    one = costs.estimate(Request("edit", "gpt-image-2", {"prompt": "x", "size": "1024x1024", "quality": "low"},
                                 images=(upload(1024, 1024),)))
    masked = costs.estimate(Request("edit", "gpt-image-2", {"prompt": "x", "size": "1024x1024", "quality": "low"},
                                    images=(upload(1024, 1024),), mask=upload(1024, 1024)))
    assert one.low == pytest.approx(plain.low + 765 * 8 / 1e6)  # 85 + 170 x 4 tiles
    assert one.high == pytest.approx(plain.high + 2 * 765 * 8 / 1e6)
    assert masked.low == one.low and masked.high == pytest.approx(one.high + 765 * 8 / 1e6)


def test_qualities_without_a_published_token_count_are_unknown_until_priced():
    est = costs.estimate(request("gpt-image-2.5-flare", size="1024x1024", quality="max"))
    assert not est.known and "quality 'max'" in str(est)
    costs.set_price("gpt-image-2.5-flare", per_image={"max": {"1024x1024": 0.5}})
    est = costs.estimate(request("gpt-image-2.5-flare", size="1536x1024", quality="max"))
    assert est.known and est.high is not None and est.high > 0.75 > est.high - 0.01  # scaled by pixels


def test_n_multiplies_the_output_and_batch_halves_everything():
    one, three = costs.estimate(request(quality="high", size="1024x1024")), costs.estimate(
        request(quality="high", size="1024x1024", n=3))
    assert three.low is not None and one.low is not None and three.low > 2.9 * one.low
    batch = costs.estimate(request(quality="high", size="1024x1024", n=3), batch=True)
    assert batch.batch and batch.low == pytest.approx(three.low / 2) and batch == three.discounted(0.5)
    with pytest.raises(InvalidArgument, match="fraction"):
        three.discounted(1.5)


def test_estimate_many_sums_and_keeps_the_unknown_visible():
    reqs = [request(quality="low", size="1024x1024"), request("gpt-image-1.5"), request(quality="high"),
            request("chatgpt-image-latest")]
    total = costs.estimate_many(reqs)
    parts = [costs.estimate(r) for r in reqs]
    assert total.requests == 4 and total.unknown == 2 and not total.known
    assert total.unknown_models == ("gpt-image-1.5", "chatgpt-image-latest")
    assert total.low == pytest.approx(parts[0].low + parts[2].low) and total == sum(parts, costs.Estimate())
    assert str(total).endswith(" + 2 unknown") and str(total).startswith("$")
    assert costs.estimate_many([]) == costs.Estimate() and str(costs.Estimate()) == "$0.00"


# --- overrides -----------------------------------------------------------------------------------------------------

def test_set_price_fills_an_unknown_model_and_reset_forgets_it():
    got = costs.set_price("gpt-image-1.5", text_in=5, image_in=8, image_out=32)
    assert got is not None and got.image_out == 32 and got.confidence == "user" and got.as_of == dt.date.today()
    assert costs.price("gpt-image-1.5-2025-12-16") == got  # the snapshot follows its model
    assert costs.estimate(request("gpt-image-1.5", size="1024x1024", quality="low")).known
    costs.reset_prices()
    assert costs.price("gpt-image-1.5") is None


def test_set_price_overrides_only_the_named_rates():
    costs.set_price("gpt-image-2", image_out=60.0)
    got = costs.price("gpt-image-2-2026-04-21")
    assert got is not None and got.image_out == 60 and got.text_in == 5 and got.per_image["high"]["1024x1024"] == 0.211
    assert "set_price()" in got.source and "ai-primer" in got.source


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"image_outt": 1.0}, ["image_outt", "image_out", "text_in_cached", "per_image"]),
    ({"image_out": -1}, ["image_out", ">= 0"]),
    ({"text_in": "cheap"}, ["text_in", "'cheap'"]),
    ({"text_in": math.nan}, ["text_in"]),
    ({"text_in": True}, ["text_in"]),
    ({"per_image": {"low": {"big": 0.1}}}, ["per_image", "'big'"]),
    ({"per_image": {"low": {"1024x1024": None}}}, ["per_image", "US dollars"]),
    ({"confidence": "sure"}, ["confidence", "official, relayed, user, none"]),
    ({"as_of": "yesterday"}, ["as_of", "'yesterday'"]),
    ({}, ["at least one", "image_out"]),
])
def test_set_price_refuses_bad_names_and_values_naming_them(kwargs, words):
    with pytest.raises(InvalidArgument) as info:
        costs.set_price("gpt-image-2", **kwargs)
    for word in words:
        assert word in str(info.value)
    assert costs.price("gpt-image-2") == costs.price("gpt-image-2-2026-04-21")
    assert costs.price("gpt-image-2").image_out == 30  # nothing half-applied


def test_set_price_refuses_a_bad_model():
    with pytest.raises(InvalidArgument, match="model"):
        costs.set_price("", image_out=1.0)


def test_a_prices_file_merges_over_the_table_and_set_price_over_it(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"batch_discount": {"value": 0.25}, "models": {
        "gpt-image-1.5": {"text_in": 5, "image_in": 8, "image_out": 32, "source": "my invoice"},
        "gpt-image-2.5-flare": {"text_in": None, "image_in": None, "image_out": None}}}))
    monkeypatch.setenv(costs.ENV, str(path))
    got = costs.price("gpt-image-1.5")
    assert got is not None and got.image_out == 32 and got.source == "my invoice" and got.confidence == "user"
    assert costs.price("gpt-image-2.5-flare") is None
    assert str(costs.estimate(request("gpt-image-2.5-flare"))) == "unknown (no published price for gpt-image-2.5-flare)"
    assert costs.batch_discount() == 0.25
    assert costs.price("gpt-image-2") is not None and costs.price("gpt-image-2").image_out == 30  # untouched
    costs.set_price("gpt-image-1.5", image_out=40)
    assert costs.price("gpt-image-1.5").image_out == 40 and costs.price("gpt-image-1.5").text_in == 5
    path.write_text(json.dumps({"models": {"gpt-image-1.5": {"text_in": 6.5, "image_out": 31}}}))
    assert costs.price("gpt-image-1.5").text_in == 6.5  # a changed file is read again
    monkeypatch.delenv(costs.ENV)
    assert costs.price("gpt-image-2.5-flare") is not None


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"models": []}', "'models' must map"),
    ('{"modles": {}}', "unknown key 'modles'"),
    ('{"models": {"gpt-image-2": {"image_out": -3}}}', "image_out"),
    ('{"models": {"gpt-image-2": {"imageout": 3}}}', "unknown field 'imageout'"),
    ('{"models": {"gpt-image-2": 3}}', "expected an object"),
    ('{"batch_discount": 2, "models": {}}', "batch_discount"),
])
def test_a_bad_prices_file_is_refused_naming_the_file_and_the_problem(tmp_path, monkeypatch, content, problem):
    path = tmp_path / "mine.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv(costs.ENV, str(path))
    with pytest.raises(InvalidArgument) as info:
        costs.estimate(request())
    assert str(path) in str(info.value) and costs.ENV in str(info.value) and problem in str(info.value)


# --- budget --------------------------------------------------------------------------------------------------------

def test_check_budget_passes_within_the_cap_and_at_it():
    est = costs.Estimate(0.12, 0.40, 4)
    costs.check_budget(cap=5.0, spent=1.0, estimate=est, what="this batch", where="today on openai")
    costs.check_budget(cap=1.40, spent=1.0, estimate=est, what="this batch", where="today on openai")


def test_budget_exceeded_names_spent_cost_cap_and_the_fix():
    est = costs.estimate_many([request(quality="high", size="1536x1024", n=4)] * 16)
    assert est.high is not None
    with pytest.raises(BudgetExceeded) as info:
        costs.check_budget(cap=5.0, spent=4.1, estimate=est, what="this batch of 16 requests", where="today on openai")
    message = str(info.value)
    assert message.startswith("This batch of 16 requests would cost ")
    for part in (str(est), "$4.10 already spent today on openai", "$5.00",
                 "Kit(budget=...)", "fewer images", "lower quality"):
        assert part in message
    assert (info.value.spent, info.value.estimate, info.value.cap) == (4.1, est.high, 5.0)


def test_an_unknown_price_is_refused_when_a_cap_is_set_saying_how_to_set_it():
    est = costs.estimate_many([request(), request("gpt-image-1.5")])
    with pytest.raises(BudgetExceeded) as info:
        costs.check_budget(cap=100.0, spent=0.0, estimate=est, what="this batch of 2 requests", where="today")
    message = str(info.value)
    for part in ("unknown", "gpt-image-1.5", "dalle_kit.costs.set_price('gpt-image-1.5'", costs.ENV, "$100.00"):
        assert part in message
    assert info.value.estimate == est.high


@pytest.mark.parametrize(("cap", "spent"), [(-1, 0), (1, math.inf), ("5", 0), (True, 0)])
def test_check_budget_refuses_bad_numbers(cap, spent):
    with pytest.raises(InvalidArgument):
        costs.check_budget(cap=cap, spent=spent, estimate=costs.Estimate(), what="x", where="today")


# --- formatting ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (0.053, "$0.053"), (1.2, "$1.20"), (None, "unknown"), (0, "$0.00"), (0.04, "$0.04"), (0.21, "$0.21"),
    (0.4, "$0.40"), (0.006, "$0.006"), (0.00816, "$0.0082"), (1234.5, "$1,234.50"), (0.0531, "$0.053"),
])
def test_usd(value, text):
    assert costs.usd(value) == text


def test_estimate_strings():
    assert str(costs.Estimate(0.053, 0.053, 1)) == "$0.053"
    assert str(costs.Estimate(0.04, 0.21, 1)) == "$0.04–$0.21"
    assert str(costs.Estimate(None, None, 1, ("gpt-image-2.5-flare",), 1,
                              ("no published price for gpt-image-2.5-flare",))) == (
        "unknown (no published price for gpt-image-2.5-flare)")
    assert str(costs.Estimate(0.12, 0.40, 5, ("m",), 3, ("r",))) == "$0.12–$0.40 + 3 unknown"
    only_unknown = costs.estimate_many([request("gpt-image-1.5"), request("dall-e-3")])
    assert only_unknown.low is None and only_unknown.unknown == 2 and str(only_unknown) == (
        "unknown (no published price for gpt-image-1.5; no published price for dall-e-3)")


def test_estimates_from_validated_requests():
    req = validate("generate", model="gpt-image-2.6-sunburst", prompt="a kite", size="1536x864", quality="high", n=2)
    est = costs.estimate(req)
    tokens = round(4160 * 1536 * 864 / 1024**2)
    assert est.low is not None and est.high is not None
    assert est.low <= 2 * tokens * 30 / 1e6 + 2 * 5 / 1e6 <= est.high
