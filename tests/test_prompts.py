"""Prompt builder, presets, templates and the style library."""

from __future__ import annotations

import pytest

from dalle_kit import InvalidRequest, Kit, Prompt, expand, styles
from dalle_kit.prompts import AS_IS_PREFIX, Variant, placeholders

CAT = Prompt("an orange cat", "curled up asleep on a sofa", "a warm living room, sunlight through the window",
             styles=("oil_painting", "印象派"), lighting="soft light", details=("high detail",))


def test_renders_parts_in_the_tutorial_order():
    assert str(CAT) == ("an orange cat, curled up asleep on a sofa, a warm living room, sunlight through the window, "
                        "oil painting, impressionism, soft light, high detail")
    assert len(CAT) == len(str(CAT))


def test_builder_is_immutable():
    lit = CAT.with_(lighting="golden hour").style("pixel_art").detail("8k").avoiding("text", "watermark")
    assert CAT.lighting == "soft light" and "pixel" not in str(CAT)
    assert str(lit).endswith("golden hour, high detail, 8k. Avoid: text, watermark.")
    with pytest.raises(AttributeError):
        CAT.subject = "a dog"  # type: ignore[misc]


def test_chinese_prompt_renders_library_styles_in_chinese():
    zh = Prompt("一只橙色的猫", "蜷缩在沙发上睡觉", styles=("oil_painting", "impressionism")).avoiding("文字")
    assert str(zh) == "一只橙色的猫，蜷缩在沙发上睡觉，油画，印象派。避免：文字。"
    assert str(zh.with_(language="en")).startswith("一只橙色的猫, 蜷缩在沙发上睡觉, oil painting")


@pytest.mark.parametrize("preset,words", [("realistic", "photorealistic"), ("artistic", "brushstrokes"),
                                          ("cinematic", "cinematic lighting"), ("minimalist", "clean lines"),
                                          ("vivid", "hyper-real"), ("natural", "true to life")])
def test_presets_add_their_phrases(preset, words):
    assert words in str(Prompt("a lighthouse").preset(preset))


def test_unknown_preset_is_refused():
    with pytest.raises(KeyError, match="presets are realistic"):
        Prompt("a lighthouse").preset("glossy")


def test_as_is_prefix_only_where_the_model_rewrites():
    plain = Prompt("a red apple", as_is=True)
    assert plain.render("dall-e-3") == f"{AS_IS_PREFIX} a red apple"
    assert plain.render("gpt-image-2.5-flare") == "a red apple"
    assert Prompt("a red apple").render("dall-e-3") == "a red apple"


def test_limit_check_against_the_model():
    long = Prompt("x" * 1001)
    assert long.fits("gpt-image-2") and not long.fits("dall-e-2")
    with pytest.raises(InvalidRequest) as info:
        long.check("dall-e-2")
    assert info.value.param == "prompt" and "1,000" in str(info.value)
    with pytest.raises(InvalidRequest):
        Prompt().check("gpt-image-2")
    assert CAT.check("gpt-image-2") is CAT


def test_readable_reprs():
    assert repr(CAT).startswith("Prompt(subject='an orange cat'") and repr(CAT).endswith(f"# {len(CAT)} chars")
    assert "<table>" in CAT._repr_html_() and "soft light" in CAT._repr_html_()


def test_expand_gives_every_combination_with_labels():
    variants = expand("a {animal} in {style}", animal=["cat", "fox", "owl"], style=["watercolor", "pixel art"])
    assert len(variants) == 6 and len(set(variants)) == 6
    assert variants[0] == "a cat in watercolor" and variants[0].values == {"animal": "cat", "style": "watercolor"}
    assert variants[-1].label == "owl · pixel art" and isinstance(variants[-1], str)
    assert expand("a {animal}", animal="cat") == ["a cat"]
    assert len(expand(Prompt("a {animal}", styles=("{style}",)), animal=["cat", "fox"], style=["a", "b", "c"])) == 6


def test_expand_refuses_typos():
    with pytest.raises(ValueError, match="no values for style"):
        expand("a {animal} in {style}", animal=["cat"])
    with pytest.raises(ValueError, match="colour not in the template"):
        expand("a {animal}", animal=["cat"], colour=["red"])
    assert placeholders("{a} and {b} and {a}") == ("a", "b")


def test_style_library_contents():
    assert set(styles.GROUPS) == {"painting", "digital", "photography", "movements"}
    assert [len(styles.group(g)) for g in styles.GROUPS] == [9, 7, 7, 6]
    assert styles.find("水彩画").en == "watercolor painting" and styles.find("Pixel Art").zh == "像素艺术"
    assert all(s.en and s.zh for s in styles.STYLES)
    assert styles.find("miyazaki").note  # a living artist: flagged
    assert set(styles.PRESETS) == {"realistic", "artistic", "cinematic", "minimalist"}
    assert set(styles.DALLE3_STYLES) == {"vivid", "natural"}
    with pytest.raises(KeyError):
        styles.group("sculpture")


def test_kit_takes_a_prompt_and_renders_it_for_the_model():
    kit = Kit(offline=True, quiet=True)
    result = kit.generate(CAT.preset("cinematic"), size="1024x1024", quality="low")
    assert result.prompt == str(CAT.preset("cinematic"))
    variant = expand("a {animal}", animal=["cat"])[0]
    assert isinstance(variant, Variant) and kit.generate(variant, quality="low").prompt == "a cat"


def test_four_presets_look_different_on_the_simulator():
    """The notebook's side-by-side: same subject (with a scene word, 'sea'), four presets, four palettes."""
    from PIL import ImageStat

    kit = Kit(offline=True, quiet=True)
    subject = Prompt("a lighthouse on a cliff above the sea")
    means = []
    for name in ("realistic", "artistic", "cinematic", "minimalist"):
        image = kit.generate(subject.preset(name), size="1024x1024", quality="low").pil.convert("RGB")
        means.append(ImageStat.Stat(image).mean)
    gaps = [sum(abs(a - b) for a, b in zip(means[i], means[j])) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) > 30, gaps
