"""The generate panel through its Python twins (no browser): the registry decides what it offers, a model change
narrows the choices and says so, nothing invalid is sent, previews replace each other, errors carry their fix,
the cost line shows the estimate then the cost, and a re-run costs nothing."""

from __future__ import annotations

import datetime as dt

import openai
import pytest

from dalle_kit import BudgetExceeded, ImageResult, ImageSet, InvalidRequest, Kit, Prompt, Request, Simulator, registry
from dalle_kit.costs import estimate, usd
from dalle_kit.registry import Listing
from dalle_kit.widgets import PromptWidget
from dalle_kit.widgets.panel import CUSTOM, GeneratePanel


@pytest.fixture
def kit():
    with Kit(offline=True, quiet=True) as kit:
        yield kit


@pytest.fixture
def legacy():
    with Kit(simulator=Simulator(legacy=True), quiet=True) as kit:
        yield kit


@pytest.fixture
def panel(kit):
    return GeneratePanel(kit, "a lighthouse at dusk", quality="low", size="1024x1024")


def sent(kit) -> int:
    return kit.simulator.stats()["total"]


def pictures(panel) -> list[dict]:
    return [o for o in panel.output.outputs if o["output_type"] == "display_data"]


def shown(control) -> bool:
    return control.layout.display != "none"


# -- what it offers ---------------------------------------------------------------------------------------------

def test_the_model_picker_lists_current_and_deprecated_models_with_their_status(kit):
    today = dt.date.today()
    dates = {s.id: s.shutdown_on for s in registry.builtin_specs()} | {"gpt-image-2": dt.date(2099, 1, 1)}
    registry.apply_listing(Listing(dates, read_on=today))  # as if /v1/models announced a shutdown
    panel = GeneratePanel(kit, "a kite")
    expected = [s.id for s in registry.all_specs() if "generate" in s.endpoints and s.status() != "retired"]
    assert list(panel.models) == expected and "dall-e-3" not in panel.models
    labels = dict((value, label) for label, value in panel.model.options)
    assert labels["gpt-image-2.5-flare"] == "gpt-image-2.5-flare · current"
    assert labels["gpt-image-2"] == "gpt-image-2 · deprecated, shuts down 2099-01-01"
    with pytest.raises(InvalidRequest, match="not offered here") as caught:
        panel.set_model("dall-e-3")
    assert panel.last_error is caught.value and "not offered here" in panel.error_box.value
    panel.set_model("gpt-image-2")
    assert "deprecated: shuts down 2099-01-01" in panel.model_status.value
    assert any("gpt-image-2 shuts down on 2099-01-01" in note for note in panel.notes)  # the validator's warning
    assert "⚠ gpt-image-2 shuts down" in panel.note.value


def test_a_legacy_host_also_offers_retired_models(legacy):
    panel = GeneratePanel(legacy, "a kite")
    assert {"dall-e-3", "dall-e-2"} <= set(panel.models)
    assert dict((v, lbl) for lbl, v in panel.model.options)["dall-e-3"] == "dall-e-3 · retired, shut down 2026-05-12"


def test_every_control_offers_what_the_registry_says(legacy):
    panel = GeneratePanel(legacy, "a kite")
    for model in panel.models:
        spec = registry.get(model)
        panel.set_model(model)
        assert panel.options("quality") == spec.qualities
        assert panel.options("n") == tuple(range(1, spec.n_max + 1))
        assert (panel.controls["n"].min, panel.controls["n"].max) == (1, spec.n_max)
        assert panel.options("output_format") == spec.output_formats
        assert panel.options("background") == spec.backgrounds
        assert panel.options("moderation") == spec.moderation
        assert panel.options("style") == spec.styles
        assert panel.options("partial_images") == (tuple(range(spec.partial_images_max + 1)) if spec.streaming else ())
        assert panel.options("size") == spec.sizes.fixed + (("auto",) if spec.sizes.auto else ())
        assert panel.free_form == spec.sizes.free_form
        assert (CUSTOM in [v for _, v in panel.controls["size"].options]) == spec.sizes.free_form
        for name in ("output_format", "background", "moderation", "style", "partial_images"):
            assert shown(panel.controls[name]) == bool(panel.options(name)), (model, name)
            assert (name in panel.params) == bool(panel.options(name))
        assert panel.params.get("stream", False) == spec.streaming


