"""Bad requests get the real API's status and error body; the registry's rules hold parameter by parameter."""

from __future__ import annotations

import datetime as dt
import io
import warnings

import httpx2
import openai
import pytest
from PIL import Image
from simulator_fixtures import AUTH, client, decode, openapi_schemas, png, raw, spec_validate

from dalle_kit import registry
from dalle_kit.simulator import Simulator

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def sim():
    return Simulator(seed=3, today=TODAY)


@pytest.fixture(scope="module")
def c(sim):
    return client(sim, max_retries=0)


def error_of(call) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    body = info.value.body
    assert set(body) >= {"message", "type", "param", "code"}, body  # the API's error object, unwrapped by the SDK
    return info.value


def gen(c, **kw):
    kw.setdefault("model", "gpt-image-2")
    kw.setdefault("prompt", "a cat")
    kw.setdefault("quality", "low")
    return lambda: c.images.generate(**kw)


def edit(c, **kw):
    kw.setdefault("model", "gpt-image-2")
    kw.setdefault("prompt", "a cat")
    kw.setdefault("quality", "low")
    kw.setdefault("image", ("a.png", png((1024, 1024)), "image/png"))
    return lambda: c.images.edit(**kw)


def test_401_without_key(sim):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}):
        r = raw(sim, "POST", "/v1/images/generations", json={"model": "gpt-image-2", "prompt": "x"}, headers=headers)
        assert r.status_code == 401
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and err["code"] is None and err["param"] is None
        assert err["message"].startswith("You didn't provide an API key.")
    r = raw(sim, "GET", "/v1/models")
    assert r.status_code == 401


def test_any_key_is_accepted_and_never_echoed(sim):
    r = raw(sim, "POST", "/v1/images/generations", json={"model": "gpt-image-2", "prompt": "x", "quality": "nope"},
            headers={"Authorization": "Bearer sk-secret-abc"})
    assert r.status_code == 400 and "sk-secret" not in r.text


