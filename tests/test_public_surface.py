"""The guarantee, tested generatively: any input to the public surface gives a result or a clear error.

Every call either returns, or raises a ``DalleKitError`` (``InvalidRequest`` naming the parameter for requests),
or the SDK's own ``openai.APIError`` for what only the server can judge; never another exception type. A
request dalle_kit refuses is never counted by the simulator. ``OUTCOMES`` tallies what happened; the last
test prints the figures (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import tempfile
import warnings
from collections import Counter

import openai
import pytest
from helpers import mask_bytes, png_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dalle_kit import DalleKitError, InvalidRequest, Kit, Prompt, Simulator, expand, read_metadata, validate
from dalle_kit import vocabulary as vocab
from dalle_kit.cli import main as cli_main

OUTCOMES: Counter[str] = Counter()
G25 = "gpt-image-2.5-flare"

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=("Cs", "Cc", "Zs", "Mn", "So")), max_size=20),  # surrogates, NUL
    st.sampled_from(["", " ", "\x00", "\u202ea cat\u202c", "１０２４x１０２４", "1024x1024²", "x" * 100_000,
                     "猫 " * 50, "auto", "AUTO", "low", "png", "transparent", "\udcff", "\n\r\t"]),
)
ODD_NUMBER = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from([0, -1, 1, 2, 10, 11, 2**31, math.nan, math.inf, -0.0, True, False]))
ODD = st.one_of(st.none(), ODD_TEXT, ODD_NUMBER, st.binary(max_size=32),
                st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
                st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                st.sampled_from([object(), b"\x89PNG", io.BytesIO(b"junk"), (1, 2), {"model": 1}]))
ODD_IMAGE = st.one_of(ODD, st.sampled_from([png_bytes((64, 64)), png_bytes((64, 64), fmt="JPEG"),
                                            png_bytes((64, 64), mode="RGBA"), png_bytes((64, 64))[:40],
                                            mask_bytes(), png_bytes((64, 64), fmt="GIF")]))
NAMES = st.sampled_from(sorted({row.name for row in vocab.rows()} | {"qualty", "seed", "image", "mask"}))


def _tally(call) -> object:
    """Run ``call``; an allowed outcome is counted, anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except InvalidRequest as exc:
        assert exc.param and exc.param.split("[")[0].split(".")[0] in str(exc), exc
        OUTCOMES["InvalidRequest"] += 1
        return exc
    except DalleKitError as exc:
        assert str(exc)
        OUTCOMES["DalleKitError"] += 1
        return exc
    except openai.APIError as exc:
        OUTCOMES["API error"] += 1
        return exc
    OUTCOMES["result"] += 1
    return result


@st.composite
def requests(draw) -> tuple[str, dict]:
    endpoint = draw(st.sampled_from(["generate", "generate", "edit", "variation", "transform", None]))
    params = {name: draw(ODD_IMAGE if name in ("image", "mask", "markup") else ODD)
              for name in draw(st.lists(NAMES, max_size=4, unique=True))}
    if draw(st.booleans()):
        params["model"] = draw(st.sampled_from([G25, "gpt-image-2", "gpt-image-2.6-flare", "dall-e-2"]))
    if draw(st.booleans()):
        params["prompt"] = draw(st.sampled_from(["a cat", "猫"]))
    if endpoint == "edit" and draw(st.booleans()):
        params["image"] = png_bytes((64, 64))
    return endpoint, params


@given(requests())
def test_validate_answers_any_request_with_a_request_or_a_named_refusal(case):
    endpoint, params = case
    _tally(lambda: validate(endpoint, **params))


@settings(max_examples=max(40, settings.default.max_examples // 3), deadline=None,  # each call draws a picture
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests(), st.booleans())
def test_kit_calls_on_the_simulator_never_send_what_they_refuse(case, use_async):
    endpoint, params = case
    params = {k: v for k, v in params.items() if k not in ("stream", "n", "size", "quality")} | {"quality": "low"}
    kit = Kit(simulator=Simulator(seed=1), quiet=True, max_retries=0)
    before = kit.simulator.stats()["total"]
    image, prompt = params.pop("image", png_bytes((64, 64))), params.pop("prompt", "a cat")
    calls = {
        "generate": (lambda: asyncio.run(kit.agenerate(prompt, **params))) if use_async
        else (lambda: kit.generate(prompt, **params)),
        "edit": (lambda: asyncio.run(kit.aedit(image, prompt, **params))) if use_async
        else (lambda: kit.edit(image, prompt, **params)),
    }
    outcome = _tally(calls.get(endpoint or "", lambda: kit.vary(image, **params)))
    if isinstance(outcome, DalleKitError):
        assert kit.simulator.stats()["total"] == before, "a refused request reached the simulator"


@given(st.dictionaries(st.sampled_from(["subject", "action", "setting", "styles", "composition", "lighting",
                                        "camera", "details", "presets", "avoid", "language", "as_is"]),
                       ODD, max_size=4), st.sampled_from([None, G25, "dall-e-3", "nope"]))
def test_prompt_parts_of_any_type(parts, model):
    built = _tally(lambda: Prompt(**parts))
    if isinstance(built, Prompt):
        _tally(lambda: built.render(model))
        _tally(lambda: built.check(model))
        _tally(lambda: (repr(built), built._repr_html_()))


@given(st.one_of(ODD_TEXT, ODD), st.dictionaries(st.text(max_size=6), ODD, max_size=3))
def test_expand_any_template(template, values):
    _tally(lambda: expand(template, **{k: v for k, v in values.items() if k.isidentifier()}))


@given(ODD_IMAGE)
def test_read_metadata_of_anything(source):
    _tally(lambda: read_metadata(source))


@settings(max_examples=max(20, settings.default.max_examples // 5), deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["models", "generate", "serve", "--help", "-o", "--size", "--debug",
                                           "--current", "--quality", "-n"]), ODD_TEXT.filter(lambda s: "\x00" not in s)),
                max_size=4))
def test_cli_argument_handling(argv):
    if "serve" in argv:
        return  # serve binds a port and runs until stopped: its own tests cover it
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):  # generate saves into the folder
        try:
            code = cli_main([a for a in argv if a != "--debug"])
        except SystemExit as exit_info:  # argparse: usage errors and --help
            code = exit_info.code
    OUTCOMES[f"cli exit {code}"] += 1
    assert code in (0, 1, 2, 3, 4, 5, 6), code
    if code == 1:
        pytest.fail(f"unexpected error for argv={argv!r}")


@pytest.fixture(autouse=True, scope="module")
def _figures():
    """Print the tally of outcomes when the module is done (``pytest -s`` shows it)."""
    yield
    print("\npublic-surface probes:", dict(sorted(OUTCOMES.items())))
