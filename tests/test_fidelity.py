"""API fidelity: refuse only what a source states, the lenient escape hatch, shutdown dates from /v1/models,
and errors no retry can fix."""

from __future__ import annotations

import datetime as dt
import warnings

import openai
import pytest

from dalle_kit import DalleKitWarning, InvalidRequest, Kit, Simulator, models, registry, validate

G25 = "gpt-image-2.5-flare"


@pytest.fixture
def kit(tmp_path):
    return Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True)


# -- refuse only what the API refuses ------------------------------------------------------------------------

def test_png_with_output_compression_is_a_warning_not_an_error(kit):
    with pytest.warns(DalleKitWarning, match=r"output_compression=100 has no effect unless output_format is webp"):
        image = kit.generate("a cat", quality="low", output_format="png", output_compression=100)
    assert "output_compression" not in image.request.params and image.format == "png"
    with pytest.warns(DalleKitWarning, match="output_compression"):
        assert "output_compression" not in validate("generate", model=G25, prompt="c", output_compression=50).params
    assert kit.simulator.stats()["statuses"] == {"200": 1}


def test_the_simulator_accepts_what_the_api_accepts_raw():
    """OpenAI's own example: png with output_compression 100, sent as is."""
    sim = Simulator(seed=1)
    for body in ({"output_format": "png", "output_compression": 100}, {"output_compression": 70},
                 {"partial_images": 2}):
        assert sim.validate("generate", json={"model": G25, "prompt": "a cat", **body}) is None, body


def test_partial_images_without_stream_is_dropped_with_a_warning():
    with pytest.warns(DalleKitWarning, match="partial_images=2 has no effect unless stream is True"):
        request = validate("generate", model=G25, prompt="a cat", partial_images=2)
    assert "partial_images" not in request.params


@pytest.mark.parametrize("params", [
    {"model": G25, "output_format": "gif", "frame_count": 4},
    {"model": G25, "output_format": "svg", "svg": {"model": "gpt-5"}},
    {"model": G25, "complexity": "high"},
    {"model": "gpt-image-2", "complexity": "low"},
    {"model": "gpt-image-2.6-flare", "size": "1536x864", "quality": "xhigh"},
])
def test_what_the_sdk_does_not_refuse_is_allowed_by_both_judges(params):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        request = validate("generate", prompt="a cat", **params)
    assert Simulator().validate("generate", json={"model": request.model, **request.params}) is None


def test_input_fidelity_allowed_on_25_and_26_refused_on_2_as_the_sdk_says(kit):
    from helpers import png_bytes

    image = png_bytes((64, 64))
    for model in ("gpt-image-2.5-sunburst", "gpt-image-2.6-flare"):
        assert validate("edit", model=model, prompt="keep it", image=image, input_fidelity="high")
    with pytest.raises(InvalidRequest, match="omit it"):
        validate("edit", model="gpt-image-2", prompt="keep it", image=image, input_fidelity="high")


def test_every_choice_to_refuse_records_its_evidence():
    """Where a refusal is not stated by the SDK, the registry's choices say why (the rule of 'allow and note')."""
    gpt2 = registry.get("gpt-image-2")
    for field in ("input_fidelity", "qualities", "markup"):
        assert "SDK" in gpt2.choices[field] or "3P" in gpt2.choices[field], field


# -- the lenient escape hatch ---------------------------------------------------------------------------------

def test_lenient_per_call_skips_a_rule_with_a_warning_naming_it(kit):
    with pytest.raises(InvalidRequest):
        kit.request("generate", prompt="a cat", quality="ultra")
    with pytest.warns(DalleKitWarning, match=r"skipped the rule 'quality.values'"):
        request = kit.request("generate", prompt="a cat", quality="ultra", lenient=True)
    assert request.params["quality"] == "ultra"
    with pytest.warns(DalleKitWarning, match="quality.values"), pytest.raises(openai.BadRequestError) as info:
        kit.generate("a cat", quality="ultra", lenient=True)  # the API has the last word
    assert info.value.param == "quality"


def test_lenient_kit_sends_unknown_parameters_through_the_sdk(tmp_path):
    kit = Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True, lenient=True)
    from helpers import png_bytes

    with pytest.warns(DalleKitWarning, match="unknown_parameter"), pytest.raises(openai.BadRequestError) as info:
        kit.edit(png_bytes((64, 64)), "a hat", quality="low", seed=5)  # multipart: extra_body becomes a form field
    assert info.value.code == "unknown_parameter" and info.value.param == "seed"
    with pytest.warns(DalleKitWarning, match="model.known"):
        request = kit.request("generate", prompt="a cat", model="gpt-image-9")
    assert request.model == "gpt-image-9"