def test_compression_only_for_jpeg_and_webp_and_no_stream_for_gif(panel):
    assert not shown(panel.controls["output_compression"]) and "output_compression" not in panel.params
    panel.set(output_format="jpeg", output_compression=70)
    assert shown(panel.controls["output_compression"]) and panel.params["output_compression"] == 70
    panel.set(output_format="webp")
    assert panel.params["output_compression"] == 70
    panel.set(output_format="png")
    assert "output_compression" not in panel.params and not shown(panel.controls["output_compression"])
    panel.set(output_format="gif")  # the stream row excludes gif: no stream, no previews
    assert "stream" not in panel.params and "partial_images" not in panel.params
    assert not shown(panel.controls["partial_images"])


def test_free_form_sizes_go_in_the_custom_box(panel):
    panel.set(size="1536 × 864")
    assert panel.controls["size"].value == CUSTOM and panel.custom_size.value == "1536x864"
    assert shown(panel.custom_size) and panel.params["size"] == "1536x864"
    with pytest.raises(InvalidRequest, match="divisible by 16"):
        panel.set(size="1000x1000")
    assert panel.params["size"] == "1536x864"  # the refused value never reached the control
    panel.set(size="1024x1536")
    assert panel.controls["size"].value == "1024x1536" and not shown(panel.custom_size)
    panel.controls["size"].value = CUSTOM  # the box kept what was typed
    assert panel.custom_size.value == "1536x864" and panel.params["size"] == "1536x864"


def test_choosing_custom_starts_from_the_size_there_was(kit):
    panel = GeneratePanel(kit, "a kite", size="1024x1536")
    panel.controls["size"].value = CUSTOM  # as the page does
    assert panel.custom_size.value == "1024x1536" and shown(panel.custom_size)
    panel.custom_size.value = "2048x1152"
    assert panel.params["size"] == "2048x1152" and panel.request().params["size"] == "2048x1152"


# -- a model change ---------------------------------------------------------------------------------------------

def test_a_model_change_narrows_the_choices_and_explains_in_one_line(panel):
    panel.set(quality="xhigh")
    assert "xhigh" in panel.options("quality") and panel.changes == []
    panel.set_model("gpt-image-2")
    assert panel.changes == ["quality xhigh is not offered by gpt-image-2: set to high"]
    assert panel.controls["quality"].value == "high" and "xhigh" not in panel.options("quality")
    assert "quality xhigh is not offered by gpt-image-2: set to high" in panel.note.value
    assert panel.request().params["quality"] == "high"
    panel.model.value = "gpt-image-2.5-flare"  # the picker itself: nothing had to change
    assert panel.changes == [] and panel.controls["quality"].value == "high"


def test_a_narrower_model_carries_every_choice_to_the_nearest_offered(legacy):
    panel = GeneratePanel(legacy, "a kite", quality="high", n=3, size="1536x864", output_format="webp")
    panel.set_model("dall-e-3")
    assert panel.changes == [
        "size 1536x864 is not offered by dall-e-3: set to 1792x1024",
        "quality high is not offered by dall-e-3: set to hd",
        "n 3 is over dall-e-3's maximum of 1: set to 1",
        "format: dall-e-3 does not take it (left out)",
        "compression: dall-e-3 does not take it (left out)",
        "background: dall-e-3 does not take it (left out)",
        "moderation: dall-e-3 does not take it (left out)",
        "previews: dall-e-3 does not take it (left out)",
    ]
    assert "; ".join(panel.changes) in panel.note.value.replace("&#x27;", "'")
    assert panel.params == {"size": "1792x1024", "quality": "hd", "n": 1, "style": "vivid"}
    assert not shown(panel.controls["output_format"]) and shown(panel.controls["style"])
    panel.set_model("gpt-image-2.5-flare")  # back: the hidden controls come back with what they held
    assert panel.params["output_format"] == "webp" and panel.params["quality"] == "high"
    assert panel.changes == ["quality hd is not offered by gpt-image-2.5-flare: set to high",
                             "style: gpt-image-2.5-flare does not take it (left out)"]


