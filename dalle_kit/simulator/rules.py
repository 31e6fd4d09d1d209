"""The API's rules, enforced from the model registry's data with the simulator's own code.

:func:`check` turns a parsed body into a :class:`Job` or raises :class:`~.forms.ApiError` with the status and
error body the real API uses. Checks run in a fixed order, the same as dalle_kit's client-side validator: unknown parameters, model, prompt,
n, size, quality, stream and partial_images, output settings (format, compression, background, GIF, SVG),
complexity, moderation, input_fidelity, style, response_format, identifiers, then the files, so the first problem found is the one reported.

Error codes: ``unknown_parameter`` (not a parameter of the endpoint, and ``response_format``/``style`` sent to a
GPT image model, as observed), ``unsupported_parameter`` (a parameter the chosen model lacks), ``invalid_type``,
``invalid_value``, ``integer_below_min_value``/``integer_above_max_value``, ``string_below_min_length``/
``string_above_max_length``, ``missing_required_parameter``, ``invalid_input_fidelity_model`` (observed),
``model_not_found`` (404, retired models) and the file codes of :mod:`.uploads`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from ..registry import ModelSpec, all_specs, get, parse_size
from .forms import ApiError, Form
from .params import Reader, combo, enum_error, unknown, unsupported
from .uploads import InputImage, read_images, read_mask, read_markup

__all__ = ["Job", "check", "served", "GEN_PARAMS", "EDIT_PARAMS", "VARIATION_PARAMS"]

GEN_PARAMS = frozenset({"prompt", "model", "n", "size", "quality", "output_format", "output_compression",
                        "background", "moderation", "stream", "partial_images", "response_format", "style", "user",
                        "safety_identifier", "complexity", "frame_count", "frame_duration_ms", "svg"})
EDIT_PARAMS = frozenset({"image", "images", "mask", "markup", "prompt", "model", "n", "size", "quality",
                         "output_format", "output_compression", "background", "stream", "partial_images",
                         "input_fidelity", "response_format", "user", "safety_identifier", "complexity",
                         "frame_count", "frame_duration_ms", "svg"})
VARIATION_PARAMS = frozenset({"image", "model", "n", "response_format", "size", "user"})
_PARAMS = {"generate": GEN_PARAMS, "edit": EDIT_PARAMS, "variation": VARIATION_PARAMS}
_ENUMS = {
    "quality": ("low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"),
    "output_format": ("png", "webp", "jpeg", "gif", "svg"),
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "response_format": ("url", "b64_json"),
    "style": ("vivid", "natural"),
    "input_fidelity": ("high", "low"),
    "complexity": ("low", "medium", "high"),
}
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
AUTO_QUALITY = "medium"
PORTRAIT_WORDS = ("portrait", "vertical", "tall", "poster", "phone wallpaper")
LANDSCAPE_WORDS = ("landscape", "panorama", "panoramic", "wide", "banner", "widescreen")


@dataclass(frozen=True)
class Job:
    """A valid request, resolved: everything the renderer and the response need."""

    endpoint: str  # generate | edit | variation
    spec: ModelSpec
    prompt: str
    n: int
    width: int
    height: int
    quality: str  # resolved, never "auto"
    output_format: str  # png | webp | jpeg | gif | svg
    compression: int | None
    background: str  # transparent | opaque (resolved)
    stream: bool
    partial_images: int
    style: str | None = None
    response_format: str | None = None  # legacy models only
    complexity: str | None = None
    input_fidelity: str | None = None
    frame_count: int = 9
    frame_duration_ms: int = 200
    svg_model: str | None = None
    safety_identifier: str | None = None
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    markup: InputImage | None = None
    fingerprint: str = field(default="", compare=False)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def legacy(self) -> bool:
        return self.spec.family == "dall-e"


def served(spec: ModelSpec, *, legacy: bool, today: dt.date | None) -> bool:
    """Whether the simulator answers for ``spec``: not retired, or a DALL·E model in legacy mode."""
    return spec.status(today) != "retired" or (legacy and spec.family == "dall-e")


def _model(r: Reader, endpoint: str, *, legacy: bool, today: dt.date | None) -> ModelSpec:
    model = r.str("model")
    if model is None:
        if endpoint == "variation" or legacy:
            model = "dall-e-2"  # the old API's default; the only model variations ever had
        else:
            raise ApiError(400, "Missing required parameter: 'model'.", param="model",
                           code="missing_required_parameter")
    spec = get(model)
    choices = tuple(s.id for s in all_specs() if endpoint in s.endpoints and served(s, legacy=legacy, today=today))
    if spec is None:
        raise enum_error("model", model, choices) if choices else _variations_retired(model)
    if not served(spec, legacy=legacy, today=today):
        verb = "was retired" if spec.family == "dall-e" else "was shut down"
        raise ApiError(404, f"The model `{spec.id}` {verb} on {spec.shutdown_on} and is no longer available. "
                       f"Use {' or '.join(f'`{m}`' for m in spec.replacement)} instead.", code="model_not_found")
    if endpoint not in spec.endpoints:
        raise enum_error("model", model, choices) if choices else _variations_retired(model)
    return spec


def _variations_retired(model: str) -> ApiError:
    return ApiError(400, f"Invalid value: '{model}'. The image variations endpoint is retired and no longer "
                    "available. Use the image edits endpoint with a GPT Image model and a prompt to create a "
                    "variation of an image.", param="model", code="invalid_value")


def _prompt(r: Reader, spec: ModelSpec) -> str:
    prompt = r.str("prompt")
    if prompt is None:
        raise ApiError(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    if not prompt:
        raise ApiError(400, "Invalid 'prompt': string too short. Expected a string with minimum length 1, but got an "
                       "empty string instead.", param="prompt", code="string_below_min_length")
    if len(prompt) > spec.prompt_max:
        raise ApiError(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                       f"{spec.prompt_max}, but got a string with length {len(prompt)} instead.", param="prompt",
                       code="string_above_max_length")
    return prompt


def _size_value(r: Reader, spec: ModelSpec) -> str:
    """The requested size, lower-cased, once the model's size rule accepts it."""
    raw = r.str("size")
    rule = spec.sizes
    size = (raw if raw is not None else ("auto" if rule.auto else "1024x1024")).strip().lower()
    problem = rule.problem(size)
    if problem is not None:
        if rule.free_form:
            raise ApiError(400, f"Invalid size '{raw}'. {problem[0].upper()}{problem[1:]}.",
                           type="image_generation_user_error", param="size", code="invalid_value")
        raise enum_error("size", raw, rule.fixed + (("auto",) if rule.auto else ()))
    return size


