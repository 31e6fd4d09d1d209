"""The prompt widget through its Python twins (no browser)."""

from __future__ import annotations

import re
import threading
import time

import openai
import pytest

from dalle_kit import ImageResult, InvalidRequest, Kit, Prompt, Simulator, styles
from dalle_kit.widgets import PromptWidget


@pytest.fixture
def widget():
    return PromptWidget(Kit(offline=True, quiet=True), size="1024x1024", quality="low")


def test_fields_render_the_prompt_and_preview(widget):
    widget.set(subject="an orange cat", action="asleep on a sofa", details=["soft light", "high detail"])
    widget.pick_styles("油画", "pixel_art").pick_presets("cinematic")
    expected = ("an orange cat, asleep on a sofa, oil painting, pixel art, soft light, high detail, "
                "cinematic lighting, dramatic atmosphere, movie scene")
    assert widget.text == expected
    assert expected in widget.preview.value
    assert f"{len(expected)} / 32,000 characters for gpt-image-2.5-flare" in widget.preview.value
    assert widget.style_pickers["painting"].value == ("oil_painting",)  # the control shows what the twin did
    assert not widget.button.disabled


def test_typing_commas_in_chinese_splits_lists(widget):
    widget.set(subject="一只猫", details="柔和光线，高细节", avoid="文字")
    assert widget.prompt.details == ("柔和光线", "高细节")
    assert widget.text == "一只猫，柔和光线，高细节。避免：文字。"


def test_length_against_the_chosen_model(widget):
    widget.set(subject="x" * 3990).choose_model("gpt-image-2")
    assert "3,990 / 32,000" in widget.preview.value and not widget.button.disabled
    widget.set(subject="")
    assert widget.button.disabled and "empty" in widget.preview.value
    assert "#b00020" not in widget.preview.value  # a blank form is not an error


def test_as_is_note_and_living_artist_warning(widget):
    widget.set(subject="a castle in the clouds").pick_styles("miyazaki")
    widget.as_is.value = True
    assert "does not rewrite prompts" in widget.preview.value
    assert "living artist" in widget.preview.value


def test_load_a_prompt_into_the_controls(widget):
    prompt = Prompt("a fox", setting="snowy forest", styles=("watercolor", "glitter"), presets=("minimalist",))
    widget.load(prompt)
    assert widget.fields["setting"].value == "snowy forest"
    assert widget.prompt == prompt
    assert widget.text == str(prompt)


def test_generate_twin_hands_the_prompt_to_kit(widget):
    widget.set(subject="a lighthouse at dusk").pick_presets("minimalist")
    result = widget.generate()
    assert isinstance(result, ImageResult) and widget.result is result
    assert result.prompt == widget.text and result.request.params["quality"] == "low"
    assert result.stored_at.exists()


def images(widget) -> list[dict]:
    return [o for o in widget.output.outputs if o["output_type"] == "display_data" and "text/html" in o["data"]]


def test_the_image_shows_once_in_the_widget(widget):
    widget.set(subject="a red kite")
    widget.generate()
    result = widget.generate()  # a second run replaces the first picture
    assert len(widget.output.outputs) == 1 and len(images(widget)) == 1
    shown = images(widget)[0]["data"]
    assert "<img" in shown["text/html"] and 'alt="a red kite"' in shown["text/html"]
    assert shown["text/plain"] == repr(result) and widget.error == ""


def test_an_invalid_request_shows_in_the_widget_and_the_button_recovers(widget):
    widget.set(subject="a red kite")
    with pytest.raises(InvalidRequest) as caught:  # the twin raises, like any call ...
        widget.generate(quality="ultra")
    assert widget.last_error is caught.value and widget.result is None
    assert "quality=&#x27;ultra&#x27; is not accepted" in widget.error_box.value  # ... and the widget shows it
    assert widget.error == f"InvalidRequest: {caught.value}" and "accepts low, medium" in widget.error
    assert not widget.button.disabled and widget.button.description == "Generate" and not widget.busy

    broken = PromptWidget(Kit(offline=True, quiet=True), size="1024x1024", quality="ultra").set(subject="a kite")
    broken.button.click()  # the button raises nothing: the error is in the widget
    assert isinstance(broken.last_error, InvalidRequest) and "Traceback" not in broken.error
    assert "is not accepted" in broken.error_box.value and broken.output.outputs == ()
    assert not broken.button.disabled and broken.button.description == "Generate"