def test_a_prompt_or_prompt_widget_is_rendered_for_the_chosen_model(kit):
    prompt = Prompt("a fox", setting="snowy forest", presets=("minimalist",))
    panel = GeneratePanel(kit, prompt, quality="low")
    assert panel.prompt is prompt and panel.text == prompt.render("gpt-image-2.5-flare")
    assert panel.prompt_box.value == panel.text and panel.prompt_box.disabled
    builder = PromptWidget(kit).set(subject="a red kite")
    panel.set_prompt(builder)
    assert panel.text == "a red kite"
    builder.set(setting="over the sea")  # followed live
    assert panel.prompt_box.value == "a red kite, over the sea" and panel.text == builder.text
    assert panel.generate().prompt == "a red kite, over the sea"
    panel.set_prompt("typed again")
    assert not panel.prompt_box.disabled and panel.text == "typed again"
    builder.set(subject="ignored now")
    assert panel.prompt_box.value == "typed again"


# -- nothing invalid is sent ------------------------------------------------------------------------------------

def test_invalid_choices_are_refused_and_never_sent(kit, panel):
    panel.set_model("gpt-image-2")
    with pytest.raises(InvalidRequest, match="offers low, medium, high, auto") as caught:
        panel.set(quality="max")
    assert panel.last_error is caught.value and "is not offered by gpt-image-2" in panel.error_box.value
    for bad in ({"n": 11}, {"n": 2.0}, {"partial_images": 4}, {"style": "vivid"}):
        with pytest.raises(InvalidRequest):
            panel.set(**bad)
    with pytest.raises(KeyError):
        panel.set(mood="happy")
    panel.set(background="transparent", output_format="jpeg")  # each offered, together refused by the validator
    assert panel.cost_text.startswith("Not sendable: background='transparent' needs png or webp output")
    assert "set output_format=&#x27;png&#x27;" in panel.cost_line.value and panel.button.disabled
    with pytest.raises(InvalidRequest, match="needs png or webp"):
        panel.generate()
    panel.button.click()
    assert "needs png or webp" in panel.error and pictures(panel) == []
    panel.set(output_format="png").set_prompt("")
    assert panel.button.disabled and panel.cost_text.endswith("type a prompt to generate")
    assert sent(kit) == 0
    panel.set_prompt("a kite")
    assert not panel.button.disabled and panel.cost_text.startswith("Estimated cost: ")


def test_request_twin_is_what_generate_sends(panel):
    panel.set(n=2, partial_images=1, output_format="webp", output_compression=60)
    request = panel.request()
    assert isinstance(request, Request) and request.model == "gpt-image-2.5-flare"
    assert dict(request.params) == {"prompt": "a lighthouse at dusk", "size": "1024x1024", "quality": "low", "n": 2,
                                    "output_format": "webp", "output_compression": 60, "background": "auto",
                                    "moderation": "auto", "partial_images": 1, "stream": True}
    result = panel.generate()
    assert isinstance(result, ImageSet) and len(result) == 2 and result[0].request.key == request.key


# -- generating ------------------------------------------------------------------------------------------------

def test_previews_replace_each_other_in_place_then_the_final_image(kit, panel):
    snapshots = []
    panel.output.observe(lambda change: snapshots.append(change["new"]), names="outputs")
    result = panel.generate()
    assert isinstance(result, ImageResult) and result.partial is None and panel.result is result
    assert [p.partial for p in panel.previews] == [0, 1]
    shown_now = [[o["data"]["text/plain"] for o in snap if o["output_type"] == "display_data"] for snap in snapshots]
    assert [len(images) for images in shown_now] == [1, 1, 1]  # one image area: never two pictures at once
    assert "· preview 1 ·" in shown_now[0][0] and "· preview 2 ·" in shown_now[1][0]
    assert shown_now[-1] == [repr(result)] and "· preview" not in shown_now[-1][0]
    final = pictures(panel)[0]["data"]
    assert "max-width:256px" in final["text/html"] and len(final["text/html"]) < 100_000  # a thumbnail only
    assert "image/png" not in final  # one picture, not a PNG twin besides
    assert sent(kit) == 1


def test_several_images_show_as_thumbnails_together(panel):
    panel.set(n=3, partial_images=1)
    result = panel.generate()
    assert isinstance(result, ImageSet) and len(result) == 3
    (only,) = pictures(panel)
    assert only["data"]["text/html"].count("<img") == 3 and "image/png" not in only["data"]


