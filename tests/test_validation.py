"""Pre-flight validation: invalid requests are refused with the right ``param`` and nothing is sent."""

from __future__ import annotations

import datetime as dt
import io
import warnings

import httpx2
import openai
import pytest
from helpers import mask_bytes, png_bytes
from PIL import Image

import dalle_kit
from dalle_kit import InvalidRequest, Kit, Simulator, validate, vocabulary

G25 = "gpt-image-2.5-flare"
TODAY = dt.date(2026, 11, 23)  # before the 1.x shutdown, so those rows test their parameter, not the model
IMG = png_bytes((64, 64))
RGBA = png_bytes((64, 64), mode="RGBA")
JPEG = png_bytes((64, 64), fmt="JPEG")
GIF = png_bytes((64, 64), fmt="GIF")


class CountingBackend:
    """A stand-in simulator whose transport counts every request that reaches it."""

    def __init__(self) -> None:
        self.count = 0

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.count += 1
        return httpx2.Response(500, json={"error": {"message": "counting backend", "type": "server_error",
                                                    "param": None, "code": None}})

    def transport(self) -> httpx2.BaseTransport:
        return httpx2.MockTransport(self._handle)

    def async_transport(self) -> httpx2.AsyncBaseTransport:
        async def handle(request: httpx2.Request) -> httpx2.Response:
            return self._handle(request)
        return httpx2.MockTransport(handle)


def _opaque_rgba() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _big_png(side: int = 1400) -> bytes:
    """A noisy RGBA PNG over 4 MB (noise does not compress)."""
    img = Image.frombytes("RGBA", (side, side), bytes(__import__("os").urandom(side * side * 4)))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


# (endpoint, params, expected param at fault)
INVALID = [
    ("generate", dict(prompt="cat", model="gpt-image-2.5-flare", quality="hd"), "quality"),
    ("generate", dict(prompt="cat", model="gpt-image-2", quality="xhigh"), "quality"),
    ("generate", dict(prompt="cat", model=G25, quality="standard"), "quality"),
    ("generate", dict(prompt="cat", model=G25, quality=3), "quality"),
    ("generate", dict(prompt="cat", model="dall-e-3"), "model"),
    ("generate", dict(prompt="cat", model="dall-e-2"), "model"),
    ("generate", dict(prompt="cat", model="gpt-image-1"), "model"),
    ("generate", dict(prompt="cat", model="gpt-imag-2"), "model"),
    ("generate", dict(prompt="cat", model=""), "model"),
    ("generate", dict(prompt="", model=G25), "prompt"),
    ("generate", dict(prompt=None, model=G25), "prompt"),
    ("generate", dict(prompt="x" * 32_001, model=G25), "prompt"),
    ("generate", dict(prompt="cat", model=G25, n=0), "n"),
    ("generate", dict(prompt="cat", model=G25, n=11), "n"),
    ("generate", dict(prompt="cat", model=G25, n=True), "n"),
    ("generate", dict(prompt="cat", model=G25, n="2"), "n"),
    ("generate", dict(prompt="cat", model=G25, size="1000x1000"), "size"),
    ("generate", dict(prompt="cat", model=G25, size="256x256"), "size"),
    ("generate", dict(prompt="cat", model=G25, size="3840x1024"), "size"),
    ("generate", dict(prompt="cat", model=G25, size="4096x2304"), "size"),
    ("generate", dict(prompt="cat", model=G25, size="16:9"), "size"),
    ("generate", dict(prompt="cat", model=G25, size=1024), "size"),
    ("generate", dict(prompt="cat", model="gpt-image-1.5", size="1792x1024"), "size"),
    ("generate", dict(prompt="cat", model=G25, output_format="jpg"), "output_format"),
    ("generate", dict(prompt="cat", model=G25, output_format="tiff"), "output_format"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-flare", output_format="gif", output_compression=80),
     "output_compression"),
    ("generate", dict(prompt="cat", model=G25, output_compression="80"), "output_compression"),
    ("generate", dict(prompt="cat", model=G25, output_format="webp", output_compression=101), "output_compression"),
    ("generate", dict(prompt="cat", model=G25, background="transparent", output_format="jpeg"), "background"),
    ("generate", dict(prompt="cat", model=G25, background="clear"), "background"),
    ("generate", dict(prompt="cat", model=G25, moderation="high"), "moderation"),
    ("generate", dict(prompt="cat", model=G25, style="vivid"), "style"),
    ("generate", dict(prompt="cat", model=G25, response_format="url"), "response_format"),
    ("generate", dict(prompt="cat", model=G25, stream=True, partial_images="2"), "partial_images"),
    ("generate", dict(prompt="cat", model=G25, stream=True, partial_images=4), "partial_images"),
    ("generate", dict(prompt="cat", model=G25, stream="yes"), "stream"),
    ("generate", dict(prompt="cat", model=G25, qualty="high"), "qualty"),
    ("generate", dict(prompt="cat", model="gpt-image-2", quality="max"), "quality"),
    ("generate", dict(prompt="cat", model="dall-e-3", complexity="high"), "model"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", complexity="extreme"), "complexity"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", frame_count=5), "frame_count"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", output_format="gif", frame_count=20),
     "frame_count"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", output_format="svg", n=2), "n"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", output_format="gif", stream=True), "stream"),
    ("generate", dict(prompt="cat", model=G25, safety_identifier=42), "safety_identifier"),
    ("generate", dict(prompt="cat", model="gpt-image-2.6-sunburst", output_format="svg", svg={"model": "m", "x": 1}),
     "svg"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, moderation="low"), "moderation"),
    ("edit", dict(prompt="cat", model=G25), "image"),
    ("edit", dict(prompt="cat", model=G25, image=b"not an image"), "image"),
    ("edit", dict(prompt="cat", model=G25, image=GIF), "image"),
    ("edit", dict(prompt="cat", model=G25, image=[IMG] * 17), "image"),
    ("edit", dict(prompt="cat", model=G25, image=[]), "image"),
    ("edit", dict(prompt="cat", model=G25, image="/no/such/file.png"), "image"),
    ("edit", dict(prompt="cat", model="gpt-image-2", image=IMG, input_fidelity="high"), "input_fidelity"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, input_fidelity="max"), "input_fidelity"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, output_format="gif", mask=mask_bytes()), "mask"),
    ("generate", dict(prompt="cat", model=G25, output_format="svg", stream=True), "stream"),
    ("generate", dict(prompt="cat", model=G25, frame_duration_ms=-1, output_format="gif"), "frame_duration_ms"),
    ("generate", dict(prompt="cat", model=G25, user=["me"]), "user"),
    ("edit", dict(prompt="cat", model="gpt-image-1-mini", image=IMG, input_fidelity="high"), "input_fidelity"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, mask=IMG), "mask"),  # no alpha: black/white mask
    ("edit", dict(prompt="cat", model=G25, image=IMG, mask=_opaque_rgba()), "mask"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, mask=mask_bytes((32, 32), (0, 0, 8, 8))), "mask"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, mask=png_bytes((64, 64), fmt="WEBP")), "mask"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, mask=mask_bytes(), markup=mask_bytes()), "markup"),
    ("edit", dict(prompt="cat", model="gpt-image-2", image=IMG, markup=mask_bytes()), "markup"),
    ("edit", dict(prompt="cat", model=G25, image=IMG, markup=IMG), "markup"),
    ("variation", dict(model=G25, image=IMG), "model"),
    ("variation", dict(model="gpt-image-2", image=IMG, prompt="x"), "prompt"),
    ("transform", dict(model=G25, prompt="x"), "endpoint"),
]