def _resolve_size(size: str, spec: ModelSpec, prompt: str, first: InputImage | None) -> tuple[int, int]:
    """Width and height; ``auto`` follows the first input image, else portrait/landscape words in the prompt."""
    if size != "auto":
        return parse_size(size)  # type: ignore[return-value]
    rule = spec.sizes
    if first is not None:
        w, h = first.image.size
        if rule.problem(f"{w}x{h}") is None:
            return w, h
        return min((parse_size(s) for s in rule.fixed), key=lambda wh: abs(wh[0] / wh[1] - w / h))  # type: ignore
    low = prompt.lower()
    if any(word in low for word in PORTRAIT_WORDS):
        return 1024, 1536
    if any(word in low for word in LANDSCAPE_WORDS):
        return 1536, 1024
    return 1024, 1024


def _gated(r: Reader, name: str, supported: bool, spec: ModelSpec) -> bool:
    """True when ``name`` was sent; raises when the model lacks it."""
    if not r.given(name):
        return False
    if not supported:
        raise unsupported(name, spec)
    return True


def check(form: Form, endpoint: str, *, legacy: bool = False, today: dt.date | None = None) -> Job:
    """Validate a request to ``endpoint`` (generate | edit | variation) and resolve it into a :class:`Job`."""
    r = Reader(form)
    allowed = _PARAMS[endpoint]
    for name in form.values:
        if name not in allowed:
            raise unknown(name)
    file_fields = {"generate": (), "edit": ("image", "mask", "markup"), "variation": ("image",)}[endpoint]
    for upload in form.uploads:
        base = upload.field.split("[", 1)[0]
        if base not in file_fields:
            raise unknown(upload.field)
    spec = _model(r, endpoint, legacy=legacy, today=today)
    gpt = spec.family != "dall-e"

    prompt = _prompt(r, spec) if endpoint != "variation" else ""
    n = r.int("n", 1, spec.n_max) or 1
    size = _size_value(r, spec)

    quality = spec.qualities[0] if spec.qualities else "standard"
    if endpoint != "variation" and _gated(r, "quality", bool(spec.qualities), spec):
        quality = r.enum("quality", _ENUMS["quality"]) or quality
        if quality not in spec.qualities:
            raise enum_error("quality", quality, spec.qualities)
    if "auto" in spec.qualities and (quality == "auto" or not r.given("quality")):
        quality = AUTO_QUALITY

    stream = bool(r.bool("stream"))
    if stream and not spec.streaming:
        raise unsupported("stream", spec)
    partial_images = 0
    if _gated(r, "partial_images", spec.streaming, spec):
        if not stream:
            raise combo("partial_images", "partial_images is only supported with stream=true.")
        partial_images = r.int("partial_images", 0, spec.partial_images_max) or 0

    fmt = "png"
    if _gated(r, "output_format", bool(spec.output_formats), spec):
        fmt = r.enum("output_format", _ENUMS["output_format"]) or fmt
        if fmt not in spec.output_formats:
            raise enum_error("output_format", fmt, spec.output_formats)
    compression = None
    if _gated(r, "output_compression", spec.compression, spec):
        if fmt not in ("webp", "jpeg"):
            raise combo("output_compression", f"output_compression is only supported for the 'webp' and 'jpeg' "
                        f"output formats, not '{fmt}'.")
        compression = r.int("output_compression", 0, 100)
    background = "auto"
    if _gated(r, "background", bool(spec.backgrounds), spec):
        background = r.enum("background", spec.backgrounds) or "auto"
        if background == "transparent" and fmt not in ("png", "webp"):
            raise combo("background", f"Transparent background requires output_format 'png' or 'webp', not '{fmt}'.")

    gif = "gif" in spec.output_formats
    for name in ("frame_count", "frame_duration_ms"):
        if _gated(r, name, gif, spec) and fmt != "gif":
            raise combo(name, f"{name} is only supported with output_format=gif.")
    frame_count = r.int("frame_count", 2, 16) or 9  # never 0: the minimum is 2
    value = r.int("frame_duration_ms", 0)
    frame_ms = 200 if value is None else value
    svg_model = _svg(r, spec, fmt)
    if fmt == "svg" and n != 1:
        raise combo("n", "SVG generation requires n=1.")
    if stream and fmt in ("gif", "svg"):
        raise combo("stream", f"{fmt.upper()} output does not support streaming.")
    complexity = r.enum("complexity", _ENUMS["complexity"]) if _gated(r, "complexity", spec.complexity, spec) else None
    if endpoint == "generate" and _gated(r, "moderation", bool(spec.moderation), spec):
        r.enum("moderation", spec.moderation)

    fidelity = None
    if endpoint == "edit" and r.given("input_fidelity"):
        if not spec.input_fidelity:
            raise ApiError(400, f"The model '{spec.id}' does not support the 'input_fidelity' parameter.",
                           type="image_generation_user_error", param="input_fidelity",
                           code="invalid_input_fidelity_model")
        fidelity = r.enum("input_fidelity", spec.input_fidelity)
    style = _legacy(r, "style", spec.styles)
    response_format = _legacy(r, "response_format", spec.response_formats)
    identifier, user = r.str("safety_identifier"), r.str("user")
    safety = identifier or user or None

    images: tuple[InputImage, ...] = ()
    mask = markup = None
    if endpoint != "generate":
        images = read_images(form, spec, endpoint)
    if endpoint == "edit":
        sent = {u.field for u in form.uploads} | set(form.values)
        if "mask" in sent and "markup" in sent:
            raise combo("markup", "markup cannot be combined with mask.")
        if "mask" in sent and spec.mask and fmt == "gif":
            raise combo("mask", "GIF output does not support masks.")
        mask = read_mask(form, spec, images[0])
        markup = read_markup(form, spec, images[0])

    width, height = _resolve_size(size, spec, prompt, images[0] if images else None)
    bg = "transparent" if background == "transparent" else "opaque"
    if endpoint == "edit" and background == "auto" and images and images[0].has_transparency:
        bg = "transparent" if fmt in ("png", "webp") else "opaque"
    if not gpt:
        fmt = "png"
    job = Job(endpoint=endpoint, spec=spec, prompt=prompt, n=n, width=width, height=height, quality=quality,
              output_format=fmt, compression=compression, background=bg, stream=stream,
              partial_images=partial_images, style=style, response_format=response_format, complexity=complexity,
              input_fidelity=fidelity, frame_count=frame_count, frame_duration_ms=frame_ms, svg_model=svg_model,
              safety_identifier=safety, images=images, mask=mask, markup=markup)
    return _with_fingerprint(job)