def test_an_api_error_shows_in_the_panel_with_its_fix(kit):
    panel = GeneratePanel(kit, "a moderation-test kite", quality="low")
    panel.button.click()
    assert isinstance(panel.last_error, openai.BadRequestError)
    assert panel.error.endswith("This is never retried: rephrase the prompt.") and "Traceback" not in panel.error
    assert "rephrase the prompt" in panel.error_box.value
    assert panel.output.outputs == () and not panel.busy and not panel.button.disabled
    assert panel.button.description == "Generate"
    panel.set_prompt("a kite").button.click()  # fixed: the error goes, the picture comes
    assert panel.error == "" and len(pictures(panel)) == 1


def test_a_budget_refusal_shows_in_the_panel_with_its_fix():
    with Kit(offline=True, quiet=True, budget=0.001) as kit:
        panel = GeneratePanel(kit, "a kite", quality="high")
        panel.button.click()
        assert isinstance(panel.last_error, BudgetExceeded) and "nothing was sent" in panel.error
        assert "Raise the budget with Kit(budget=...)" in panel.error and sent(kit) == 0
        assert panel.cost_text.startswith("Estimated cost: ") and not panel.button.disabled


def test_an_error_after_the_previews_clears_them(kit):
    panel = GeneratePanel(kit, "a moderation-output-test kite", quality="low")
    with pytest.raises(openai.APIError):
        panel.generate()
    assert panel.output.outputs == () and panel.result is None and "rephrase" in panel.error


def test_the_button_is_busy_while_generating(panel, monkeypatch):
    seen = []

    def record(*args, **kwargs):
        seen.append((panel.busy, panel.button.disabled, panel.button.description))
        raise InvalidRequest("size='7x7' is not accepted", param="size")

    monkeypatch.setattr(panel.kit, "generate", record)
    panel.button.click()
    assert seen == [(True, True, "Generating…")]
    assert (panel.busy, panel.button.disabled, panel.button.description) == (False, False, "Generate")


# -- cost and the store ----------------------------------------------------------------------------------------

def test_the_cost_line_shows_the_estimate_before_and_the_cost_after(panel):
    before = panel.cost_text
    assert before == f"Estimated cost: {estimate(panel.request())} for 1 image" == f"Estimated cost: {panel.estimate()} for 1 image"
    panel.set(quality="high")
    assert panel.cost_text != before and panel.cost_text.startswith("Estimated cost: ")
    panel.set(n=2)
    assert panel.cost_text.endswith("for 2 images")
    estimated = str(panel.estimate())
    result = panel.generate()
    assert panel.cost_text == f"Cost: {usd(sum(r.cost for r in result))} (estimated {estimated})"
    assert "Cost: $" in panel.cost_line.value
    panel.set(quality="medium")  # a control changed: the line estimates again
    assert panel.cost_text.startswith("Estimated cost: ")


def test_the_same_settings_again_are_answered_from_the_store(kit, panel):
    first = panel.generate()
    assert sent(kit) == 1 and first.source == "api"
    again = panel.generate()
    assert sent(kit) == 1  # 0 requests: the engine's cache answered
    assert again.source == "store" and again.bytes == first.bytes and panel.previews == []
    assert panel.cost_text == "From the store: nothing sent, nothing paid"
    assert "from the store" in pictures(panel)[0]["data"]["text/plain"]
    panel.generate(fresh=True)
    assert sent(kit) == 2


@pytest.mark.filterwarnings("error")
def test_warnings_show_in_the_panel_not_the_cell(kit):
    dates = {s.id: s.shutdown_on for s in registry.builtin_specs()} | {"gpt-image-2": dt.date(2099, 1, 1)}
    registry.apply_listing(Listing(dates, read_on=dt.date.today()))
    panel = GeneratePanel(kit, "a kite", model="gpt-image-2", quality="low", partial_images=0)
    panel.generate()
    stream, picture = panel.output.outputs
    assert stream["name"] == "stderr" and stream["text"].startswith("FutureWarning: gpt-image-2 shuts down on 2099")
    assert picture["output_type"] == "display_data"


def test_a_panel_without_a_kit_makes_one_and_closes_it(capsys):
    panel = GeneratePanel(prompt="a kite")
    assert panel.kit.backend == "simulator" and "offline simulator" in capsys.readouterr().err
    panel.close()
    panel.close()  # twice is fine