@pytest.mark.parametrize("endpoint,params,param", INVALID, ids=[f"{i}-{c[2]}" for i, c in enumerate(INVALID)])
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_invalid_request_is_refused_with_its_param(endpoint, params, param):
    with pytest.raises(InvalidRequest) as info:
        validate(endpoint, today=TODAY, **params)
    assert info.value.param == param
    assert isinstance(info.value, dalle_kit.DalleKitError) and isinstance(info.value, ValueError)
    assert param in str(info.value)


def test_every_parameter_of_the_vocabulary_has_an_invalid_case():
    """A new vocabulary row needs a refusal case here (or an entry in NEVER_REFUSED saying why it has none)."""
    never_refused: set[str] = set()
    covered = {param.split("[")[0] for _endpoint, _params, param in INVALID}
    assert {row.name for row in vocabulary.rows()} - covered - never_refused == set()
    assert len({repr(c) for c in INVALID}) == len(INVALID)


def test_mask_over_4mb_is_refused():
    big = _big_png()
    assert len(big) > 4 * 1024 * 1024
    with pytest.raises(InvalidRequest) as info:
        validate("edit", prompt="cat", model=G25, image=png_bytes((1400, 1400)), mask=big)
    assert info.value.param == "mask" and "4 MB" in str(info.value)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_nothing_invalid_reaches_the_transport():
    backend = CountingBackend()
    kit = Kit(offline=True, simulator=backend, quiet=True, max_retries=0)
    for endpoint, params, _param in INVALID:
        call = {"generate": kit.generate, "edit": kit.edit}.get(endpoint)
        if endpoint == "edit" and "image" not in params:
            call = None
        with pytest.raises(InvalidRequest):
            if call is None:
                kit.run(kit.request(endpoint, **params))
            else:
                call(**params)
    assert backend.count == 0
    # The counter is live: a valid request does reach it (and fails there, as the stand-in answers 500).
    with pytest.raises(openai.InternalServerError):
        kit.generate("a cat", model=G25)
    assert backend.count == 1


