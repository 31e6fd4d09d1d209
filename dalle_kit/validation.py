"""Pre-flight validation: ``validate(endpoint, **params)`` returns a normalized ``Request`` or raises.

Pure and driven by data: the parameter vocabulary (``dalle_kit.vocabulary``) and the model registry; no
network, no branching on model names. A request that fails here is never sent. Messages name the parameter,
what is wrong, what the model accepts, and how to fix it.

``lenient=True`` is for users who know better than the registry: every rule that would refuse is skipped
with a ``DalleKitWarning`` naming it, and the value is sent as given (the API has the last word). Only what
cannot be sent at all is still refused: an unknown endpoint, no model, no prompt, no readable image.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import registry, vocabulary
from .errors import DalleKitWarning, InvalidRequest, closest, warn
from .inputs import check_images, check_markup, check_mask, has_alpha, to_uploads
from .registry import ModelSpec
from .request import Request
from .vocabulary import EFFORTS, ParamSpec, gate_allows

__all__ = ["ENDPOINTS", "validate"]

ENDPOINTS = vocabulary.ENDPOINTS
_STYLE_PHRASES = {"vivid": "hyper-real and dramatic", "natural": "natural, less hyper-real"}
_SVG_SHAPE = "{'model': str, 'reasoning': {'effort': ...}}"
_DROP = object()  # a value with no effect, dropped with a warning


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _refuse(param: str, value: Any, allowed: Any, problem: str, fix: str = "", rule: str = "") -> InvalidRequest:
    message = f"{param}={value!r} {problem}"
    return InvalidRequest(message + (f"; {fix}" if fix else ""), param=param, value=value, allowed=allowed,
                          rule=rule or param)


def _unsupported_hint(name: str, value: Any, spec: ModelSpec) -> str:
    """How to do without a parameter ``spec`` does not take."""
    if name == "style":
        phrase = _STYLE_PHRASES.get(str(value).lower())
        return f"describe the style in the prompt instead{f', e.g. add {phrase!r}' if phrase else ''}"
    if name == "response_format":
        return f"{spec.id} always returns Base64 (result.bytes); omit response_format"
    if name == "input_fidelity":
        return f"omit it: {spec.id} keeps input detail itself"
    if name == "markup":
        return "use a mask, or a model that takes markup (gpt-image-2.5 or 2.6)"
    if name == "output_format" and not spec.output_formats:
        return f"{spec.id} returns PNG only; omit output_format"
    return f"omit {name}"


def _choice(row: ParamSpec, value: Any, allowed: tuple[str, ...], spec: ModelSpec) -> str:
    """``value`` lower-cased if it is one of ``allowed``, else a refusal naming the nearest choice."""
    name = row.name
    if not isinstance(value, str):
        raise _refuse(name, value, allowed, f"must be a string, one of {_join(allowed)}", rule=f"{name}.type")
    key = value.strip().lower()
    if key in allowed:
        return key
    if key in row.legacy_values:
        raise _refuse(name, value, allowed, f"is a DALL·E value; {spec.id} accepts {_join(allowed)} "
                      f"({value!r} was closest to {row.legacy_values[key]!r})", rule=f"{name}.values")
    near = row.aliases.get(key) or closest(value, allowed)
    tail = f" ({value!r} was closest to {near!r})" if near and near != value else ""
    hint = f"use {near!r}" if near in row.aliases.values() else ""
    raise _refuse(name, value, allowed, f"is not accepted; {spec.id} accepts {_join(allowed)}{tail}", hint,
                  rule=f"{name}.values")


def _integer(name: str, value: Any, low: int, high: int, spec: ModelSpec) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(name, value, (low, high), f"must be a whole number from {low} to {high}",
                      f"pass an int, e.g. {name}={low}", rule=f"{name}.type")
    if not low <= value <= high:
        raise _refuse(name, value, (low, high), f"is out of range; {spec.id} accepts {low} to {high}",
                      rule=f"{name}.range")
    return value


def _skip_or_raise(exc: InvalidRequest, lenient: bool, then: str = "") -> None:
    """Raise ``exc``; with ``lenient``, warn that its rule was skipped instead."""
    if not lenient:
        raise exc
    warn(f"lenient: skipped the rule {exc.rule!r} ({exc}){then}", DalleKitWarning)


class _Judge:
    """One request being judged: the given values, the normalized ones, and the lenient switch."""

    def __init__(self, endpoint: str, given: dict[str, Any], spec: ModelSpec, lenient: bool) -> None:
        self.endpoint, self.given, self.spec, self.lenient = endpoint, given, spec, lenient
        self.out: dict[str, Any] = {}

    def current(self, name: str) -> Any:
        """The normalized value of ``name`` so far, else the API's default for it."""
        if name in self.out:
            return self.out[name]
        row = vocabulary.get(name)
        return row.default if row else None

    def take(self, name: str, check: Callable[[], Any]) -> None:
        """Run ``check``; keep its value, drop it, or (lenient) skip its refusal with a warning."""
        try:
            value = check()
        except InvalidRequest as exc:
            _skip_or_raise(exc, self.lenient, f"; sending {name} as given")
            value = self.given.get(name)
        if value is not _DROP:
            self.out[name] = value

    def skip_or_raise(self, exc: InvalidRequest) -> None:
        _skip_or_raise(exc, self.lenient)

    # -- a row of the vocabulary, judged from its data --------------------------------------------------
    def row(self, row: ParamSpec, shown: Any = None) -> Any:
        """Judge ``row`` from its data; ``shown`` stands for a value that is not echoed (an image)."""
        name, value, spec = row.name, self.given[row.name] if shown is None else shown, self.spec
        supported, allowed = gate_allows(row, spec)
        if not supported:
            problem = "is a DALL·E parameter" if row.legacy else "is not supported"
            raise _refuse(name, value, (), f"{problem}; {spec.id} does not take it",
                          _unsupported_hint(name, value, spec), rule=f"{name}.model")
        for other, needed in row.refuse_unless.items():
            if self.current(other) not in needed:
                raise _refuse(name, value, needed, f"applies only when {other} is {_join(needed)}, and it is "
                              f"{self.current(other)!r}", f"set {other}={needed[0]!r} or omit {name}",
                              rule=f"{name}.{other}")
        for other, excluded in row.refuse_with.items():
            if self.current(other) in excluded:
                raise _refuse(name, value, (), f"cannot be combined with {other}={self.current(other)!r}",
                              f"omit {name}", rule=f"{name}.{other}")
        normal = self.value(row, value, allowed)
        for other, needed in row.drop_unless.items():
            if self.current(other) not in needed:
                warn(f"{name}={value!r} has no effect unless {other} is {_join(needed)} (it is "
                     f"{self.current(other)!r}), so dalle_kit leaves it out", DalleKitWarning)
                return _DROP
        return normal

    def value(self, row: ParamSpec, value: Any, allowed: tuple[str, ...]) -> Any:
        name = row.name
        if row.kind == "int":
            high = getattr(self.spec, row.high_from) if row.high_from else row.high
            return _integer(name, value, row.low or 0, high if high is not None else 2**63, self.spec)
        if row.kind == "enum":
            return _choice(row, value, allowed, self.spec)
        if row.kind == "object":
            return value  # judged by its own function (svg)
        if row.kind == "bool":
            if not isinstance(value, bool):
                raise _refuse(name, value, (True, False), "must be True or False", rule=f"{name}.type")
            return value
        if not isinstance(value, str):
            hint = "hash a user name or email" if name in ("safety_identifier", "user") else ""
            raise _refuse(name, value, "a string", "must be a string", hint, rule=f"{name}.type")
        return value