def test_lenient_never_sends_what_cannot_be_sent():
    for params in ({"model": G25}, {"model": G25, "prompt": None}, {"prompt": "a cat"}):
        with pytest.raises(InvalidRequest):
            validate("generate", lenient=True, **params)
    with pytest.raises(InvalidRequest):
        validate("edit", model=G25, prompt="a cat", lenient=True)


# -- shutdown dates from /v1/models ---------------------------------------------------------------------------

def test_models_refresh_picks_up_a_changed_shutdown_date(tmp_path):
    sim = Simulator(seed=1)
    kit = Kit(simulator=sim, home=tmp_path, quiet=True)
    assert registry.get("gpt-image-2").shutdown_on is None
    sim.shutdown_dates["gpt-image-2"] = "2027-01-15"
    table = models(refresh=True, kit=kit)
    spec = registry.get("gpt-image-2")
    assert spec.shutdown_on == dt.date(2027, 1, 15) and "/v1/models" in spec.sources["shutdown_on"]
    assert "from /v1/models on simulator" in str(table)
    with pytest.warns(FutureWarning, match="2027-01-15"):
        validate("generate", model="gpt-image-2", prompt="a cat")
    # a new process (a new Kit on the same store) prefers the cached listing over the built-in date
    registry.clear_listing()
    assert registry.get("gpt-image-2").shutdown_on is None
    Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True)
    assert registry.get("gpt-image-2").shutdown_on == dt.date(2027, 1, 15)
    # the date moves again: a refresh follows it
    sim.shutdown_dates["gpt-image-2"] = "2027-03-01"
    kit.refresh_models()
    assert registry.get("gpt-image-2").shutdown_on == dt.date(2027, 3, 1)


def test_a_model_the_api_does_not_list_gets_a_warning_never_a_refusal(tmp_path):
    sim = Simulator(seed=1, unlisted=("gpt-image-2.6-flare",))
    kit = Kit(simulator=sim, home=tmp_path, quiet=True)
    kit.refresh_models()
    with pytest.warns(DalleKitWarning, match="not listed by /v1/models"):
        image = kit.generate("a cat", model="gpt-image-2.6-flare", quality="low")
    assert image.request.model == "gpt-image-2.6-flare"


def test_cli_models_refresh(tmp_path, capsys):
    from dalle_kit.cli import main

    assert main(["models", "--refresh"]) == 0
    assert "from /v1/models on simulator" in capsys.readouterr().out


def test_status_line_with_only_a_deprecation_date():
    import dataclasses

    spec = dataclasses.replace(registry.get("gpt-image-2"), deprecated_on=dt.date(2026, 11, 1))
    assert spec.status_line(dt.date(2026, 11, 29)) == "deprecated: no shutdown date announced"


# -- errors no retry can fix ----------------------------------------------------------------------------------

def test_insufficient_quota_is_not_retried(tmp_path):
    kit = Kit(simulator=Simulator(seed=1, account="insufficient_quota"), home=tmp_path, quiet=True, max_retries=2)
    with pytest.raises(openai.RateLimitError) as info:
        kit.generate("a cat", quality="low")
    assert info.value.code == "insufficient_quota"
    assert kit.simulator.stats()["total"] == 1
    assert any("does not retry" in note and "billing" in note for note in info.value.__notes__)


async def _agenerate(kit):
    return await kit.agenerate("a cat", quality="low")


def test_insufficient_quota_is_not_retried_async(tmp_path):
    import asyncio

    kit = Kit(simulator=Simulator(seed=1, account="insufficient_quota"), home=tmp_path, quiet=True, max_retries=2)
    with pytest.raises(openai.RateLimitError):
        asyncio.run(_agenerate(kit))
    assert kit.simulator.stats()["total"] == 1


def test_a_plain_rate_limit_is_still_retried(tmp_path):
    kit = Kit(simulator=Simulator(seed=3, fail={429: 1.0}), home=tmp_path, quiet=True, max_retries=2)
    with pytest.raises(openai.RateLimitError):
        kit.generate("a cat", quality="low")
    assert kit.simulator.stats()["total"] == 3


@pytest.mark.parametrize("account,error,code", [
    ("billing_hard_limit_reached", openai.BadRequestError, "billing_hard_limit_reached"),
    ("unverified", openai.PermissionDeniedError, None),
])
def test_account_errors_carry_a_note_saying_what_to_do(tmp_path, account, error, code):
    kit = Kit(simulator=Simulator(seed=1, account=account), home=tmp_path, quiet=True)
    with pytest.raises(error) as info:
        kit.generate("a cat", quality="low")
    assert info.value.code == code
    assert info.value.__notes__ and "dalle_kit:" in info.value.__notes__[0]
    assert kit.simulator.stats()["total"] == 1
