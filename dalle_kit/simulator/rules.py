"""The API's rules, enforced with the simulator's own code from the registry's data.

:func:`check` turns a parsed body into a :class:`Job` or raises :class:`~.forms.ApiError` with the status and
error body the real API uses. It reads the same facts as dalle_kit's client-side validator (the parameter
vocabulary in ``dalle_kit.vocabulary`` and the model registry) but judges them with separate code, so the
property test that the two agree means something. Checks run in groups: the names sent, the model, the
prompt, every vocabulary row in its order (size and svg have logic of their own; every other row is judged
from its data), the rules between parameters, then the files; the first problem found is the one reported.

Error codes: ``unknown_parameter`` (not a parameter of the endpoint, and ``response_format``/``style`` sent to a
GPT image model, as observed), ``unsupported_parameter`` (a parameter the chosen model lacks), ``invalid_type``,
``invalid_value`` (including "The model '…' does not support quality 'xhigh'." for a value the API knows but the
model lacks), ``integer_below_min_value``/``integer_above_max_value``, ``string_below_min_length``/
``string_above_max_length``, ``missing_required_parameter``, ``invalid_input_fidelity_model`` (observed),
``model_not_found`` (404, retired models) and the file codes of :mod:`.uploads`.

Accepted and ignored, as the API does: ``output_compression`` with png output (OpenAI's own example sends
``png`` with ``100``) and ``partial_images`` without ``stream``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .. import vocabulary
from ..registry import ModelSpec, parse_size
from ..registry import builtin as get
from ..registry import builtin_specs as all_specs
from ..vocabulary import EFFORTS, ParamSpec, gate_allows
from .forms import ApiError, Form
from .params import Reader, combo, enum_error, unknown, unsupported
from .uploads import InputImage, read_images, read_markup, read_mask

__all__ = ["AUTO_QUALITY", "Job", "check", "served"]

#: Wire names the SDK never sends but the API takes: JSON edits may reference images as ``images: [...]``.
_WIRE_ONLY = {"edit": frozenset({"images"})}
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
        return not self.spec.is_gpt_image


def served(spec: ModelSpec, *, legacy: bool, today: dt.date | None) -> bool:
    """Whether the simulator answers for ``spec``: not retired, or a DALL·E model in legacy mode."""
    return spec.status(today) != "retired" or (legacy and not spec.is_gpt_image)


def _names(form: Form, endpoint: str) -> None:
    """Every value and file part must be a parameter of ``endpoint``."""
    allowed = vocabulary.names(endpoint) | _WIRE_ONLY.get(endpoint, frozenset())
    for name in form.values:
        if name not in allowed:
            raise unknown(name)
    files = {r.name for r in vocabulary.rows(endpoint) if r.kind == "file"} | _WIRE_ONLY.get(endpoint, frozenset())
    for upload in form.uploads:
        if upload.field.split("[", 1)[0] not in files:
            raise unknown(upload.field)


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
        verb = "was shut down" if spec.is_gpt_image else "was retired"
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


def _enum(r: Reader, row: ParamSpec, allowed: tuple[str, ...], spec: ModelSpec) -> str | None:
    """A value the model takes; a value the API knows but the model lacks gets the API's own wording."""
    value = r.str(row.name)
    if value is None or value in allowed:
        return value
    if value in row.values and value not in row.legacy_values:
        raise ApiError(400, f"The model '{spec.id}' does not support {row.name} '{value}'.", param=row.name,
                       code="invalid_value")
    raise enum_error(row.name, value, allowed)


def _conditions(row: ParamSpec, spec: ModelSpec, seen: dict[str, Any]) -> tuple[str, ...]:
    """The row's gate and the settings it needs or excludes; returns the values the model takes (enums)."""
    name = row.name
    supported, allowed = gate_allows(row, spec)
    if not supported:
        if row.legacy:
            raise unknown(name)
        if name == "input_fidelity":
            raise ApiError(400, f"The model '{spec.id}' does not support the 'input_fidelity' parameter.",
                           type="image_generation_user_error", param=name, code="invalid_input_fidelity_model")
        raise unsupported(name, spec)
    for other, needed in row.refuse_unless.items():
        if seen.get(other) not in needed:
            raise combo(name, f"{name} is only supported with {other}={needed[0]}.")
    for other, excluded in row.refuse_with.items():
        if seen.get(other) in excluded:
            raise combo(name, f"{str(seen[other]).upper()} output does not support {name}.")
    return allowed


def _row(r: Reader, row: ParamSpec, spec: ModelSpec, seen: dict[str, Any]) -> Any:
    """Judge one vocabulary row from its data; returns the value the request takes (its default if ignored)."""
    name = row.name
    allowed = _conditions(row, spec, seen)
    if row.kind == "int":
        high = getattr(spec, row.high_from) if row.high_from else row.high
        value: Any = r.int(name, row.low, high)
    elif row.kind == "enum":
        value = _enum(r, row, allowed, spec)
    elif row.kind == "bool":
        value = r.bool(name)
    else:
        value = r.str(name)
    if any(seen.get(other) not in needed for other, needed in row.drop_unless.items()):
        return row.default  # accepted and ignored, as the API does
    return value