def test_message_names_closest_value_and_the_fix():
    with pytest.raises(InvalidRequest) as info:
        validate("generate", prompt="cat", model=G25, quality="hd")
    assert str(info.value).startswith("quality='hd' is a DALL·E value; gpt-image-2.5-flare accepts low, medium, "
                                      "high, xhigh, max, auto ('hd' was closest to 'high')")
    assert info.value.allowed == ("low", "medium", "high", "xhigh", "max", "auto")


def test_retired_model_names_replacement():
    with pytest.raises(InvalidRequest) as info:
        validate("generate", prompt="cat", model="gpt-image-1")
    assert "gpt-image-2.5-sunburst" in str(info.value) and info.value.allowed == (
        "gpt-image-2.5-sunburst", "gpt-image-2.5-flare")


def test_deprecated_model_warns_then_is_refused_after_shutdown():
    with pytest.warns(FutureWarning, match="2026-12-01"):
        validate("generate", prompt="cat", model="gpt-image-1.5", today=dt.date(2026, 11, 23))
    with pytest.raises(InvalidRequest, match=r"gpt-image-2\.6-sunburst"):
        validate("generate", prompt="cat", model="gpt-image-1.5", today=dt.date(2026, 12, 1))


def test_lenient_host_lets_retired_and_unknown_models_through_with_a_warning():
    with pytest.warns(UserWarning, match="not OpenAI"):
        request = validate("generate", prompt="cat", model="dall-e-3", style="vivid", other_host=True)
    assert request.params["style"] == "vivid"
    with pytest.warns(UserWarning, match="not in dalle_kit's registry"):
        request = validate("generate", prompt="cat", model="flux-pro", other_host=True, size="999x999")
    assert request.model == "flux-pro" and request.params["size"] == "999x999"


def test_a_host_known_to_serve_dalle_sends_it_without_the_retired_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        request = validate("generate", prompt="cat", model="dall-e-3", other_host=True, serves_legacy=True)
        assert request.model == "dall-e-3"
        with Kit(simulator=Simulator(legacy=True), quiet=True) as legacy:  # the simulator's legacy mode
            assert legacy.request("generate", prompt="cat", model="dall-e-2", size="512x512").model == "dall-e-2"
    with Kit(simulator=Simulator(), quiet=True) as kit, pytest.raises(InvalidRequest, match="retired"):
        kit.request("generate", prompt="cat", model="dall-e-2")  # today's simulator refuses it, as OpenAI does


def test_valid_request_is_normalized():
    request = validate("generate", prompt="cat", model=G25, size="1536X1024", quality="LOW",
                       output_format="WebP", n=None)
    assert dict(request.params) == {"prompt": "cat", "size": "1536x1024", "quality": "low", "output_format": "webp"}
    again = validate("generate", prompt="cat", model=G25, size="1536x1024", quality="low", output_format="webp")
    assert request.key == again.key


@pytest.mark.parametrize("size", ["1024x1024", "auto", "1536x864", "3840x2160", "2160x3840", "1024x640",
                                  "1792x1024", "2048x2048"])
def test_valid_free_form_sizes(size):
    assert validate("generate", prompt="cat", model=G25, size=size).params["size"] == size


def test_edit_uploads_carry_filename_and_mime():
    request = validate("edit", prompt="cat", model=G25, image=[IMG, JPEG], mask=mask_bytes())
    names = [u.as_file()[0] for u in request.images]
    assert names == ["image-0.png", "image-1.jpg"]
    assert [u.mimetype for u in request.images] == ["image/png", "image/jpeg"]
    assert request.mask.as_file()[2] == "image/png"


def test_image_inputs_in_every_form(tmp_path):
    path = tmp_path / "in.png"
    path.write_bytes(IMG)
    forms = [str(path), path, IMG, io.BytesIO(IMG), Image.open(io.BytesIO(IMG)), ("mine.png", IMG)]
    for form in forms:
        request = validate("edit", prompt="cat", model=G25, image=form)
        assert request.images[0].size == (64, 64)
    assert validate("edit", prompt="c", model=G25, image=str(path)).images[0].name == "in.png"


def test_no_warnings_for_current_models():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate("generate", prompt="cat", model="gpt-image-2.6-flare", size="1536x864", quality="max")


def test_dalle2_edit_without_mask_needs_transparency_on_a_lenient_host():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InvalidRequest) as info:
            validate("edit", prompt="cat", model="dall-e-2", image=IMG, other_host=True)
        assert info.value.param == "image" and "mask" in str(info.value)
        assert validate("edit", prompt="cat", model="dall-e-2", image=RGBA, other_host=True).images[0].size == (64, 64)


def test_a_parameter_of_another_endpoint_says_so_instead_of_guessing_a_near_name():
    with pytest.raises(InvalidRequest, match="it is a parameter of generate only") as info:
        validate("edit", model="gpt-image-2", prompt="a cat", image=png_bytes(), moderation="low")
    assert info.value.param == "moderation" and "frame_duration_ms" not in str(info.value)
