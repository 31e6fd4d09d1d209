"""Pre-flight validation: ``validate(endpoint, **params)`` returns a normalized ``Request`` or raises.

Pure and driven by the registry: no network, no branching on model names. A request that fails here is
never sent. Messages name the parameter, what is wrong, what the model accepts, and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from . import registry
from .errors import InvalidRequest, closest
from .inputs import check_images, check_markup, check_mask, has_alpha, to_uploads
from .registry import ModelSpec
from .request import Request

__all__ = ["validate", "ENDPOINTS", "PARAMS"]

ENDPOINTS = ("generate", "edit", "variation")
_COMMON = {"model", "n", "size", "response_format", "user"}
_GPT_OUTPUT = {"prompt", "quality", "output_format", "output_compression", "background", "stream",
               "partial_images", "safety_identifier", "complexity", "frame_count", "frame_duration_ms", "svg"}
PARAMS: Mapping[str, frozenset[str]] = {
    "generate": frozenset(_COMMON | _GPT_OUTPUT | {"moderation", "style"}),
    "edit": frozenset(_COMMON | _GPT_OUTPUT | {"image", "mask", "markup", "input_fidelity"}),
    "variation": frozenset(_COMMON | {"image"}),
}
# What a DALL·E-era value most likely meant on a GPT image model (a suggestion, not a silent rewrite).
_LEGACY_QUALITY = {"hd": "high", "standard": "medium"}
_STYLE_PHRASES = {"vivid": "hyper-real and dramatic", "natural": "natural, less hyper-real"}


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _refuse(param: str, value: Any, allowed: Any, problem: str, fix: str = "") -> InvalidRequest:
    message = f"{param}={value!r} {problem}"
    return InvalidRequest(message + (f"; {fix}" if fix else ""), param=param, value=value, allowed=allowed)


def _choice(param: str, value: Any, allowed: tuple[str, ...], spec: ModelSpec, hint: str = "") -> str:
    """``value`` lower-cased if it is one of ``allowed``, else a refusal naming the nearest choice."""
    if not allowed:
        raise _refuse(param, value, (), f"is not supported by {spec.id}", hint or f"omit {param}")
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        near = closest(value, allowed)
        tail = f" ({value!r} was closest to {near!r})" if near and near != value else ""
        raise _refuse(param, value, allowed, f"is not accepted; {spec.id} accepts {_join(allowed)}{tail}", hint)
    return value.strip().lower()


def _integer(param: str, value: Any, low: int, high: int, spec: ModelSpec) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(param, value, (low, high), f"must be a whole number from {low} to {high}",
                      f"pass an int, e.g. {param}={low}")
    if not low <= value <= high:
        raise _refuse(param, value, (low, high), f"is out of range; {spec.id} accepts {low} to {high}")
    return value


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the first frame outside dalle_kit, so notebooks show the user's own line."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the frame that called _warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


def _model(params: dict[str, Any], lenient: bool, today: dt.date | None) -> ModelSpec | None:
    model = params.get("model")
    known = registry.model_ids()
    if not isinstance(model, str) or not model.strip():
        raise _refuse("model", model, known, "is required",
                      "name a model explicitly, e.g. model='gpt-image-2.5-flare' (see dalle_kit.models())")
    spec = registry.get(model.strip())
    if spec is None:
        if lenient:
            _warn(f"model {model!r} is not in dalle_kit's registry; sending it unchecked")
            return None
        near = closest(model, known)
        raise _refuse("model", model, known, "is not a known image model",
                      f"did you mean {near!r}?" if near else "see dalle_kit.models() for the list")
    status = spec.status(today)
    if status == "retired":
        message = (f"{spec.id} was shut down on {spec.shutdown_on}; use {' or '.join(spec.replacement)}")
        if not lenient:
            raise _refuse("model", model, spec.replacement, f"is retired: {message}",
                          "change the model (a provider that still serves it: Kit(base_url=...))")
        _warn(f"{message}; sending it anyway because this host is not OpenAI")
    elif status == "deprecated":
        _warn(f"{spec.id} shuts down on {spec.shutdown_on}; move to {' or '.join(spec.replacement)}", FutureWarning)
    return spec


def _size(value: Any, spec: ModelSpec) -> str:
    if not isinstance(value, str):
        raise _refuse("size", value, spec.sizes.describe(), "must be a string like '1536x1024' or 'auto'")
    size = value.strip().lower().replace(" ", "").replace("×", "x")
    problem = spec.sizes.problem(size)
    if problem:
        legacy = " (a DALL·E size)" if size in ("256x256", "512x512", "1792x1024", "1024x1792") else ""
        raise _refuse("size", value, spec.sizes.describe(), f"is not accepted{legacy}: {problem}",
                      f"{spec.id} accepts {spec.sizes.describe()}")
    return size


def _quality(value: Any, spec: ModelSpec) -> str:
    key = value.strip().lower() if isinstance(value, str) else value
    if key in _LEGACY_QUALITY and key not in spec.qualities:
        raise _refuse("quality", value, spec.qualities,
                      f"is a DALL·E value; {spec.id} accepts {_join(spec.qualities)} "
                      f"({value!r} was closest to {_LEGACY_QUALITY[key]!r})")
    return _choice("quality", value, spec.qualities, spec)


def _output(out: dict[str, Any], p: dict[str, Any], spec: ModelSpec, endpoint: str) -> None:
    """output_format, compression, background, gif and svg settings."""
    if "output_format" in p:
        value = p["output_format"]
        hint = "use 'jpeg'" if str(value).lower() in ("jpg", "image/jpeg") else ""
        if not spec.output_formats:
            hint = f"{spec.id} returns PNG only; omit output_format"
        out["output_format"] = _choice("output_format", value, spec.output_formats, spec, hint)
    fmt = out.get("output_format", "png")
    if "output_compression" in p:
        if not spec.compression:
            raise _refuse("output_compression", p["output_compression"], (), f"is not supported by {spec.id}",
                          "omit it")
        if fmt not in ("webp", "jpeg"):
            raise _refuse("output_compression", p["output_compression"], ("webp", "jpeg"),
                          f"applies only to webp or jpeg output, and output_format is {fmt!r}",
                          "set output_format='webp' or 'jpeg', or omit output_compression")
        out["output_compression"] = _integer("output_compression", p["output_compression"], 0, 100, spec)
    if "background" in p:
        out["background"] = _choice("background", p["background"], spec.backgrounds, spec)
        if out["background"] == "transparent" and fmt not in ("png", "webp"):
            raise _refuse("background", p["background"], ("png", "webp"),
                          f"needs png or webp output, and output_format is {fmt!r}", "set output_format='png'")
    for name in ("frame_count", "frame_duration_ms"):
        if name in p and fmt != "gif":
            raise _refuse(name, p[name], ("gif",), "applies only to GIF output", "set output_format='gif'")
    if "frame_count" in p:
        out["frame_count"] = _integer("frame_count", p["frame_count"], 2, 16, spec)
    if "frame_duration_ms" in p:
        # The API rounds to 10 ms and caps each frame at 655,350 ms rather than refusing larger values.
        out["frame_duration_ms"] = _integer("frame_duration_ms", p["frame_duration_ms"], 0, 2**31 - 1, spec)
    if "svg" in p:
        svg = p["svg"]
        if fmt != "svg":
            raise _refuse("svg", svg, ("svg",), "applies only to SVG output", "set output_format='svg'")
        out["svg"] = _svg(svg)
    if fmt == "svg" and out.get("n", 1) != 1:
        raise _refuse("n", out["n"], (1,), "must be 1 for SVG output")
    if fmt in ("gif", "svg") and p.get("stream"):
        raise _refuse("stream", True, (False,), f"{fmt.upper()} output cannot be streamed", "omit stream")
    if "complexity" in p:
        levels = ("low", "medium", "high") if spec.complexity else ()
        out["complexity"] = _choice("complexity", p["complexity"], levels, spec)


_SVG_SHAPE = "{'model': str, 'reasoning': {'effort': ...}}"
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def _svg(svg: Any) -> dict[str, Any]:
    """The SVG author settings: a dict with a ``model`` and optionally ``reasoning.effort``."""
    if not isinstance(svg, Mapping) or not isinstance(svg.get("model"), str):
        raise _refuse("svg", svg, _SVG_SHAPE, "must be a dict with an author 'model'")
    extra = set(svg) - {"model", "reasoning"}
    reasoning = svg.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, Mapping):
            raise _refuse("svg", svg, _SVG_SHAPE, "has a 'reasoning' that is not a dict")
        extra |= {f"reasoning.{k}" for k in set(reasoning) - {"effort"}}
        if "effort" in reasoning and reasoning["effort"] not in _EFFORTS:
            raise _refuse("svg", svg, _EFFORTS, f"has reasoning effort {reasoning['effort']!r}; "
                          f"use one of {_join(_EFFORTS)}")
    if extra:
        raise _refuse("svg", svg, _SVG_SHAPE, f"has unknown keys: {_join(sorted(extra))}")
    return dict(svg)


def _streaming(out: dict[str, Any], p: dict[str, Any], spec: ModelSpec) -> None:
    if "stream" in p:
        if not isinstance(p["stream"], bool):
            raise _refuse("stream", p["stream"], (True, False), "must be True or False")
        if p["stream"] and not spec.streaming:
            raise _refuse("stream", True, (False,), f"is not supported by {spec.id}", "omit stream")
        out["stream"] = p["stream"]
    if "partial_images" in p:
        if not out.get("stream"):
            raise _refuse("partial_images", p["partial_images"], "with stream=True",
                          "only applies to streaming", "add stream=True or omit partial_images")
        out["partial_images"] = _integer("partial_images", p["partial_images"], 0, spec.partial_images_max, spec)


def validate(endpoint: str, *, lenient: bool = False, today: dt.date | None = None, **params: Any) -> Request:
    """The normalized ``Request`` for ``endpoint`` ("generate", "edit", "variation"), or ``InvalidRequest``.

    ``lenient=True`` (a non-OpenAI host) lets retired and unknown models through with a warning.
    Parameters given as None count as omitted. Images may be paths, PIL images, bytes or file objects.
    """
    if endpoint not in ENDPOINTS:
        raise _refuse("endpoint", endpoint, ENDPOINTS, "is not an Images API endpoint",
                      f"use one of {_join(ENDPOINTS)}")
    p = {k: v for k, v in params.items() if v is not None}
    for name in p:
        if name not in PARAMS[endpoint]:
            near = closest(name, PARAMS[endpoint])
            raise _refuse(name, p[name], tuple(sorted(PARAMS[endpoint])), f"is not a parameter of {endpoint}",
                          f"did you mean {near!r}?" if near else "remove it")
    spec = _model(p, lenient, today)
    model = p["model"].strip()
    if spec is None:  # unknown model on a lenient host: pass through as given
        return _unchecked(endpoint, model, p)
    if endpoint not in spec.endpoints:
        fix = ("the variations endpoint is retired: use Kit.vary(), which asks the edits endpoint for a variation"
               if endpoint == "variation" else f"{spec.id} serves {_join(sorted(spec.endpoints))}")
        raise _refuse("model", model, tuple(sorted(spec.endpoints)), f"does not serve {endpoint}", fix)
    out: dict[str, Any] = {}
    if endpoint != "variation":
        prompt = p.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _refuse("prompt", prompt, f"1 to {spec.prompt_max} characters", "is required",
                          "describe the image you want")
        if len(prompt) > spec.prompt_max:
            raise _refuse("prompt", f"<{len(prompt)} characters>", spec.prompt_max,
                          f"is too long: {spec.id} takes at most {spec.prompt_max:,} characters", "shorten it")
        out["prompt"] = prompt
    if "n" in p:
        out["n"] = _integer("n", p["n"], 1, spec.n_max, spec)
    if "size" in p:
        out["size"] = _size(p["size"], spec)
    if "quality" in p:
        out["quality"] = _quality(p["quality"], spec)
    _streaming(out, p, spec)
    _output(out, p, spec, endpoint)
    if "moderation" in p:
        out["moderation"] = _choice("moderation", p["moderation"], spec.moderation, spec)
    if "input_fidelity" in p:
        out["input_fidelity"] = _choice("input_fidelity", p["input_fidelity"], spec.input_fidelity, spec,
                                        "" if spec.input_fidelity else f"omit it: {spec.id} keeps input detail itself")
    if "style" in p:
        phrase = _STYLE_PHRASES.get(str(p["style"]).lower())
        hint = (f"describe the style in the prompt instead, e.g. add '{phrase}'" if phrase and not spec.styles
                else "describe the style in the prompt instead")
        out["style"] = _choice("style", p["style"], spec.styles, spec, hint)
    if "response_format" in p:
        out["response_format"] = _choice("response_format", p["response_format"], spec.response_formats, spec,
                                         f"{spec.id} always returns Base64 (result.bytes); omit response_format")
    for name in ("safety_identifier", "user"):
        if name in p:
            if not isinstance(p[name], str):
                raise _refuse(name, p[name], "a string", "must be a string", "hash a user name or email")
            out[name] = p[name]
    return _with_images(endpoint, spec, model, out, p)


def _with_images(endpoint: str, spec: ModelSpec, model: str, out: dict[str, Any], p: dict[str, Any]) -> Request:
    if endpoint == "generate":
        return Request(endpoint, model, out)
    if "image" not in p:
        raise _refuse("image", None, spec.input_mimetypes, f"is required for {endpoint}",
                      "pass a path, PIL image or bytes")
    images = to_uploads(p["image"], "image")
    check_images(images, spec, endpoint)
    if spec.alpha_without_mask and endpoint == "edit" and "mask" not in p and not has_alpha(images[0]):
        raise _refuse("image", "<image without alpha>", "RGBA or LA PNG",
                      f"{spec.id} edits where the image is transparent, and this one has no alpha channel",
                      "pass a mask, or erase the area to edit in the image")
    mask = markup = None
    if "mask" in p and "markup" in p:
        raise _refuse("markup", "<image>", "mask or markup", "cannot be combined with mask", "send one of the two")
    if "mask" in p:
        if not spec.mask or out.get("output_format") == "gif":
            raise _refuse("mask", "<image>", (), f"is not supported by {spec.id} with this output", "omit mask")
        mask = to_uploads(p["mask"], "mask")[0]
        check_mask(mask, images[0], spec)
    if "markup" in p:
        if not spec.markup:
            raise _refuse("markup", "<image>", (), f"is not supported by {spec.id}",
                          "use a mask, or a model that takes markup (gpt-image-2.5 or 2.6)")
        markup = to_uploads(p["markup"], "markup")[0]
        check_markup(markup, images[0])
    return Request(endpoint, model, out, images=images, mask=mask, markup=markup)


def _unchecked(endpoint: str, model: str, p: dict[str, Any]) -> Request:
    files = {k: p.pop(k) for k in ("image", "mask", "markup") if k in p}
    p.pop("model")
    images = to_uploads(files["image"]) if "image" in files else ()
    mask = to_uploads(files["mask"], "mask")[0] if "mask" in files else None
    markup = to_uploads(files["markup"], "markup")[0] if "markup" in files else None
    return Request(endpoint, model, p, images=images, mask=mask, markup=markup)
