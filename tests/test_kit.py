"""Kit on the in-process simulator: results, saving, streaming, async, edits, variations, errors."""

from __future__ import annotations

import asyncio
import io
import warnings

import openai
import pytest
from helpers import mask_bytes, png_bytes
from PIL import Image

from dalle_kit import ImageResult, ImageSet, Kit, Simulator, read_metadata
from dalle_kit.metadata import strip_metadata

CAT = "a white siamese cat"


@pytest.fixture
def kit():
    return Kit(offline=True, quiet=True)


def test_offline_generation_is_a_real_webp_of_the_requested_size(kit, tmp_path):
    result = kit.generate(CAT, model="gpt-image-2.5-flare", size="1536x1024", quality="low", output_format="webp")
    assert isinstance(result, ImageResult)
    assert result.bytes[:4] == b"RIFF" and result.bytes[8:12] == b"WEBP"
    assert result.format == "webp" and result.pil.size == (1536, 1024) and result.size == "1536x1024"
    assert result.usage["total_tokens"] > 0 and result.model == "gpt-image-2.5-flare"
    path = result.save(tmp_path / "cat.webp")
    assert path.read_bytes() == result.bytes
    meta = read_metadata(path)
    assert meta["request"]["prompt"] == CAT
    assert {k: meta["request"][k] for k in ("size", "quality", "output_format", "model")} == {
        "size": "1536x1024", "quality": "low", "output_format": "webp", "model": "gpt-image-2.5-flare"}
    assert meta["usage"] == result.usage


def test_every_image_is_in_the_store_before_it_is_returned(kit):
    result = kit.generate(CAT, size="1024x1024", quality="low")
    assert result.stored_at is not None and result.stored_at.read_bytes() == result.bytes
    assert str(result.stored_at).startswith(str(kit.store.home))
    assert kit.history(1)[0]["sha256"] == result.stored_at.stem


def test_png_save_embeds_provenance_and_keeps_received_bytes(kit, tmp_path):
    result = kit.generate(CAT, quality="low", size="1024x1024")
    assert result.format == "png"
    path = result.save(tmp_path)  # a folder: named from the prompt
    assert path.name.startswith("a-white-siamese-cat-") and path.suffix == ".png"
    assert strip_metadata(path.read_bytes()) == result.bytes
    assert read_metadata(path)["request_key"] == result.request.key


def test_n_images_form_a_set_of_distinct_images(kit):
    images = kit.generate(CAT, n=3, quality="low", size="1024x1024")
    assert isinstance(images, ImageSet) and len(images) == 3
    assert len({img.bytes for img in images}) == 3
    assert [img.index for img in images] == [0, 1, 2]
    assert images._repr_html_().count("<img") == 3


def test_notebook_display_is_a_light_thumbnail_with_caption(kit):
    result = kit.generate(CAT, size="1536x1024", quality="low")
    html = result._repr_html_()
    assert "gpt-image-2.5-flare · 1536x1024 png · low" in html and "data:image/jpeg;base64," in html
    assert len(html) < 40_000
    data, mime = result.thumbnail()
    assert mime == "image/jpeg" and max(Image.open(io.BytesIO(data)).size) == 256
    assert not hasattr(result, "_repr_png_")  # one picture per image in a notebook, not a PNG twin besides
    assert result.b64 and result.pil.mode in ("RGB", "RGBA")


def test_streaming_yields_previews_then_the_image(kit):
    items = list(kit.generate(CAT, stream=True, partial_images=2, size="1024x1024", quality="low"))
    assert [i.partial for i in items] == [0, 1, None]
    final = items[-1]
    assert final.request_id and final.request_id.startswith("req_")
    assert final.usage and final.timings["first_preview"] <= final.timings["total"]
    assert final.stored_at.read_bytes() == final.bytes
    assert len(kit.store.history(kind="partial")) == 2


def test_async_twins(kit):
    async def main():
        one = await kit.agenerate(CAT, quality="low", size="1024x1024")
        stream = await kit.agenerate(CAT, quality="low", size="1024x1024", stream=True, partial_images=1)
        events = [item async for item in stream]
        edited = await kit.aedit(png_bytes((1024, 1024)), "add a hat", quality="low")
        return one, events, edited

    one, events, edited = asyncio.run(main())
    assert one.pil.size == (1024, 1024)
    assert [e.partial for e in events] == [0, None] and events[-1].request_id
    assert edited.request.endpoint == "edit"