def _model(p: dict[str, Any], lenient: bool, other_host: bool, today: dt.date | None,
           serves_legacy: bool = False) -> ModelSpec | None:
    model = p.get("model")
    known = registry.model_ids()
    if not isinstance(model, str):
        raise _refuse("model", model, known, "must be a string naming a model",
                      "e.g. model='gpt-image-2.5-flare' (see dalle_kit.models())")
    if not model.strip():
        raise _refuse("model", model, known, "is required",
                      "name a model explicitly, e.g. model='gpt-image-2.5-flare' (see dalle_kit.models())")
    spec = registry.get(model.strip())
    listing = registry.listing()
    if listing is not None and not listing.lists(model.strip()):
        warn(f"{model!r} is not listed by /v1/models on {listing.host} (read {listing.read_on}); sending it "
             "anyway. dalle_kit.models(refresh=True) reads the list again", DalleKitWarning)
    if spec is None:
        if lenient or other_host:
            rule = "lenient: skipped the rule 'model.known': " if lenient else ""
            warn(f"{rule}model {model!r} is not in dalle_kit's registry; sending it unchecked", DalleKitWarning)
            return None
        near = closest(model, known)
        raise _refuse("model", model, known, "is not a known image model",
                      f"did you mean {near!r}? (Kit(lenient=True) sends an unknown model unchecked)" if near
                      else "see dalle_kit.models() for the list, or Kit(lenient=True) to send it unchecked",
                      rule="model.known")
    status = spec.status(today)
    if status == "retired" and serves_legacy and not spec.is_gpt_image:
        return spec  # a host known to serve the retired DALL·E models (the simulator's legacy mode): no warning
    if status == "retired":
        message = (f"{spec.id} was shut down on {spec.shutdown_on}; use {' or '.join(spec.replacement)}")
        if not (lenient or other_host):
            raise _refuse("model", model, spec.replacement, f"is retired: {message}",
                          "change the model (a provider that still serves it: Kit(base_url=...))",
                          rule="model.retired")
        why = "lenient=True skipped the rule 'model.retired'" if lenient else "this host is not OpenAI"
        warn(f"{message}; sending it anyway because {why}", DalleKitWarning)
    elif status == "deprecated":
        when = f"shuts down on {spec.shutdown_on}" if spec.shutdown_on else "is deprecated"
        warn(f"{spec.id} {when}; move to {' or '.join(spec.replacement)}", FutureWarning)
    return spec


