"""The prompt widget through its Python twins (no browser)."""

from __future__ import annotations

import pytest

from dalle_kit import ImageResult, Kit, Prompt
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


def test_unknown_names_are_refused(widget):
    with pytest.raises(KeyError):
        widget.pick_styles("glitter")
    with pytest.raises(KeyError):
        widget.set(mood="happy")
