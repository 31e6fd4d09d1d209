"""The official SDK (sync, async, streaming) against the in-process and the served simulator; every response and
event validates against the SDK's pydantic types and the published OpenAPI document (adjusted where it lags)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import subprocess

import httpx2
import jsonschema
import openai
import pytest
from openai.types import ImagesResponse, Model
from openai.types.image_edit_completed_event import ImageEditCompletedEvent
from openai.types.image_edit_partial_image_event import ImageEditPartialImageEvent
from openai.types.image_gen_completed_event import ImageGenCompletedEvent
from openai.types.image_gen_partial_image_event import ImageGenPartialImageEvent
from PIL import Image
from simulator_fixtures import AUTH, Served, aclient, client, decode, openapi_schemas, png, spec_validate

from dalle_kit.simulator import Simulator

SCHEMAS = openapi_schemas()
EVENT_TYPES = {"image_generation.partial_image": (ImageGenPartialImageEvent, "ImageGenPartialImageEvent"),
               "image_generation.completed": (ImageGenCompletedEvent, "ImageGenCompletedEvent"),
               "image_edit.partial_image": (ImageEditPartialImageEvent, "ImageEditPartialImageEvent"),
               "image_edit.completed": (ImageEditCompletedEvent, "ImageEditCompletedEvent")}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Served(tmp_path_factory.mktemp("served"), "--seed", "7")
    yield server
    server.stop()


def check_response(resp: ImagesResponse, size: str) -> list[Image.Image]:
    """Validate one ImagesResponse both ways and return its decoded pictures."""
    body = resp.model_dump(exclude_none=True)
    ImagesResponse.model_validate(body)
    spec_validate(body, "ImagesResponse", SCHEMAS)
    assert resp.size == size and resp.usage and resp.usage.total_tokens > 0
    images = [decode(d.b64_json) for d in resp.data]
    assert all(img.size == tuple(map(int, size.split("x"))) for img in images)
    return images


def check_event(event) -> None:
    model, schema = EVENT_TYPES[event.type]
    assert isinstance(event, model)
    body = event.model_dump(exclude_none=True)
    model.model_validate(body)
    spec_validate(body, schema, SCHEMAS)


def sync_round(c: openai.OpenAI) -> None:
    resp = c.images.generate(model="gpt-image-2", prompt="a lighthouse, watercolor", size="1536x864", n=2,
                             quality="low")
    imgs = check_response(resp, "1536x864")
    assert len(imgs) == 2 and imgs[0].tobytes() != imgs[1].tobytes()
    edit = c.images.edit(model="gpt-image-2.5-flare", prompt="add a hat", size="1024x1024",
                         image=[("a.png", png((1024, 1024)), "image/png"), ("b.png", png((64, 64)), "image/png")])
    check_response(edit, "1024x1024")
    models = c.models.list().data
    assert {m.id for m in models} >= {"gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst"}
    for m in models:
        Model.model_validate(m.model_dump())


def stream_round(c: openai.OpenAI) -> None:
    events = list(c.images.generate(model="gpt-image-2", prompt="a fox", stream=True, partial_images=2,
                                    size="1024x1024", quality="low"))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    for e in events:
        check_event(e)
        assert decode(e.b64_json).size == (1024, 1024)
    edits = list(c.images.edit(model="gpt-image-2", prompt="snow", image=("a.png", png((1024, 1024)), "image/png"),
                               stream=True, partial_images=1))
    assert [e.type for e in edits] == ["image_edit.partial_image", "image_edit.completed"]
    for e in edits:
        check_event(e)


async def async_round(c: openai.AsyncOpenAI) -> None:
    resp = await c.images.generate(model="gpt-image-2.5-sunburst", prompt="a kite", quality="xhigh", size="1024x1024")
    check_response(resp, "1024x1024")
    assert resp.quality == "xhigh"
    stream = await c.images.generate(model="gpt-image-2", prompt="a fox", stream=True, partial_images=2,
                                     quality="low")
    events = [e async for e in stream]
    assert [e.type for e in events][-1] == "image_generation.completed" and len(events) == 3
    for e in events:
        check_event(e)
    got = await asyncio.gather(*(c.images.generate(model="gpt-image-2", prompt=f"cat {i}", quality="low")
                                 for i in range(3)))
    assert len({g.data[0].b64_json for g in got}) == 3


def test_in_process_sync():
    sync_round(client(Simulator(seed=1)))


def test_in_process_stream():
    stream_round(client(Simulator(seed=1)))


def test_in_process_async():
    asyncio.run(async_round(aclient(Simulator(seed=1))))


def test_in_process_async_stream_is_paced():
    """partial_delay spaces the events in real time, also for the async client."""
    sim = Simulator(partial_delay=0.1)

    async def go():
        c = aclient(sim)
        stream = await c.images.generate(model="gpt-image-2", prompt="x", stream=True, partial_images=2,
                                         quality="low")
        loop = asyncio.get_running_loop()
        start, stamps = loop.time(), []
        async for _ in stream:
            stamps.append(loop.time() - start)
        return stamps

    stamps = asyncio.run(go())
    assert len(stamps) == 3 and stamps[-1] >= 0.25


def served_client(served) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=served.url, max_retries=0)


def test_served_sync(served):
    with served_client(served) as c:
        sync_round(c)


def test_served_stream(served):
    with served_client(served) as c:
        stream_round(c)


def test_served_async(served):
    async def go() -> None:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=served.url, max_retries=0) as c:
            await async_round(c)

    asyncio.run(go())


def test_served_never_logs_the_key(served):
    with openai.OpenAI(api_key="sk-very-secret-key-123", base_url=served.url, max_retries=0) as c:
        c.images.generate(model="gpt-image-2", prompt="x", quality="low")
        with pytest.raises(openai.BadRequestError):
            c.images.generate(model="gpt-image-2", prompt="x", quality="bad")  # type: ignore[arg-type]
    log = served.log.read_text() + served.err.read_text()
    assert "POST /v1/images/generations 200" in log and "POST /v1/images/generations 400" in log
    assert "sk-very-secret" not in log and "Bearer" not in log


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_generation_and_stats(served):
    before = served.stats()["by_endpoint"].get("POST /v1/images/generations", {}).get("200", 0)
    body = json.dumps({"model": "gpt-image-2", "prompt": "a red bicycle", "size": "1024x1536", "quality": "low"})
    out = subprocess.run(["curl", "-s", "-S", "--fail-with-body", f"{served.url}/images/generations",
                          "-H", "Content-Type: application/json", "-H", f"Authorization: {AUTH['Authorization']}",
                          "-d", body], capture_output=True, check=True, timeout=30).stdout
    data = json.loads(out)
    spec_validate(data, "ImagesResponse", SCHEMAS)
    blob = base64.b64decode(data["data"][0]["b64_json"])
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(blob))
    img.verify()
    assert img.format == "PNG" and img.size == (1024, 1536)
    stats = served.stats()
    assert stats["by_endpoint"]["POST /v1/images/generations"]["200"] == before + 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_multipart_edit_with_repeated_image_fields(served, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(png((1024, 1024)))
    b.write_bytes(png((32, 32), (0, 0, 255, 255)))
    out = subprocess.run(["curl", "-s", "-S", f"{served.url}/images/edits", "-H", f"Authorization: {AUTH['Authorization']}",
                          "-F", "model=gpt-image-2", "-F", "prompt=gift basket", "-F", f"image[]=@{a}",
                          "-F", f"image[]=@{b}", "-F", "n=2", "-F", "quality=low"],
                         capture_output=True, check=True, timeout=30).stdout
    data = json.loads(out)
    assert len(data["data"]) == 2 and data["size"] == "1024x1024" and data["usage"]["input_tokens_details"][
        "image_tokens"] > 0


def test_spec_really_lags_the_sdk():
    """The adjustments in openapi_schemas() are needed: the unmodified spec rejects what the SDK types allow."""
    raw = json.loads(__import__("simulator_fixtures").OPENAPI.read_text())["components"]["schemas"]
    body = {"created": 1, "data": [], "size": "1536x864", "quality": "xhigh"}
    ImagesResponse.model_validate(body)
    with pytest.raises(jsonschema.ValidationError):
        spec_validate(body, "ImagesResponse", raw)
    spec_validate(body, "ImagesResponse", SCHEMAS)


def test_any_base_url_works():
    sim = Simulator()
    for base in ("http://localhost:1234", "https://api.openai.com/v1", "http://x.test/some/prefix/v1"):
        c = openai.OpenAI(api_key="k", base_url=base, http_client=httpx2.Client(transport=sim.transport()))
        assert c.images.generate(model="gpt-image-2", prompt="x", quality="low").data
    assert sim.stats()["by_endpoint"]["POST /v1/images/generations"]["200"] == 3


# -- property: whatever the simulator accepts, it answers in shapes the SDK and the spec accept -------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PROPERTY_SIM = Simulator(seed=2)
_PROPERTY_CLIENT = client(_PROPERTY_SIM, max_retries=0)


@st.composite
def generation_requests(draw):
    model = draw(st.sampled_from(["gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst"]))
    kw = {"model": model, "prompt": draw(st.text(min_size=1, max_size=60).filter(str.strip)),
          "size": draw(st.sampled_from(["auto", "1024x1024", "1536x864", "1024x640", "768x1152"])),
          "quality": draw(st.sampled_from(["low", "medium", "auto", "high", "xhigh", "max"])),
          "output_format": draw(st.sampled_from(["png", "webp", "jpeg", "gif", "svg"])),
          "n": draw(st.integers(1, 2)), "stream": draw(st.booleans())}
    if kw["output_format"] in ("webp", "jpeg") and draw(st.booleans()):
        kw["output_compression"] = draw(st.integers(0, 100))
    if draw(st.booleans()):
        kw["background"] = draw(st.sampled_from(["transparent", "opaque", "auto"]))
    if kw["stream"] and draw(st.booleans()):
        kw["partial_images"] = draw(st.integers(0, 3))
    if kw["output_format"] == "svg":
        kw["svg"] = {"model": "author"}
    return kw


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generation_requests())
def test_every_accepted_answer_validates(kw):
    verdict = _PROPERTY_SIM.validate("generate", json=kw)
    if verdict is not None:
        with pytest.raises(openai.APIStatusError) as info:
            result = _PROPERTY_CLIENT.images.generate(**kw)
            list(result) if kw.get("stream") else result
        assert (info.value.status_code, info.value.body) == (verdict.status, verdict.body()["error"])
        return
    result = _PROPERTY_CLIENT.images.generate(**kw)
    if kw["stream"]:
        events = list(result)
        assert len(events) == kw["n"] * (kw.get("partial_images", 0) + 1)
        for event in events:
            check_event(event)
        return
    body = result.model_dump(exclude_none=True)
    spec_validate(body, "ImagesResponse", SCHEMAS)
    assert len(result.data) == kw["n"] and result.output_format == kw["output_format"]
    assert result.quality in ("low", "medium", "high", "xhigh", "max")
