"""The parameter vocabulary: both judges read it, so a new parameter is one row and both accept it."""

from __future__ import annotations

import openai
import pytest
from helpers import png_bytes
from simulator_fixtures import client as sdk_client

from dalle_kit import InvalidRequest, Kit, Simulator, registry, validate, vocabulary
from dalle_kit.vocabulary import ParamSpec

G25 = "gpt-image-2.5-flare"


def _simulator_verdict(**params) -> int:
    """The status the simulator answers for a generation sent through the SDK (extra_body for new names)."""
    client = sdk_client(Simulator(seed=1))
    known = {"model", "prompt", "size", "quality"}
    try:
        client.images.generate(**{k: v for k, v in params.items() if k in known},
                               extra_body={k: v for k, v in params.items() if k not in known})
    except openai.BadRequestError as err:
        return err.status_code
    return 200


def test_every_row_names_real_endpoints_and_a_source():
    for row in vocabulary.rows():
        assert row.endpoints and row.endpoints <= set(vocabulary.ENDPOINTS), row.name
        assert row.source, row.name
        if row.gate is not None:
            assert all(hasattr(spec, row.gate) for spec in registry.all_specs()), row.name
        if row.kind == "enum":
            assert row.values, row.name


def test_a_new_int_row_is_judged_by_both_sides_without_other_edits(tmp_path):
    row = ParamSpec("seed", frozenset({"generate", "edit"}), "int", low=0, high=2**31 - 1, source="a test row")
    assert _simulator_verdict(model=G25, prompt="a cat", quality="low", seed=7) == 400  # unknown before
    with pytest.raises(InvalidRequest, match="not a parameter"):
        validate("generate", model=G25, prompt="a cat", seed=7)
    with vocabulary.extra_row(row):
        assert validate("generate", model=G25, prompt="a cat", seed=7).params["seed"] == 7
        assert _simulator_verdict(model=G25, prompt="a cat", quality="low", seed=7) == 200
        with pytest.raises(InvalidRequest) as info:
            validate("generate", model=G25, prompt="a cat", seed=-1)
        assert info.value.param == "seed"
        assert _simulator_verdict(model=G25, prompt="a cat", quality="low", seed=-1) == 400
        kit = Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True)
        assert kit.generate("a cat", quality="low", seed=3).request.params["seed"] == 3
        assert kit.simulator.stats()["statuses"] == {"200": 1}


def test_a_new_enum_row_follows_its_model_gate():
    row = ParamSpec("tone", frozenset({"generate"}), "enum", values=("warm", "cool"), gate="markup",
                    source="a test row gated like markup (2.5 and 2.6 only)")
    with vocabulary.extra_row(row):
        assert validate("generate", model=G25, prompt="a cat", tone="WARM").params["tone"] == "warm"
        assert _simulator_verdict(model=G25, prompt="a cat", quality="low", tone="warm") == 200
        for bad in ({"model": "gpt-image-2", "tone": "warm"}, {"model": G25, "tone": "hot"}):
            with pytest.raises(InvalidRequest) as info:
                validate("generate", prompt="a cat", **bad)
            assert info.value.param == "tone"
            assert _simulator_verdict(prompt="a cat", quality="low", **bad) == 400


@pytest.mark.parametrize("endpoint", ["generate", "edit"])
def test_both_judges_know_exactly_the_names_of_each_endpoint(endpoint):
    """Every vocabulary name of an endpoint is a parameter to both sides (whatever its value); others are not."""
    sim = Simulator()
    base = {"model": G25, "prompt": "a cat"}
    for name in sorted(vocabulary.names(endpoint) | {"moderation", "input_fidelity", "qualty"}):
        if name in ("model", "prompt", "image", "mask", "markup") or (vocabulary.get(name) and vocabulary.get(name).legacy):
            continue
        known = name in vocabulary.names(endpoint)
        try:
            validate(endpoint, image=png_bytes((64, 64)) if endpoint == "edit" else None, **base, **{name: 12345})
            refusal = None
        except InvalidRequest as exc:
            refusal = exc.rule
        verdict = sim.validate(endpoint, json={**base, name: 12345}) if endpoint == "generate" else sim.validate(
            endpoint, data={**base, name: "12345"}, files={"image": ("in.png", png_bytes((64, 64)), "image/png")})
        assert (refusal == "unknown_parameter") == (not known), (endpoint, name, refusal)
        assert (verdict is not None and verdict.code == "unknown_parameter") == (not known), (endpoint, name)


def test_static_types_spell_the_vocabulary_and_the_registry():
    import typing

    from dalle_kit import kit_types

    assert set(typing.get_args(kit_types.ModelName)) == set(registry.model_ids())
    for alias, name in ((kit_types.Quality, "quality"), (kit_types.OutputFormat, "output_format"),
                        (kit_types.Background, "background"), (kit_types.Moderation, "moderation"),
                        (kit_types.Complexity, "complexity"), (kit_types.InputFidelity, "input_fidelity"),
                        (kit_types.Style, "style"), (kit_types.ResponseFormat, "response_format")):
        assert typing.get_args(alias) == vocabulary.PARAMS[name].values, name
    typed = set()
    for options in (kit_types.GenerateOptions, kit_types.EditOptions):
        typed |= set(typing.get_type_hints(options))
    generic = {row.name for row in vocabulary.rows() if row.endpoints & {"generate", "edit"}}
    assert generic - typed == {"prompt", "image", "mask", "n", "stream"}  # positional or in the overloads