@pytest.mark.parametrize("kw, status, code, param", [
    ({"quality": "standard"}, 400, "invalid_value", "quality"),
    ({"quality": "xhigh"}, 400, "invalid_value", "quality"),  # xhigh/max are 2.5 (and 2.6) only
    ({"size": "1000x1000"}, 400, "invalid_value", "size"),  # not multiples of 16
    ({"size": "3088x1024"}, 400, "invalid_value", "size"),  # wider than 3:1
    ({"size": "3840x2176"}, 400, "invalid_value", "size"),  # over 3840x2160 pixels
    ({"size": "512x512"}, 400, "invalid_value", "size"),  # below the pixel floor
    ({"size": "9:16"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-1.5", "size": "1536x864"}, 400, "invalid_value", "size"),  # fixed sizes only
    ({"n": 0}, 400, "integer_below_min_value", "n"),
    ({"n": 11}, 400, "integer_above_max_value", "n"),
    ({"prompt": ""}, 400, "string_below_min_length", "prompt"),
    ({"prompt": "x" * 32_001}, 400, "string_above_max_length", "prompt"),
    ({"output_format": "gif", "output_compression": 50}, 400, "invalid_value", "output_compression"),
    ({"output_format": "jpeg", "output_compression": 101}, 400, "integer_above_max_value", "output_compression"),
    ({"output_format": "jpeg", "background": "transparent"}, 400, "invalid_value", "background"),
    ({"output_format": "tiff"}, 400, "invalid_value", "output_format"),
    ({"quality": "xhigh"}, 400, "invalid_value", "quality"),  # gpt-image-2 stops at high
    ({"moderation": "strict"}, 400, "invalid_value", "moderation"),
    ({"stream": True, "partial_images": -1}, 400, "integer_below_min_value", "partial_images"),
    ({"stream": True, "partial_images": 4}, 400, "integer_above_max_value", "partial_images"),
    ({"style": "vivid"}, 400, "unknown_parameter", "style"),
    ({"response_format": "url"}, 400, "unknown_parameter", "response_format"),
    ({"complexity": "extreme", "model": "gpt-image-2.5-flare"}, 400, "invalid_value", "complexity"),
    ({"extra_body": {"foo": 1}}, 400, "unknown_parameter", "foo"),
    ({"extra_body": {"input_fidelity": "high"}}, 400, "unknown_parameter", "input_fidelity"),  # edits only
    ({"model": "gpt-4o"}, 400, "invalid_value", "model"),
    ({"model": "gpt-image-1"}, 404, "model_not_found", None),
    ({"model": "dall-e-3"}, 404, "model_not_found", None),
    ({"model": "gpt-image-2.6-flare", "output_format": "svg", "n": 2}, 400, "invalid_value", "n"),
    ({"model": "gpt-image-2.6-flare", "output_format": "gif", "stream": True}, 400, "invalid_value", "stream"),
    ({"model": "gpt-image-2.6-flare", "frame_count": 4}, 400, "invalid_value", "frame_count"),
    ({"model": "gpt-image-2.6-flare", "output_format": "gif", "frame_count": 17}, 400, "integer_above_max_value",
     "frame_count"),
    ({"model": "gpt-image-2.6-flare", "svg": {"model": "m"}}, 400, "invalid_value", "svg"),
    ({"model": "gpt-image-2.6-flare", "output_format": "svg", "svg": {}}, 400, "missing_required_parameter",
     "svg.model"),
    ({"extra_body": {"n": 2.0}}, 400, "invalid_type", "n"),
    ({"extra_body": {"n": "two"}}, 400, "invalid_type", "n"),
])
def test_generation_errors(c, kw, status, code, param):
    err = error_of(gen(c, **kw))
    assert (err.status_code, err.code, err.param) == (status, code, param), err.body


def test_known_value_the_model_lacks_uses_the_api_wording(c):
    err = error_of(gen(c, quality="xhigh"))
    assert err.body["message"] == "The model 'gpt-image-2' does not support quality 'xhigh'."
    legacy = error_of(gen(c, quality="standard"))
    assert legacy.body["message"] == "Invalid value: 'standard'. Supported values are: 'low', 'medium', 'high', and 'auto'."


def test_boundaries_accepted(c):
    for kw in ({"size": "3072x1024"}, {"size": "1024x3072"}, {"size": "3840x2160"}, {"size": "1024x640"},
               {"n": 10, "size": "1024x1024"}, {"prompt": "x" * 32_000},
               {"output_format": "jpeg", "output_compression": 0}, {"output_format": "webp", "background": "transparent"},
               {"model": "gpt-image-2.5-flare", "quality": "max"}, {"model": "gpt-image-2.6-sunburst", "complexity": "low"},
               {"moderation": "low"}, {"stream": True, "partial_images": 3}, {"size": "AUTO"},
               {"output_compression": 100}, {"output_format": "png", "output_compression": 50},
               {"partial_images": 2}, {"model": "gpt-image-2.5-flare", "complexity": "high"}):
        result = gen(c, **kw)()
        if kw.get("stream"):
            assert [e.type for e in result][-1] == "image_generation.completed"
        else:
            assert result.data, kw


def test_each_current_model_generates(c):
    for spec in registry.all_specs():
        if spec.status(TODAY) != "retired" and "generate" in spec.endpoints:
            assert gen(c, model=spec.id)().data, spec.id


def test_retired_model_names_replacement(c):
    err = error_of(gen(c, model="gpt-image-1"))
    assert "gpt-image-2.5-sunburst" in err.message and "gpt-image-2.5-flare" in err.message
    later = client(Simulator(today=dt.date(2026, 12, 2)), max_retries=0)
    err = error_of(gen(later, model="gpt-image-1.5"))
    assert err.status_code == 404 and err.code == "model_not_found" and "gpt-image-2.6-sunburst" in err.message


def test_missing_model_and_prompt(sim):
    r = raw(sim, "POST", "/v1/images/generations", json={"prompt": "x"}, headers=AUTH)
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["param"]) == (
        400, "missing_required_parameter", "model")
    r = raw(sim, "POST", "/v1/images/generations", json={"model": "gpt-image-2"}, headers=AUTH)
    assert r.json()["error"]["param"] == "prompt"
    r = raw(sim, "POST", "/v1/images/generations", content=b"{not json", headers={**AUTH,
                                                                                   "content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_unknown_route(sim):
    r = raw(sim, "POST", "/v1/images/nothing", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Invalid URL (POST /v1/images/nothing)"


# -- edits -----------------------------------------------------------------------------------------------------
def mask(size, alpha=True, hole=(0, 0, 8, 8)) -> bytes:
    img = Image.new("RGBA" if alpha else "RGB", size, (0, 0, 0, 255) if alpha else (0, 0, 0))
    if alpha:
        img.paste((0, 0, 0, 0), hole)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("kw, code, param", [
    ({"image": png((1024, 1024))}, "unsupported_file_mimetype", "image"),  # raw bytes: application/octet-stream
    ({"image": ("a.gif", png((1024, 1024)), "image/gif")}, "unsupported_file_mimetype", "image"),
    ({"image": ("a.png", b"not an image at all", "image/png")}, "invalid_image_file", "image"),
    ({"image": [("a.png", png((1024, 1024)), "image/png"), ("b.png", b"junk", "image/png")]}, "invalid_image_file",
     "image[1]"),
    ({"image": [("a.png", png((64, 64)), "image/png")] * 17}, "array_above_max_length", "image"),
    ({"mask": ("m.png", mask((1024, 1024), alpha=False), "image/png")}, "invalid_image_file", "mask"),
    ({"mask": ("m.png", mask((512, 512)), "image/png")}, "invalid_image_file", "mask"),
    ({"mask": ("m.png", png((1024, 1024)), "image/png")}, "invalid_image_file", "mask"),  # nothing transparent
    ({"mask": ("m.jpg", mask((1024, 1024)), "image/jpeg")}, "unsupported_file_mimetype", "mask"),
    ({"markup": ("k.png", mask((1024, 1024)), "image/png")}, "unsupported_parameter", "markup"),  # gpt-image-2
    ({"model": "gpt-image-2.5-flare", "markup": ("k.png", mask((1024, 1024)), "image/png"),
      "mask": ("m.png", mask((1024, 1024)), "image/png")}, "invalid_value", "markup"),
    ({"model": "gpt-image-2.5-flare", "markup": ("k.png", png((1024, 1024)), "image/png")}, "invalid_image_file",
     "markup"),  # no transparent pixels
    ({"input_fidelity": "high"}, "invalid_input_fidelity_model", "input_fidelity"),  # gpt-image-2: omit it
    ({"model": "gpt-image-1-mini", "input_fidelity": "high"}, "invalid_value", "input_fidelity"),
    ({"extra_body": {"moderation": "low"}}, "unknown_parameter", "moderation"),  # generations only
    ({"extra_body": {"style": "vivid"}}, "unknown_parameter", "style"),
    ({"model": "gpt-image-2.6-flare", "output_format": "gif", "mask": ("m.png", mask((1024, 1024)), "image/png")},
     "invalid_value", "mask"),
])
def test_edit_errors(c, kw, code, param):
    err = error_of(edit(c, **kw))
    assert (err.status_code, err.code, err.param) == (400, code, param), err.body


def test_edit_accepts_jpeg_webp_and_16_images(c):
    def enc(fmt):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, fmt)
        return buf.getvalue()

    images = [("a.png", png((1024, 1024)), "image/png"), ("b.jpg", enc("JPEG"), "image/jpeg"),
              ("c.webp", enc("WEBP"), "image/webp")] + [("d.png", png((32, 32)), "image/png")] * 13
    assert len(edit(c, image=images)().data) == 1
    assert edit(c, model="gpt-image-1.5", input_fidelity="high")().usage.input_tokens > 4000
    assert edit(c, model="gpt-image-2.5-flare", markup=("k.png", mask((1024, 1024)), "image/png"))().data


def test_edit_size_auto_follows_first_image(c):
    assert edit(c, image=("a.png", png((1536, 864)), "image/png"))().size == "1536x864"
    assert edit(c, model="gpt-image-1.5", image=("a.png", png((1000, 1600)), "image/png"))().size == "1024x1536"


def test_json_edit_with_data_url(sim):
    import base64

    url = "data:image/png;base64," + base64.b64encode(png((1024, 1024))).decode()
    r = raw(sim, "POST", "/v1/images/edits", headers=AUTH,
            json={"model": "gpt-image-2", "prompt": "x", "quality": "low", "images": [{"image_url": url}]})
    assert r.status_code == 200 and r.json()["size"] == "1024x1024"
    r = raw(sim, "POST", "/v1/images/edits", headers=AUTH,
            json={"model": "gpt-image-2", "prompt": "x", "images": [{"file_id": "file-1"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "images[0]"


# -- models ----------------------------------------------------------------------------------------------------
def test_models_list_and_retrieve(c):
    models = {m.id: m for m in c.models.list().data}
    assert "gpt-image-1" not in models and "dall-e-3" not in models
    assert models["gpt-image-1.5"].shutdown_date == "2026-12-01"
    assert models["gpt-image-2"].shutdown_date is None
    assert c.models.retrieve("gpt-image-1-mini").shutdown_date == "2026-12-01"
    err = error_of(lambda: c.models.retrieve("gpt-image-1"))
    assert (err.status_code, err.code) == (404, "model_not_found")


# -- variations and legacy mode --------------------------------------------------------------------------------
def variation(c, **kw):
    kw.setdefault("image", ("a.png", png((256, 256)), "image/png"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return c.images.create_variation(**kw)


def test_variations_refused_for_current_models(c):
    err = error_of(lambda: variation(c, model="gpt-image-2"))
    assert (err.status_code, err.code, err.param) == (400, "invalid_value", "model")
    assert "image edits endpoint" in err.message
    err = error_of(lambda: variation(c))  # no model: dall-e-2, retired
    assert (err.status_code, err.code) == (404, "model_not_found")


@pytest.fixture(scope="module")
def legacy():
    sim = Simulator(seed=5, legacy=True, today=TODAY)
    return sim, client(sim, max_retries=0)


def test_legacy_variations_served_with_fetchable_url(legacy):
    sim, c = legacy
    resp = variation(c, model="dall-e-2", n=2, size="256x256")
    assert len(resp.data) == 2 and resp.usage is None and resp.data[0].revised_prompt is None
    url = resp.data[0].url
    assert url.startswith("http://simulator.test/_simulator/files/")
    with httpx2.Client(transport=sim.transport()) as http:
        got = http.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (256, 256)
    assert resp.data[0].url != resp.data[1].url
    spec_validate(resp.model_dump(exclude_none=True), "ImagesResponse", openapi_schemas())
    with httpx2.Client(transport=sim.transport()) as http:
        assert http.get("http://simulator.test/_simulator/files/nope.png").status_code == 403
        real_clock = sim.clock
        sim.clock = lambda: real_clock() + 3601  # URLs are valid for 60 minutes
        try:
            assert http.get(url).status_code == 403
        finally:
            sim.clock = real_clock
    err = error_of(lambda: variation(c, model="dall-e-2", image=("a.png", png((256, 128)), "image/png")))
    assert err.code == "invalid_image_file"


def test_legacy_dalle3(legacy):
    _sim, c = legacy
    resp = c.images.generate(model="dall-e-3", prompt="a lighthouse", quality="hd", style="natural",
                             size="1792x1024")
    assert resp.data[0].url and resp.data[0].revised_prompt.startswith("a lighthouse")
    assert resp.size is None and resp.usage is None  # DALL·E answers carried only data
    spec_validate(resp.model_dump(exclude_none=True), "ImagesResponse", openapi_schemas())
    b64 = c.images.generate(model="dall-e-3", prompt="x", response_format="b64_json")
    assert decode(b64.data[0].b64_json).size == (1024, 1024)
    for kw, code, param in (({"n": 2}, "integer_above_max_value", "n"), ({"quality": "low"}, "invalid_value", "quality"),
                            ({"size": "1024x1536"}, "invalid_value", "size"),
                            ({"output_format": "png"}, "unsupported_parameter", "output_format"),
                            ({"prompt": "x" * 4001}, "string_above_max_length", "prompt")):
        err = error_of(gen(c, **{"model": "dall-e-3", "quality": "standard", **kw}))
        assert (err.code, err.param) == (code, param)
    assert "dall-e-3" in {m.id for m in c.models.list().data}
    err = error_of(gen(c, model="gpt-image-1"))  # legacy mode revives only DALL·E
    assert err.code == "model_not_found"


def test_legacy_dalle2_edit_and_content_policy(legacy):
    _sim, c = legacy
    resp = c.images.edit(model="dall-e-2", prompt="x", image=("a.png", png((512, 512)), "image/png"),
                         mask=("m.png", mask((512, 512)), "image/png"), size="512x512", response_format="b64_json")
    assert decode(resp.data[0].b64_json).size == (512, 512)
    err = error_of(lambda: c.images.generate(model="dall-e-2", prompt="a moderation-test poster"))
    assert (err.code, err.type) == ("content_policy_violation", "invalid_request_error")


def test_observed_messages_verbatim(c):
    """The texts seen in the wild (notes §4b) come back word for word."""
    assert error_of(gen(c, size="1792x936")).body["message"] == \
        "Invalid size '1792x936'. Width and height must both be divisible by 16."
    assert error_of(gen(c, quality="standard")).body["message"] == \
        "Invalid value: 'standard'. Supported values are: 'low', 'medium', 'high', and 'auto'."
    assert error_of(edit(c, input_fidelity="high")).body["message"] == \
        "The model 'gpt-image-2' does not support the 'input_fidelity' parameter."
    assert error_of(edit(c, image=png((64, 64)))).body["message"] == (
        "Invalid file 'image': unsupported mimetype ('application/octet-stream'). Supported file formats are "
        "'image/jpeg', 'image/png', and 'image/webp'.")


def test_validate_matches_http_answers(sim):
    """Simulator.validate() (no drawing) gives the same verdict as a real request."""
    cases = [("generate", {"json": {"model": "gpt-image-2", "prompt": "x", "quality": "low"}}),
             ("generate", {"json": {"model": "gpt-image-2", "prompt": "x", "quality": "hd"}}),
             ("generate", {"json": {"model": "gpt-image-1", "prompt": "x"}}),
             ("generate", {"json": {"model": "gpt-image-2", "prompt": "x", "bogus": 1}}),
             ("edit", {"data": {"model": "gpt-image-2", "prompt": "x", "quality": "low"},
                       "files": [("image[]", ("a.png", png((1024, 1024)), "image/png"))]}),
             ("edit", {"data": {"model": "gpt-image-2", "prompt": "x"},
                       "files": [("image", ("a.png", png((1024, 1024)), "application/octet-stream"))]}),
             ("edit", {"data": {"model": "gpt-image-2", "prompt": "x", "input_fidelity": "low"},
                       "files": [("image", ("a.png", png((1024, 1024)), "image/png"))]}),
             ("variation", {"data": {"model": "gpt-image-2"}, "files": [("image", ("a.png", png(), "image/png"))]})]
    paths = {"generate": "generations", "edit": "edits", "variation": "variations"}
    for endpoint, kw in cases:
        verdict = sim.validate(endpoint, **kw)
        r = raw(sim, "POST", f"/v1/images/{paths[endpoint]}", headers=AUTH, **kw)
        if verdict is None:
            assert r.status_code == 200, r.text
        else:
            assert (r.status_code, r.json()) == (verdict.status, verdict.body())
