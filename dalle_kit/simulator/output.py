"""From a valid :class:`~.rules.Job` to pictures, token usage, response bodies and stream events."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterator
from typing import Any

from PIL import Image

from . import render
from .rules import Job

__all__ = [
    "OUTPUT_TOKENS_1024",
    "encoded",
    "images_response",
    "picture",
    "request_tokens",
    "revised_prompt",
    "scene",
    "stream_events",
    "usage",
]

#: Output image tokens for one 1024x1024 image (gpt-image-1's public table, forum-relayed); scaled by pixels.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}
PARTIAL_TOKENS = 100
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "svg": "image/svg+xml"}


def scene(job: Job, index: int, seed: int) -> render.Scene:
    digest = hashlib.sha256(f"{seed}:{job.fingerprint}:{index}".encode()).digest()
    return render.Scene(prompt=job.prompt or "variation", width=job.width, height=job.height, quality=job.quality,
                        transparent=job.background == "transparent", seed=int.from_bytes(digest[:8], "big"),
                        index=index, n=job.n, label=f"{job.spec.id} · {job.quality} · {job.size}", style=job.style)


def picture(job: Job, sc: render.Scene) -> Image.Image:
    """The RGBA picture for one index of ``job`` (not for GIF/SVG)."""
    size = (job.width, job.height)
    if job.endpoint == "generate":
        return render.draw(sc)
    first = render.fit(job.images[0].image, size)
    if job.endpoint == "variation":
        return render.draw_variation(sc, first)
    refs = [img.image for img in job.images[1:]]  # the first image is the one edited, not a reference
    mask = render.fit(job.mask.image, size) if job.mask else None
    markup = render.fit(job.markup.image, size) if job.markup else None
    return render.draw_edit(sc, first, refs, mask, markup)


def encoded(job: Job, index: int, seed: int) -> tuple[bytes, Image.Image | None]:
    """The file bytes for one index, and the picture they encode (None for GIF/SVG)."""
    sc = scene(job, index, seed)
    if job.output_format == "gif":
        return render.gif_bytes(sc, job.frame_count, job.frame_duration_ms), None
    if job.output_format == "svg":
        return render.svg_bytes(sc), None
    img = picture(job, sc)
    return render.encode(img, job.output_format, job.compression, transparent=job.background == "transparent"), img


def _image_tokens(img: Image.Image) -> int:
    """Input tokens for one reference image, by the 512-pixel tile rule of the vision models."""
    scale = min(1.0, 2048 / max(img.size))
    w, h = img.size[0] * scale, img.size[1] * scale
    scale = min(1.0, 768 / min(w, h))
    return 85 + 170 * math.ceil(w * scale / 512) * math.ceil(h * scale / 512)


def usage(job: Job, images: int, *, details: bool = True) -> dict[str, Any]:
    """Plausible token usage for ``images`` pictures of ``job`` (partial images add 100 output tokens each)."""
    per_image = round(OUTPUT_TOKENS_1024.get(job.quality, 1056) * job.width * job.height / (1024 * 1024))
    output = (per_image + PARTIAL_TOKENS * job.partial_images) * images
    text = max(1, math.ceil(len(job.prompt) / 4))
    image_in = sum(_image_tokens(i.image) for i in job.images)
    if job.images and job.input_fidelity == "high":
        image_in += 4160
    out: dict[str, Any] = {"input_tokens": text + image_in,
                           "input_tokens_details": {"image_tokens": image_in, "text_tokens": text},
                           "output_tokens": output, "total_tokens": text + image_in + output}
    if details:
        out["output_tokens_details"] = {"image_tokens": output, "text_tokens": 0}
    return out


def request_tokens(job: Job) -> int:
    """A request's cost for the tokens-per-minute limit, known before drawing: the ``usage.total_tokens`` of the
    whole request (all ``n`` images, partial images included; ``svg_usage`` is billed apart and not counted)."""
    return int(usage(job, job.n, details=False)["total_tokens"])


def revised_prompt(job: Job) -> str:
    """DALL·E 3's rewritten prompt, simulated: the prompt plus a deterministic style sentence."""
    tone = "vivid, hyper-real and dramatic" if job.style == "vivid" else "natural and understated"
    return (f"{job.prompt.strip().rstrip('.')}. The scene is rendered in a {tone} style with a balanced "
            f"composition, clear focal point and soft, even lighting.")


def images_response(job: Job, files: list[bytes], created: int, urls: list[str] | None = None) -> dict[str, Any]:
    """The ``ImagesResponse`` JSON: GPT models echo settings and usage; DALL·E models only ``data``."""
    data: list[dict[str, Any]] = []
    for i, blob in enumerate(files):
        item: dict[str, Any] = {"url": urls[i]} if urls else {"b64_json": base64.b64encode(blob).decode()}
        if job.spec.revised_prompt:
            item["revised_prompt"] = revised_prompt(job)
        data.append(item)
    body: dict[str, Any] = {"created": created, "data": data}
    if job.legacy:
        return body
    body.update(background=job.background, output_format=job.output_format, quality=job.quality, size=job.size,
                usage=usage(job, len(files)))
    if job.safety_identifier:
        body["safety_identifier"] = job.safety_identifier
    if job.output_format == "svg":
        text = max(1, math.ceil(len(job.prompt) / 4))
        body["svg_usage"] = {"input_tokens": text + 256, "model": job.svg_model or "default", "output_tokens": 1200,
                             "reasoning_tokens": 400, "total_tokens": text + 256 + 1200}
    return body


def sse(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def stream_events(job: Job, seed: int, created: int, partial_delay: float,
                  blocked: dict[str, Any] | None = None) -> Iterator[tuple[float, bytes]]:
    """(delay, SSE bytes) pairs: ``partial_images`` partials then one completed event per image.

    ``blocked`` (an error object) ends the stream after the first image's partials, as an output-stage
    moderation block does.
    """
    prefix = "image_generation" if job.endpoint == "generate" else "image_edit"
    common = {"background": job.background, "output_format": job.output_format, "quality": job.quality,
              "size": job.size}
    for index in range(job.n):
        sc = scene(job, index, seed)
        final = picture(job, sc)
        for k in range(job.partial_images):
            part = render.draw_partial(final, sc, k, job.partial_images)
            blob = render.encode(part, job.output_format, job.compression,
                                 transparent=job.background == "transparent")
            yield partial_delay, sse(f"{prefix}.partial_image", {
                "type": f"{prefix}.partial_image", "b64_json": base64.b64encode(blob).decode(),
                "created_at": created, "partial_image_index": k, **common})
        if blocked is not None:
            yield partial_delay, sse("error", {"type": "error", "error": blocked})
            return
        blob = render.encode(final, job.output_format, job.compression, transparent=job.background == "transparent")
        event = {"type": f"{prefix}.completed", "b64_json": base64.b64encode(blob).decode(), "created_at": created,
                 **common, "usage": usage(job, 1, details=False)}
        if job.safety_identifier:
            event["safety_identifier"] = job.safety_identifier
        yield partial_delay, sse(f"{prefix}.completed", event)