def test_an_api_error_shows_its_message_and_notes(widget):
    widget.set(subject="a moderation-test kite")
    widget.button.click()
    assert isinstance(widget.last_error, openai.BadRequestError)
    assert widget.error.startswith("BadRequestError: Error code: 400")
    assert widget.error.endswith("dalle_kit: blocked by moderation at the input stage (categories: violence). "
                                 "This is never retried: rephrase the prompt.")
    assert "Traceback" not in widget.error and "rephrase the prompt" in widget.error_box.value
    widget.set(subject="a kite").button.click()  # fixed: the error goes, the picture comes
    assert widget.error == "" and widget.error_box.value == "" and len(images(widget)) == 1


def test_an_unexpected_error_shows_a_short_traceback(widget, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(widget.kit, "generate", broken)
    widget.set(subject="a kite").button.click()
    assert widget.error.startswith("Traceback") and widget.error.endswith("ZeroDivisionError: division by zero")
    assert not widget.button.disabled
    with pytest.raises(ZeroDivisionError):
        widget.generate()


def test_the_button_is_disabled_and_says_so_while_generating(widget, monkeypatch):
    seen = []

    def record(*args, **kwargs):
        seen.append((widget.busy, widget.button.disabled, widget.button.description, widget.button.icon))
        raise InvalidRequest("size='7x7' is not accepted; use 1024x1024", param="size")

    monkeypatch.setattr(widget.kit, "generate", record)
    widget.set(subject="a kite").button.click()
    assert seen == [(True, True, "Generating…", "spinner spin")]
    assert (widget.busy, widget.button.disabled, widget.button.description, widget.button.icon) == (
        False, False, "Generate", "image")


def test_busy_state_seen_from_another_thread(tmp_path):
    widget = PromptWidget(Kit(simulator=Simulator(seed=1, latency=0.3), home=tmp_path, quiet=True),
                          size="1024x1024", quality="low").set(subject="a slow kite")
    click = threading.Thread(target=widget.button.click)
    click.start()
    seen = threading.Event()  # set once the busy state was seen
    for _ in range(200):
        if widget.busy:
            assert widget.button.disabled and widget.button.description == "Generating…"
            seen.set()
            break
        time.sleep(0.005)
    click.join(10)
    assert seen.is_set() and not widget.busy and not widget.button.disabled and len(images(widget)) == 1


def test_a_too_long_prompt_keeps_the_button_disabled_after_a_run(widget):
    widget.set(subject="x" * 32_001)
    assert widget.button.disabled
    with pytest.raises(InvalidRequest, match="too long"):
        widget.generate()  # the twin can still try: the request is refused with the fix-it message
    assert "shorten it" in widget.error_box.value and widget.button.disabled


@pytest.mark.filterwarnings("default::FutureWarning")
def test_warnings_show_in_the_widget_above_the_picture(widget):
    widget.set(subject="a kite").choose_model("gpt-image-1.5")
    widget.generate()
    stream, picture = widget.output.outputs
    assert stream["name"] == "stderr" and stream["text"].startswith("FutureWarning: gpt-image-1.5 shuts down")
    assert picture["output_type"] == "display_data"


def test_labels_are_english_and_library_entries_bilingual(widget):
    cjk = re.compile(r"[\u3400-\u9fff]")
    labels = [c.description for c in [*widget.fields.values(), widget.model, widget.language, widget.as_is,
                                      widget.button]]
    labels += [c.placeholder for c in widget.fields.values()] + list(widget.pickers.titles)
    assert labels and not any(cjk.search(label) for label in labels)
    assert widget.pickers.titles == (*styles.GROUPS, "presets")
    for group, picker in widget.style_pickers.items():
        assert [label for label, _ in picker.options] == [f"{s.en} · {s.zh}" for s in styles.group(group)]
    assert [label for label, _ in widget.language.options] == ["follow the subject", "English", "Chinese · 中文"]


def test_unknown_names_are_refused(widget):
    with pytest.raises(KeyError):
        widget.pick_styles("glitter")
    with pytest.raises(KeyError):
        widget.set(mood="happy")