def _rows(r: Reader, endpoint: str, spec: ModelSpec) -> dict[str, Any]:
    """Every vocabulary row of ``endpoint`` in order; returns the resolved values (defaults where omitted)."""
    seen: dict[str, Any] = {}
    for row in vocabulary.rows(endpoint):
        if row.kind in ("model", "prompt", "file"):
            continue
        if row.kind == "size":
            seen["size"] = _size_value(r, spec)
        elif not r.given(row.name):
            seen[row.name] = row.default
        elif row.kind == "object":
            _conditions(row, spec, seen)
            seen[row.name] = _svg(r)
        else:
            seen[row.name] = _row(r, row, spec, seen)
    return seen


def _combinations(seen: dict[str, Any]) -> None:
    """Rules between parameters that no single row states."""
    fmt = seen.get("output_format")
    if seen.get("background") == "transparent" and fmt not in ("png", "webp"):
        raise combo("background", f"Transparent background requires output_format 'png' or 'webp', not '{fmt}'.")
    if fmt == "svg" and (seen.get("n") or 1) != 1:
        raise combo("n", "SVG generation requires n=1.")


def _files(form: Form, endpoint: str, spec: ModelSpec, seen: dict[str, Any]) -> tuple[
        tuple[InputImage, ...], InputImage | None, InputImage | None]:
    if endpoint == "generate":
        return (), None, None
    images = read_images(form, spec, endpoint)
    if endpoint != "edit":
        return images, None, None
    sent = {u.field for u in form.uploads} | set(form.values)
    if "mask" in sent and "markup" in sent:
        raise combo("markup", "markup cannot be combined with mask.")
    mask_row = vocabulary.PARAMS["mask"]
    if "mask" in sent and gate_allows(mask_row, spec)[0]:
        for other, excluded in mask_row.refuse_with.items():
            if seen.get(other) in excluded:
                raise combo("mask", f"{str(seen[other]).upper()} output does not support masks.")
    return images, read_mask(form, spec, images[0]), read_markup(form, spec, images[0])


def check(form: Form, endpoint: str, *, legacy: bool = False, today: dt.date | None = None) -> Job:
    """Validate a request to ``endpoint`` (generate | edit | variation) and resolve it into a :class:`Job`."""
    _names(form, endpoint)
    r = Reader(form)
    spec = _model(r, endpoint, legacy=legacy, today=today)
    prompt = _prompt(r, spec) if endpoint != "variation" else ""
    seen = _rows(r, endpoint, spec)
    _combinations(seen)
    images, mask, markup = _files(form, endpoint, spec, seen)

    quality = seen.get("quality") or "auto"
    if quality == "auto" or quality not in spec.qualities:
        quality = AUTO_QUALITY if "auto" in spec.qualities else (spec.qualities or ("standard",))[0]
    fmt = (seen.get("output_format") or "png") if spec.is_gpt_image else "png"
    compression = seen.get("output_compression") if fmt in ("webp", "jpeg") else None
    width, height = _resolve_size(seen["size"], spec, prompt, images[0] if images else None)
    bg = "transparent" if seen.get("background") == "transparent" else "opaque"
    if endpoint == "edit" and seen.get("background") in ("auto", None) and images and images[0].has_transparency:
        bg = "transparent" if fmt in ("png", "webp") else "opaque"
    svg = seen.get("svg")
    job = Job(endpoint=endpoint, spec=spec, prompt=prompt, n=seen.get("n") or 1, width=width, height=height,
              quality=quality, output_format=fmt, compression=compression, background=bg,
              stream=bool(seen.get("stream")), partial_images=seen.get("partial_images") or 0,
              style=seen.get("style") or (spec.styles[0] if spec.styles else None),
              response_format=seen.get("response_format") or (spec.response_formats[0] if spec.response_formats
                                                               else None),
              complexity=seen.get("complexity"), input_fidelity=seen.get("input_fidelity"),
              frame_count=seen.get("frame_count") or 9, frame_duration_ms=seen.get("frame_duration_ms", 200),
              svg_model=svg["model"] if svg else None,
              safety_identifier=seen.get("safety_identifier") or seen.get("user") or None,
              images=images, mask=mask, markup=markup)
    return _with_fingerprint(job)


def _svg(r: Reader) -> dict[str, Any]:
    svg = r.values["svg"]
    if not isinstance(svg, dict):
        raise r._type_error("svg", "an object", svg)
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
        if effort is not None and effort not in EFFORTS:
            raise enum_error("svg.reasoning.effort", effort, EFFORTS)
    return svg


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
