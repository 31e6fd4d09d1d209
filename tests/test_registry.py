"""The registry: one row per model the SDK names, facts with sources, status by date, the public API."""

from __future__ import annotations

import datetime as dt
import typing

from openai.types.image_model import ImageModel

import dalle_kit
from dalle_kit import models, registry
from dalle_kit.registry import FREE_SIZE


def test_every_sdk_model_has_a_row():
    sdk_ids = set(typing.get_args(ImageModel))
    assert sdk_ids <= set(registry.model_ids())
    assert len(sdk_ids) == 14


def test_each_model_sources_its_capabilities():
    for spec in registry.all_specs():
        assert spec.sources, spec.id
        for fact in ("sizes", "qualities", "n_max", "prompt_max", "endpoints") if spec.is_gpt_image else ():
            assert fact in spec.sources, (spec.id, fact)
        assert all(isinstance(v, str) and v for v in {**spec.sources, **spec.choices}.values())


def test_status_follows_the_calendar():
    spec = registry.get("gpt-image-1.5")
    assert spec.status(dt.date(2026, 11, 23)) == "deprecated"
    assert spec.status(dt.date(2026, 12, 1)) == "retired"
    assert registry.get("dall-e-3").status(dt.date(2026, 5, 12)) == "retired"
    assert registry.get("dall-e-3").status(dt.date(2026, 5, 11)) == "deprecated"
    assert registry.get("gpt-image-2.6-flare").status() == "current"
    assert registry.get("gpt-image-1").replacement == ("gpt-image-2.5-sunburst", "gpt-image-2.5-flare")


def test_free_size_rule_edges():
    ok = ["3840x2160", "2160x3840", "1024x640", "1536x512", "auto", "1024x1024"]
    bad = ["3856x2160", "3840x2176", "1008x624", "1600x512", "1000x1000", "0x0", "x", "1024"]
    assert [s for s in ok if FREE_SIZE.problem(s)] == []
    assert [s for s in bad if FREE_SIZE.problem(s) is None] == []


def test_models_table_renders_text_and_html():
    table = models()
    assert len(table) == len(registry.all_specs())
    assert "gpt-image-2.5-flare" in str(table) and "<table>" in table._repr_html_()
    current = models(include_retired=False, today=dt.date(2026, 11, 23))
    assert {s.id for s in current} >= {"gpt-image-2", "gpt-image-1.5"}
    assert "dall-e-2" not in {s.id for s in current}


def test_public_api_is_curated_and_sorted():
    assert dalle_kit.__all__ == sorted(dalle_kit.__all__)
    for name in dalle_kit.__all__:
        assert getattr(dalle_kit, name) is not None
    assert issubclass(dalle_kit.InvalidRequest, dalle_kit.DalleKitError)
