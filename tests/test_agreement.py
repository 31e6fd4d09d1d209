"""Property test: the client-side validator and the simulator agree on what the API accepts.

Each example is a random mix of valid and invalid parameters. The request is built by the official SDK (so
the bytes are what a real call sends) and handed to the simulator's own rule code. A request the validator
accepts is sent in its normalized form and must be accepted; a request it refuses is sent as given and must be
refused. Drawing is skipped (the simulator's ``check`` decides without rendering), so thousands run quickly:
the ``ci`` profile runs a fixed few hundred per endpoint, ``--hypothesis-profile=thorough`` thousands.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings

import httpx2
import openai
import pytest
from helpers import mask_bytes, png_bytes
from hypothesis import event, given
from hypothesis import strategies as st
from PIL import Image

from dalle_kit import InvalidRequest, registry, validate
from dalle_kit.simulator.forms import ApiError, parse_body
from dalle_kit.simulator.rules import check

TODAY = dt.date(2026, 11, 23)


class Capture:
    """An SDK client whose transport keeps the last request and answers an empty success."""

    def __init__(self) -> None:
        self.last: httpx2.Request | None = None
        self.client = openai.OpenAI(api_key="sk-capture", base_url="http://capture.invalid/v1", max_retries=0,
                                    http_client=httpx2.Client(transport=httpx2.MockTransport(self._handle)))

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.last = request
        if b'"stream":true' in request.content or b'name="stream"\r\n\r\ntrue' in request.content:
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"")
        return httpx2.Response(200, json={"created": 0, "data": []})

    def simulator_verdict(self, endpoint: str, kwargs: dict) -> ApiError | None:
        method = {"generate": self.client.images.generate, "edit": self.client.images.edit}[endpoint]
        result = method(**kwargs)
        if hasattr(result, "close"):
            result.close()
        body = self.last.read()
        try:
            check(parse_body(self.last.headers.get("content-type"), body), endpoint, legacy=False, today=TODAY)
        except ApiError as err:
            return err
        return None


CAPTURE = Capture()


def _encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 200, 90) if mode == "RGB" else (10, 200, 90, 255)).save(buffer, format=fmt)
    return buffer.getvalue()


IMAGES = {
    "png": ("in.png", png_bytes((64, 64)), "image/png"),
    "jpeg": ("in.jpg", _encoded("JPEG"), "image/jpeg"),
    "webp": ("in.webp", _encoded("WEBP"), "image/webp"),
    "gif": ("in.gif", _encoded("GIF"), "image/gif"),
    "rgba": ("in.png", png_bytes((64, 64), mode="RGBA"), "image/png"),
    "wide": ("wide.png", png_bytes((96, 64)), "image/png"),
}
MASKS = {
    "ok": ("mask.png", mask_bytes(), "image/png"),
    "opaque": ("mask.png", png_bytes((64, 64), mode="RGBA"), "image/png"),
    "no_alpha": ("mask.png", png_bytes((64, 64)), "image/png"),
    "small": ("mask.png", mask_bytes((32, 32), (0, 0, 8, 8)), "image/png"),
    "webp": ("mask.webp", _encoded("WEBP", "RGBA"), "image/webp"),
}

# Pools lean towards valid values so that a good share of examples is accepted (the statistics show it).
CURRENT = tuple(s.id for s in registry.all_specs() if s.status(TODAY) != "retired")
MODELS = st.sampled_from(CURRENT * 3 + registry.model_ids() + ("gpt-image-3",))
SIZES = st.one_of(
    st.sampled_from(["auto", "1024x1024", "1536x1024", "1024x1536", "256x256", "512x512", "1792x1024",
                     "1024x1792", "1000x1000", "3840x2160", "2160x3840", "4096x4096", "16:9"]),
    st.builds(lambda w, h: f"{w * 16}x{h * 16}", st.integers(20, 250), st.integers(20, 250)),
)
PROMPTS = st.sampled_from(["a white siamese cat"] * 12 + ["", "   ", "猫 " * 600, "x" * 4001, "x" * 32_001])
OPTIONAL = {
    "n": st.one_of(st.integers(1, 4), st.integers(-1, 12)),
    "size": SIZES,
    "quality": st.sampled_from(["low", "medium", "high", "xhigh", "max", "auto", "standard", "hd", "ultra"]),
    "output_format": st.sampled_from(["png", "webp", "jpeg", "gif", "svg", "jpg"]),
    "output_compression": st.one_of(st.integers(0, 100), st.integers(-5, 105)),
    "background": st.sampled_from(["transparent", "opaque", "auto", "clear"]),
    "stream": st.booleans(),
    "partial_images": st.one_of(st.integers(0, 3), st.integers(-1, 4)),
    "response_format": st.sampled_from(["url", "b64_json"]),
    "complexity": st.sampled_from(["low", "high", "extreme"]),
    "frame_count": st.one_of(st.integers(2, 16), st.integers(0, 20)),
    "frame_duration_ms": st.integers(-10, 700_000),
    "svg": st.sampled_from([{"model": "gpt-5"}, {"model": "gpt-5", "reasoning": {"effort": "high"}},
                            {"model": "gpt-5", "x": 1}, {"reasoning": {"effort": "low"}},
                            {"model": "gpt-5", "reasoning": {"effort": "huge"}}, {"model": "gpt-5", "reasoning": {"y": 1}}]),
    "safety_identifier": st.sampled_from(["user-123"]),
}
GENERATE_ONLY = {"moderation": st.sampled_from(["low", "auto", "high"]), "style": st.sampled_from(["vivid", "natural"])}
EDIT_ONLY = {"input_fidelity": st.sampled_from(["high", "low", "max"])}


@st.composite
def requests(draw, endpoint: str) -> dict:
    pool = {**OPTIONAL, **(GENERATE_ONLY if endpoint == "generate" else EDIT_ONLY)}
    names = draw(st.lists(st.sampled_from(sorted(pool)), max_size=4, unique=True))
    params = {name: draw(pool[name]) for name in names}
    params["model"] = draw(MODELS)
    params["prompt"] = draw(PROMPTS)
    if endpoint == "edit":
        kinds = draw(st.lists(st.sampled_from(["png", "jpeg", "webp"] * 3 + sorted(IMAGES)), min_size=1, max_size=3))
        params["image"] = IMAGES[kinds[0]] if len(kinds) == 1 else [IMAGES[k] for k in kinds]
        extra = draw(st.sampled_from(["none", "none", "mask", "markup", "both"]))
        if extra in ("mask", "both"):
            params["mask"] = MASKS[draw(st.sampled_from(["ok"] * 3 + sorted(MASKS)))]
        if extra in ("markup", "both"):
            params["markup"] = MASKS[draw(st.sampled_from(["ok", "opaque", "small"]))]
    return params


def _agree(endpoint: str, params: dict) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            request = validate(endpoint, today=TODAY, **params)
    except InvalidRequest as refusal:
        event(f"refused: {refusal.param.split('[')[0]}")
        verdict = CAPTURE.simulator_verdict(endpoint, params)
        assert verdict is not None, f"validator refused ({refusal.param}: {refusal}) but the simulator accepts"
        return
    event("accepted")
    verdict = CAPTURE.simulator_verdict(endpoint, request.sdk_kwargs())
    assert verdict is None, f"validator accepted but the simulator answers {verdict.status}: {verdict.body()}"


@given(requests("generate"))
def test_generate_rules_agree(params):
    _agree("generate", params)


@given(requests("edit"))
def test_edit_rules_agree(params):
    _agree("edit", params)


def test_both_sides_really_judge():
    """Guard against a vacuous pass: each side refuses an obviously bad request and accepts a good one."""
    good = {"model": "gpt-image-2", "prompt": "a cat", "size": "1536x864"}
    assert CAPTURE.simulator_verdict("generate", good) is None
    assert CAPTURE.simulator_verdict("generate", {**good, "size": "1000x1000"}) is not None
    with pytest.raises(InvalidRequest):
        validate("generate", **{**good, "size": "1000x1000"})