def _legacy(r: Reader, name: str, values: tuple[str, ...]) -> str | None:
    """A DALL·E-only parameter: unknown to models without ``values``; else one of them, default the first."""
    if not r.given(name):
        return values[0] if values else None
    if not values:
        raise unknown(name)
    return r.enum(name, values)


def _svg(r: Reader, spec: ModelSpec, fmt: str) -> str | None:
    if not _gated(r, "svg", "svg" in spec.output_formats, spec):
        return None
    svg = r.values["svg"]
    if not isinstance(svg, dict):
        raise r._type_error("svg", "an object", svg)
    if fmt != "svg":
        raise combo("svg", "svg is only supported with output_format=svg.")
    for key in svg:
        if key not in ("model", "reasoning"):
            raise unknown(f"svg.{key}")
    model = svg.get("model")
    if model is None:
        raise ApiError(400, "Missing required parameter: 'svg.model'.", param="svg.model",
                       code="missing_required_parameter")
    if not isinstance(model, str):
        raise r._type_error("svg.model", "a string", model)
    reasoning = svg.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise r._type_error("svg.reasoning", "an object", reasoning)
        for key in reasoning:
            if key != "effort":
                raise unknown(f"svg.reasoning.{key}")
        effort = reasoning.get("effort")
        if effort is not None and effort not in _EFFORTS:
            raise enum_error("svg.reasoning.effort", effort, _EFFORTS)
    return model


def _with_fingerprint(job: Job) -> Job:
    """Attach a digest of everything that shapes the pictures (not n, not streaming)."""
    parts = {"endpoint": job.endpoint, "model": job.spec.id, "prompt": job.prompt, "size": job.size,
             "quality": job.quality, "format": job.output_format, "compression": job.compression,
             "background": job.background, "style": job.style, "complexity": job.complexity,
             "fidelity": job.input_fidelity, "frames": [job.frame_count, job.frame_duration_ms],
             "images": [i.digest for i in job.images], "mask": job.mask.digest if job.mask else None,
             "markup": job.markup.digest if job.markup else None}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    object.__setattr__(job, "fingerprint", digest)
    return job