def _size(value: Any, spec: ModelSpec) -> str:
    if not isinstance(value, str):
        raise _refuse("size", value, spec.sizes.describe(), "must be a string like '1536x1024' or 'auto'",
                      rule="size.type")
    size = value.strip().lower().replace(" ", "").replace("×", "x")
    if not size.isascii():
        plain = unicodedata.normalize("NFKC", size).replace("×", "x")
        hint = f"did you mean {plain!r}?" if plain.isascii() and spec.sizes.problem(plain) is None else \
            "write it in ASCII digits, e.g. '1536x1024'"
        raise _refuse("size", value, spec.sizes.describe(), "has characters other than ASCII digits and 'x'",
                      hint, rule="size.values")
    problem = spec.sizes.problem(size)
    if problem:
        legacy = " (a DALL·E size)" if size in ("256x256", "512x512", "1792x1024", "1024x1792") else ""
        raise _refuse("size", value, spec.sizes.describe(), f"is not accepted{legacy}: {problem}",
                      f"{spec.id} accepts {spec.sizes.describe()}", rule="size.values")
    return size


def _prompt(value: str, spec: ModelSpec) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _refuse("prompt", f"<text with {exc.object[exc.start]!r} at position {exc.start}>", "Unicode text",
                      "has a character that is not valid Unicode (a lone surrogate, as text read with the wrong "
                      "encoding gives)", "decode the text as UTF-8, or type it again", rule="prompt.unicode") \
            from None
    if not value.strip():
        warn(f"prompt={value!r} is only whitespace; sending it, and the API decides whether an empty picture "
             "description is accepted", DalleKitWarning)
    if len(value) > spec.prompt_max:
        raise _refuse("prompt", f"<{len(value)} characters>", spec.prompt_max,
                      f"is too long: {spec.id} takes at most {spec.prompt_max:,} characters", "shorten it",
                      rule="prompt.length")
    return str(value)


