"""compare(): axes in every form, cells validated before sending (refused ones never sent), the plan and its
confirmation, one batch through the engine, zero-request re-runs, and ``dalle-kit compare``. The simulator's
counters (``sim.stats()``) are the witness of what was sent."""

from __future__ import annotations

import builtins

import pytest

from dalle_kit import InvalidArgument, Kit, Prompt, expand, styles
from dalle_kit.cli import main
from dalle_kit.compare import Axis, Declined, cell_params, compare, parse_axis, plan

LOW = {"quality": "low"}


@pytest.fixture
def kit():
    with Kit(offline=True, quiet=True) as kit:
        yield kit


def sent(kit: Kit) -> int:
    return kit.simulator.stats()["total"]


def no_input(prompt: str = "") -> str:
    raise AssertionError(f"input() was called: {prompt}")


# -- axes ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [{"quality": ["low", "high"]}, ("quality", ["low", "high"]), "quality=low,high",
                                  " quality = low, high ", {"quality": "low,high"}])
def test_every_axis_form_reads_the_same(spec):
    axis = parse_axis(spec)
    assert (axis.name, axis.values, axis.kind, axis.labels) == ("quality", ("low", "high"), "param", ("low", "high"))


def test_string_form_numbers_become_ints_and_special_axes():
    assert parse_axis("n=1,2").values == (1, 2)
    assert parse_axis("style=natural,vivid").kind == "style"
    assert parse_axis(("preset", ["cinematic"])).kind == "preset"
    sr = parse_axis(("prompt", ["cat", "fox"]))
    assert sr.kind == "replace" and sr.title == "prompt: cat →"
    variants = parse_axis(expand("a {animal} at dusk", animal=["cat", "fox"]))
    assert variants.kind == "variants" and variants.labels == ("cat", "fox")
    assert parse_axis(["a red kite", "a blue whale"]).labels == ("a red kite", "a blue whale")
    axis = Axis("size", ("1024x1024",))
    assert parse_axis(axis) is axis


@pytest.mark.parametrize(("spec", "named"), [
    ("foo=1,2", "'foo'"), ("quality", "no '='"), ("quality=", "no values"), ({"quality": [], }, "no values"),
    ({"quality": ["low"], "size": ["auto"]}, "one key"), (42, "not an axis"), ({"quality": 3}, "must be a list"),
    ("preset=shiny", "no preset 'shiny'"), ("stream=true", "'stream'"), (("prompt", [1, 2]), "texts"),
])
def test_a_bad_axis_names_itself_and_the_allowed_forms(spec, named):
    with pytest.raises(InvalidArgument) as err:
        parse_axis(spec, "y")
    assert named in str(err.value) and str(err.value).startswith("y")
    if "axis" in str(err.value):
        assert "quality=low,high" in str(err.value)


def test_axes_that_clash_are_refused(kit):
    with pytest.raises(InvalidArgument, match="two axes"):
        plan(kit, "a cat", "quality=low,high", "quality=medium")
    with pytest.raises(InvalidArgument, match="both an axis and a fixed"):
        plan(kit, "a cat", "quality=low,high", quality="low")
    with pytest.raises(InvalidArgument, match="'dog' is not in the prompt"):
        plan(kit, "a cat", ("prompt", ["dog", "fox"]))
    with pytest.raises(InvalidArgument, match="needs a prompt"):
        plan(kit, None, "quality=low")


def test_style_words_follow_the_model():
    picks = [(parse_axis("style=vivid"), "vivid")]
    today = cell_params("a white siamese cat", {}, picks, "gpt-image-2.5-flare")
    assert today["prompt"].render() == f"a white siamese cat, {styles.DALLE3_STYLES['vivid'][0]}"
    assert "style" not in today
    legacy = cell_params("a white siamese cat", {}, picks, "dall-e-3")  # DALL·E 3 takes style= itself
    assert legacy["style"] == "vivid" and legacy["prompt"] == "a white siamese cat"
    oil = cell_params("a cat", {}, [(parse_axis("style=oil_painting"), "oil_painting")], "gpt-image-2")
    assert oil["prompt"].render() == "a cat, oil painting"
    fox = cell_params(Prompt("a cat", setting="on a cat tree"), {}, [(parse_axis("prompt=cat,fox"), "fox")], "x")
    assert fox["prompt"].render() == "a fox, on a cat tree"  # the first occurrence only