def test_edit_with_mask_and_references(kit):
    base = png_bytes((1024, 1024), color=(20, 120, 200))
    result = kit.edit([base, png_bytes((512, 512), color=(250, 200, 0))], "put a sun in the sky",
                      mask=mask_bytes((1024, 1024), (100, 100, 400, 400)), quality="low")
    assert result.pil.size == (1024, 1024) and len(result.request.images) == 2
    meta = result.info()["request"]
    assert meta["mask"]["mimetype"] == "image/png" and len(meta["image"]) == 2 and "data" not in str(meta)


def test_vary_on_a_current_model_is_an_edit(kit):
    source = kit.generate(CAT, quality="low", size="1024x1024")
    variations = kit.vary(source.bytes, n=2, quality="low")
    assert len(variations) == 2 and variations[0].request.endpoint == "edit"
    assert "variation" in variations[0].prompt
    requests = kit.simulator.stats()["requests"]
    assert requests["POST /v1/images/edits"] == 1 and "POST /v1/images/variations" not in requests


def test_legacy_mode_serves_dalle_with_urls_and_variations():
    kit = Kit(offline=True, simulator=Simulator(legacy=True), quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = kit.generate(CAT, model="dall-e-3", size="1024x1024", quality="hd", style="vivid",
                              response_format="url")
        assert result.revised_prompt and result.pil.size == (1024, 1024)
        variation = kit.vary(png_bytes((256, 256), mode="RGBA"), n=1, model="dall-e-2", size="256x256")
    assert variation.request.endpoint == "variation" and variation.pil.size == (256, 256)


def test_moderation_block_is_the_sdk_error_with_a_note(kit):
    with pytest.raises(openai.BadRequestError) as info:
        kit.generate("a moderation-test poster", quality="low")
    assert info.value.code == "moderation_blocked"
    assert any("never retried" in note for note in info.value.__notes__)


def test_retries_belong_to_the_sdk():
    kit = Kit(offline=True, simulator=Simulator(fail={429: 0.5}, seed=1), quiet=True, max_retries=6)
    results = [kit.generate(f"{CAT} {i}", quality="low", size="1024x1024") for i in range(6)]
    assert all(r.pil.size == (1024, 1024) for r in results)
    assert kit.simulator.stats()["statuses"].get("429", 0) > 0


def test_kit_repr_and_offline_notice(capsys):
    kit = Kit()
    assert "offline simulator" in capsys.readouterr().err
    assert repr(kit).startswith("Kit(backend='simulator'")


def test_bare_bytes_fail_at_the_api_but_kit_names_the_upload(kit):
    """The SDK sends bare bytes as application/octet-stream, which the API refuses; Kit sends name and MIME."""
    raw = kit._client.images
    with pytest.raises(openai.BadRequestError) as info:
        raw.edit(image=png_bytes((1024, 1024)), prompt="add a hat", model="gpt-image-2.5-flare")
    assert info.value.code == "unsupported_file_mimetype"
    assert kit.edit(png_bytes((1024, 1024)), "add a hat", quality="low").pil.size == (1024, 1024)


def test_notes_for_billing_and_verification():
    import httpx2

    from dalle_kit.api_errors import note_for

    request = httpx2.Request("POST", "https://api.openai.com/v1/images/generations")

    def error(cls, status, body):
        return cls(f"Error code: {status} - {body['message']}", body=body,
                   response=httpx2.Response(status, request=request, json={"error": body}))

    billing = error(openai.BadRequestError, 400, {"message": "Billing hard limit has been reached", "param": None,
                                                  "type": "invalid_request_error", "code": "billing_hard_limit_reached"})
    verify = error(openai.PermissionDeniedError, 403, {"message": "Your organization must be verified to use the "
                                                       "model `gpt-image-2`.", "type": "invalid_request_error",
                                                       "param": None, "code": None})
    assert "billing" in note_for(billing) and "Verify Organization" in note_for(verify)
    assert note_for(error(openai.BadRequestError, 400, {"message": "Invalid size", "code": "invalid_value"})) is None


def test_streamed_edit_yields_edit_previews(kit):
    items = list(kit.edit(png_bytes((1024, 1024)), "add a hat", stream=True, partial_images=1, quality="low"))
    assert [i.partial for i in items] == [0, None] and items[-1].request.endpoint == "edit"
    assert items[-1].usage["input_tokens_details"]["image_tokens"] > 0


def test_configuration_resolves_argument_then_environment(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://images.example.org/v1")
    online = Kit()
    assert not online.offline and online.backend == "images.example.org" and online.other_host
    assert Kit(base_url="https://api.openai.com/v1").backend == "openai"
    assert Kit(simulator=Simulator(seed=3)).offline  # a simulator given means offline, key or not
    assert "a simulator was given" in capsys.readouterr().err
    assert Kit(offline=True, quiet=True).backend == "simulator"