def _svg(svg: Any) -> dict[str, Any]:
    """The SVG author settings: a dict with a ``model`` and optionally ``reasoning.effort``."""
    if not isinstance(svg, Mapping) or not isinstance(svg.get("model"), str):
        raise _refuse("svg", svg, _SVG_SHAPE, "must be a dict with an author 'model'", rule="svg.shape")
    extra = set(svg) - {"model", "reasoning"}
    reasoning = svg.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, Mapping):
            raise _refuse("svg", svg, _SVG_SHAPE, "has a 'reasoning' that is not a dict", rule="svg.shape")
        extra |= {f"reasoning.{k}" for k in set(reasoning) - {"effort"}}
        if "effort" in reasoning and reasoning["effort"] not in EFFORTS:
            raise _refuse("svg", svg, EFFORTS, f"has reasoning effort {reasoning['effort']!r}; "
                          f"use one of {_join(EFFORTS)}", rule="svg.effort")
    if extra:
        raise _refuse("svg", svg, _SVG_SHAPE, f"has unknown keys: {_join(sorted(extra))}", rule="svg.shape")
    return dict(svg)


def _judge_row(j: _Judge, row: ParamSpec) -> Any:
    if row.kind == "size":
        return _size(j.given["size"], j.spec)
    value = j.row(row)
    return _svg(value) if row.kind == "object" else value


def _date(today: Any) -> dt.date | None:
    """``today`` as a date: a ``datetime.date``, a ``datetime`` or an ISO string ('2026-12-05')."""
    if today is None or (isinstance(today, dt.date) and not isinstance(today, dt.datetime)):
        return today
    if isinstance(today, dt.datetime):
        return today.date()
    if isinstance(today, str):
        try:
            return dt.date.fromisoformat(today.strip())
        except ValueError:
            pass
    raise _refuse("today", today, "a datetime.date or 'YYYY-MM-DD'", "is not a date",
                  "pass datetime.date(2026, 12, 5) or '2026-12-05'", rule="today")


def _combinations(j: _Judge) -> None:
    """Rules between parameters that no single row states."""
    fmt = j.current("output_format")
    if j.out.get("background") == "transparent" and fmt not in ("png", "webp"):
        j.skip_or_raise(_refuse("background", "transparent", ("png", "webp"),
                                f"needs png or webp output, and output_format is {fmt!r}",
                                "set output_format='png'", rule="background.output_format"))
    if fmt == "svg" and j.current("n") != 1:
        j.skip_or_raise(_refuse("n", j.out["n"], (1,), "must be 1 for SVG output", rule="n.svg"))