# -- running ---------------------------------------------------------------------------------------------------

def test_refused_cells_are_listed_left_empty_and_never_sent(kit, capsys):
    grid = compare(kit, "a white siamese cat", x="quality=low,xhigh", z="model=gpt-image-2.5-flare,gpt-image-2",
                   confirm=False)
    refused = {k: o for k, o in grid.cells.items() if o.source == "invalid"}
    assert list(refused) == [(0, 1, 1)]
    assert "xhigh" in refused[(0, 1, 1)].reason() and not refused[(0, 1, 1)].images
    assert sent(kit) == 3 == grid.result.sent
    err = capsys.readouterr().err
    assert "4 cells; 3 to send (est. $" in err and "1 refused" in err and "quality=xhigh, model=gpt-image-2" in err
    assert "1 invalid" in grid.summary() and grid.summary().startswith("compare 1×2×2 (quality × model)")


def test_in_a_notebook_the_plan_is_a_calm_html_note_not_stderr(kit, capsys, monkeypatch):
    shown: list[dict] = []
    monkeypatch.setattr("dalle_kit.compare.in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    p = plan(kit, "a white siamese cat", x="quality=low,xhigh", y="model=gpt-image-2.5-flare,gpt-image-2")
    p.show()
    assert capsys.readouterr().err == "" and len(shown) == 1
    note = shown[0]["text/html"]
    assert "class='dk-plan'" in note and "color:#777" in note and "4 cells; 3 to send" in note
    assert "<td" in note and "quality=xhigh, model=gpt-image-2" in note and "not accepted" in note
    assert shown[0]["text/plain"] == str(p)


def test_a_rerun_sends_nothing(kit):
    first = compare(kit, "a lighthouse", x="quality=low,medium", y="style=natural,vivid", confirm=False,
                    progress=False)
    assert sent(kit) == 4 and first.result.counts()["api"] == 4
    again = compare(kit, "a lighthouse", x="quality=low,medium", y="style=natural,vivid", progress=False,
                    confirm_above=0.0)  # everything is in the store: nothing to confirm, nothing sent
    assert sent(kit) == 4 and again.result.sent == 0 and again.result.counts()["store"] == 4
    assert "4 from the store" in again.summary()
    assert [o.images[0].bytes for o in again.cells.values()] == [o.images[0].bytes for o in first.cells.values()]
    compare(kit, "a lighthouse", x="quality=low,medium", y="style=natural,vivid", fresh=True, confirm=False,
            progress=False)
    assert sent(kit) == 8


def test_above_the_threshold_it_asks_and_no_sends_nothing(kit, monkeypatch):
    asked = []
    monkeypatch.setattr(builtins, "input", lambda text="": asked.append(text) or "n")
    grid = compare(kit, "a fox", x="quality=low,medium", confirm_above=0.0, progress=False)
    assert sent(kit) == 0 and len(asked) == 1 and "Send 2 requests (est. $" in asked[0]
    assert all(isinstance(o.error, Declined) and o.source == "not sent" for o in grid.cells.values())
    monkeypatch.setattr(builtins, "input", lambda text="": "yes")
    compare(kit, "a fox", x="quality=low,medium", confirm_above=0.0, progress=False)
    assert sent(kit) == 2


def test_below_the_threshold_or_confirm_false_it_does_not_ask(kit, monkeypatch):
    monkeypatch.setattr(builtins, "input", no_input)
    compare(kit, "a fox", x="quality=low,medium", progress=False)  # about $0.04, under $0.50
    compare(kit, "a fox", x="quality=high,max", confirm=False, progress=False)
    assert sent(kit) == 4


def test_no_way_to_ask_counts_as_no(kit, monkeypatch):
    def eof(text=""):
        raise EOFError

    monkeypatch.setattr(builtins, "input", eof)
    grid = compare(kit, "a fox", x="quality=low", confirm_above=0.0, progress=False)
    assert sent(kit) == 0 and "not confirmed" in grid.cells[(0, 0, 0)].reason()


def test_prompt_search_and_replace_and_variants(kit):
    grid = compare(kit, "a white siamese cat on a cat tree", x=("prompt", ["cat", "fox"]), confirm=False,
                   progress=False, **LOW)
    assert [o.prompt for o in grid.cells.values()] == ["a white siamese cat on a cat tree",
                                                       "a white siamese fox on a cat tree"]
    grid = compare(kit, None, x=expand("a {animal} in snow", animal=["hare", "owl"]), y="size=1024x1024,1536x1024",
                   confirm=False, progress=False, **LOW)
    assert grid.shape == (2, 2, 1) and grid.cells[(1, 1, 0)].images[0].size == "1536x1024"
    assert grid.cells[(1, 1, 0)].prompt == "a owl in snow" and grid.legend["fixed"]["quality"] == "low"


def test_cells_with_several_images_show_the_first_with_a_count(kit):
    grid = compare(kit, "a kite", x="n=1,2", confirm=False, progress=False, **LOW)
    assert [len(o.images) for o in grid.cells.values()] == [1, 2] and len(grid.images) == 3
    assert "×2" in grid.to_html() and "1 of 2" in grid.to_html()


def test_the_legend_says_how_styles_became_words(kit):
    grid = compare(kit, "a white siamese cat", x="style=natural,vivid", confirm=False, progress=False, **LOW)
    words = " ".join(grid.legend["words"])
    assert "DALL·E 3's style parameter" in words and styles.DALLE3_STYLES["vivid"][0] in words
    assert grid.legend["fixed"] == {"quality": "low", "model": kit.model}


# -- the command -----------------------------------------------------------------------------------------------

def test_cli_writes_the_labelled_grid_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "grid.png"
    code = main(["compare", "a white siamese cat", "--x", "quality=low,medium", "--y", "style=natural,vivid",
                 "-o", str(out), "--yes"])
    stdout, stderr = capsys.readouterr()
    assert code == 0 and out.stat().st_size > 10_000
    assert stdout.splitlines() == [str(out), stdout.splitlines()[-1]]
    assert "compare 2×2 (style × quality): 4 requests → 4 images, 4 made" in stdout
    assert "compare: 2 × 2 = 4 cells; 4 to send" in stderr
    code = main(["compare", "a white siamese cat", "--x", "quality=low,medium", "--y", "style=natural,vivid",
                 "-o", str(tmp_path / "grid.html"), "-q"])
    stdout, stderr = capsys.readouterr()
    assert code == 0 and "4 from the store" in stdout and stderr == ""


def test_cli_errors_and_exit_codes(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "grid.png")
    assert main(["compare", "a cat", "--x", "colour=red,blue", "-o", out]) == 2
    assert "'colour' cannot be an axis" in capsys.readouterr().err
    assert main(["compare", "a cat", "--x", "quality=low", "-o", str(tmp_path / "grid.gif")]) == 2
    assert "name a .png" in capsys.readouterr().err
    code = main(["compare", "a cat", "--x", "quality=low,xhigh", "--model", "gpt-image-2", "-o", out, "-q"])
    stdout, _ = capsys.readouterr()
    assert code == 2 and "[quality=xhigh]  invalid, not sent" in stdout and "1 made" in stdout
    monkeypatch.setattr(builtins, "input", lambda text="": "n")
    code = main(["compare", "a dog", "--x", "quality=low", "--confirm-above", "0", "-o", str(tmp_path / "no.png")])
    assert code == 6 and "pass --yes" in capsys.readouterr().err and not (tmp_path / "no.png").exists()