def validate(endpoint: str, *, lenient: bool = False, other_host: bool = False, today: dt.date | None = None,
             serves_legacy: bool = False, **params: Any) -> Request:
    """The normalized ``Request`` for ``endpoint`` ("generate", "edit", "variation"), or ``InvalidRequest``.

    ``lenient=True`` skips every rule that would refuse, with a warning naming it, and sends the value as
    given. ``other_host=True`` (a non-OpenAI host, the simulator's legacy mode) lets retired and unknown
    models through with a warning; ``serves_legacy=True`` (a host known to serve the retired DALL·E models: the
    simulator's legacy mode) sends those without one. Parameters given as None count as omitted. Images may be
    paths, PIL images, bytes or file objects.
    """
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise _refuse("endpoint", endpoint, ENDPOINTS, "is not an Images API endpoint",
                      f"use one of {_join(ENDPOINTS)}")
    today = _date(today)
    p = {k: v for k, v in params.items() if v is not None}
    known = vocabulary.names(endpoint)
    extra: dict[str, Any] = {}
    for name in [n for n in p if n not in known]:
        near = closest(name, known)
        elsewhere = [e for e in ENDPOINTS if e != endpoint and name in vocabulary.names(e)]
        fix = (f"it is a parameter of {_join(elsewhere)} only: remove it here" if elsewhere else
               f"did you mean {near!r}?" if near else "remove it")
        _skip_or_raise(_refuse(name, p[name], tuple(sorted(known)), f"is not a parameter of {endpoint}", fix,
                               rule="unknown_parameter"),
                       lenient, f"; sending {name} as given")
        extra[name] = p.pop(name)
    spec = _model(p, lenient, other_host, today, serves_legacy)
    model = p["model"].strip()
    if spec is None:  # unknown model, sent as given
        return _unchecked(endpoint, model, {**p, **extra})
    if endpoint not in spec.endpoints:
        fix = ("the variations endpoint is retired: use Kit.vary(), which asks the edits endpoint for a variation"
               if endpoint == "variation" else f"{spec.id} serves {_join(sorted(spec.endpoints))}")
        _skip_or_raise(_refuse("model", model, tuple(sorted(spec.endpoints)), f"does not serve {endpoint}", fix,
                               rule="model.endpoint"), lenient)
    j = _Judge(endpoint, p, spec, lenient)
    if "prompt" in known:
        prompt = p.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _refuse("prompt", prompt, f"1 to {spec.prompt_max} characters", "is required",
                          "describe the image you want")
        j.take("prompt", lambda: _prompt(prompt, spec))
    for row in vocabulary.rows(endpoint):
        if row.name not in p or row.kind in ("model", "prompt", "file"):
            continue
        j.take(row.name, functools.partial(_judge_row, j, row))
    _combinations(j)
    j.out.update(extra)
    return _with_images(j, model)


def _with_images(j: _Judge, model: str) -> Request:
    endpoint, spec, p, out = j.endpoint, j.spec, j.given, j.out
    if endpoint == "generate":
        return Request(endpoint, model, out)
    if "image" not in p:
        raise _refuse("image", None, spec.input_mimetypes, f"is required for {endpoint}",
                      "pass a path, PIL image or bytes")
    images = to_uploads(p["image"], "image")
    _checked(j, lambda: check_images(images, spec, endpoint))
    if spec.alpha_without_mask and endpoint == "edit" and "mask" not in p and not has_alpha(images[0]):
        j.skip_or_raise(_refuse("image", "<image without alpha>", "RGBA or LA PNG",
                                f"{spec.id} edits where the image is transparent, and this one has no alpha channel",
                                "pass a mask, or erase the area to edit in the image", rule="image.alpha"))
    mask = markup = None
    if "mask" in p and "markup" in p:
        j.skip_or_raise(_refuse("markup", "<image>", "mask or markup", "cannot be combined with mask",
                                "send one of the two", rule="markup.mask"))
    if "mask" in p:
        mask = to_uploads(p["mask"], "mask")[0]
        _checked(j, lambda: j.row(vocabulary.PARAMS["mask"], "<image>"))
        _checked(j, lambda: check_mask(mask, images[0], spec))
    if "markup" in p:
        markup = to_uploads(p["markup"], "markup")[0]
        _checked(j, lambda: j.row(vocabulary.PARAMS["markup"], "<image>"))
        _checked(j, lambda: check_markup(markup, images[0]))
    return Request(endpoint, model, out, images=images, mask=mask, markup=markup)


def _checked(j: _Judge, check: Callable[[], Any]) -> None:
    try:
        check()
    except InvalidRequest as exc:
        j.skip_or_raise(exc)


def _unchecked(endpoint: str, model: str, p: dict[str, Any]) -> Request:
    files = {k: p.pop(k) for k in ("image", "mask", "markup") if k in p}
    p.pop("model")
    images = to_uploads(files["image"]) if "image" in files else ()
    mask = to_uploads(files["mask"], "mask")[0] if "mask" in files else None
    markup = to_uploads(files["markup"], "markup")[0] if "markup" in files else None
    return Request(endpoint, model, p, images=images, mask=mask, markup=markup)
