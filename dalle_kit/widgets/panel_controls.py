"""What the generate panel offers for a model, and how a choice carries over when the model changes.

Pure functions over the registry (``ModelSpec``) and the parameter vocabulary (``ParamSpec`` rows): no widgets,
and no model names. A parameter is offered when its row's gate lets the model take it; its values are the
gate's values (enums), the row's range with the model's maximum (ints), or the model's preset sizes. Rules
between parameters come from the rows too (``drop_unless``, ``refuse_unless``, ``refuse_with``): compression
only applies to the formats its row names, and streaming stops for the formats the ``stream`` row excludes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .. import registry, vocabulary
from ..errors import InvalidRequest
from ..registry import ModelSpec
from ..vocabulary import ParamSpec, gate_allows

__all__ = ["CONTROLS", "LABELS", "accept", "blocked", "carry", "default", "explain", "int_range", "model_label",
           "offered_models", "options", "streams", "takes"]

#: The panel's controls, in the order they show and are judged (``output_format`` before what depends on it).
CONTROLS = ("size", "quality", "n", "output_format", "output_compression", "background", "moderation", "style",
            "partial_images")
LABELS = {"size": "size", "quality": "quality", "n": "n", "output_format": "format",
          "output_compression": "compression", "background": "background", "moderation": "moderation",
          "style": "style", "partial_images": "previews"}
_PREFERRED = {"partial_images": 2}  # the panel exists to show previews: two unless told otherwise


def _row(name: str) -> ParamSpec:
    return vocabulary.PARAMS[name]


def offered_models(*, other_host: bool, today: dt.date | None = None) -> list[ModelSpec]:
    """The models that generate, in the registry's order; retired ones only on a host that still serves them."""
    return [s for s in registry.all_specs()
            if "generate" in s.endpoints and (other_host or s.status(today) != "retired")]


def model_label(spec: ModelSpec, today: dt.date | None = None) -> str:
    """``gpt-image-2 · current``, ``gpt-image-1.5 · deprecated, shuts down 2026-12-01``, ``dall-e-3 · retired``."""
    status = spec.status(today)
    if status == "current" or spec.shutdown_on is None:
        return f"{spec.id} · {status}"
    verb = "shut down" if status == "retired" else "shuts down"
    return f"{spec.id} · {status}, {verb} {spec.shutdown_on.isoformat()}"


def takes(spec: ModelSpec, name: str) -> bool:
    """Whether ``spec`` takes the parameter ``name`` on the generate endpoint at all."""
    row = _row(name)
    return "generate" in row.endpoints and gate_allows(row, spec)[0]


def int_range(spec: ModelSpec, name: str) -> tuple[int, int]:
    """The range of an int parameter for ``spec`` (its ``high_from`` field gives the model's maximum)."""
    row = _row(name)
    high = getattr(spec, row.high_from) if row.high_from else row.high
    return (row.low or 0, int(high if high is not None else 0))


def options(spec: ModelSpec, name: str) -> tuple[Any, ...]:
    """The values the control offers for ``spec``: enum values, every int in range, or the preset sizes
    (the fixed sizes, then ``auto`` where the model sizes itself; free-form sizes come on top, see ``carry``)."""
    if not takes(spec, name):
        return ()
    row = _row(name)
    if row.kind == "size":
        return spec.sizes.fixed + (("auto",) if spec.sizes.auto else ())
    if row.kind == "int":
        low, high = int_range(spec, name)
        return tuple(range(low, high + 1))
    return gate_allows(row, spec)[1]


def default(spec: ModelSpec, name: str) -> Any:
    """The value a control starts at: the API's default where the model offers it, else the first offered."""
    offered, row = options(spec, name), _row(name)
    for value in (_PREFERRED.get(name), row.default):
        if value is not None and value in offered:
            return value
    if row.kind == "int" and offered:
        return offered[-1] if row.default is not None and row.default > offered[-1] else offered[0]
    return offered[0] if offered else None


def accept(spec: ModelSpec, name: str, value: Any) -> Any:
    """``value`` as the control holds it, or ``InvalidRequest`` saying what ``spec`` offers instead."""
    offered = options(spec, name)
    if not offered:
        raise InvalidRequest(f"{name}={value!r}: {spec.id} does not take {name}", param=name, value=value,
                             allowed=())
    if _row(name).kind == "size" and isinstance(value, str):
        size = value.strip().lower().replace(" ", "").replace("×", "x")
        problem = spec.sizes.problem(size)
        if problem is None:
            return size
        raise InvalidRequest(f"size={value!r} is not accepted: {problem}; {spec.id} accepts {spec.sizes.describe()}",
                             param="size", value=value, allowed=spec.sizes.describe())
    key = value.strip().lower() if isinstance(value, str) else value
    whole = isinstance(key, int) and not isinstance(key, bool)
    if key in offered and (whole or not isinstance(offered[0], int)):
        return key
    shown = f"{offered[0]} to {offered[-1]}" if isinstance(offered[0], int) else ", ".join(offered)
    raise InvalidRequest(f"{name}={value!r} is not offered by {spec.id}; it offers {shown}", param=name,
                         value=value, allowed=offered)


def _size_ok(spec: ModelSpec, size: Any) -> bool:
    return isinstance(size, str) and spec.sizes.problem(size) is None


def carry(spec: ModelSpec, name: str, value: Any) -> Any:
    """``value`` if ``spec`` offers it, else the nearest value it does offer (None: it does not take ``name``).

    Enums: the DALL·E equivalent (``hd`` <-> ``high``), else the nearest lower value in the row's order (``xhigh``
    -> ``high``), else the default. Ints: clamped. Sizes: kept if accepted (free-form included), else the preset
    of the closest shape.
    """
    offered = options(spec, name)
    if not offered:
        return None
    row = _row(name)
    if row.kind == "size":
        if _size_ok(spec, value):
            return value
        wh = registry.parse_size(str(value))
        fixed = [(s, registry.parse_size(s) or (1, 1)) for s in spec.sizes.fixed]
        if wh is None or 0 in wh or not fixed:
            return default(spec, name)
        aspect, area = wh[0] / wh[1], wh[0] * wh[1]
        return min(fixed, key=lambda f: (abs(f[1][0] / f[1][1] - aspect), abs(f[1][0] * f[1][1] - area)))[0]
    if row.kind == "int":
        return min(max(value, offered[0]), offered[-1]) if isinstance(value, int) else default(spec, name)
    if value in offered:
        return value
    legacy = {**{v: k for k, v in row.legacy_values.items()}, **row.legacy_values}
    if legacy.get(value) in offered:
        return legacy[value]
    if value in row.values:
        lower = [v for v in row.values[:row.values.index(value)] if v in offered]
        if lower:
            return lower[-1]
    return default(spec, name)


def explain(spec: ModelSpec, name: str, old: Any, new: Any) -> str:
    """One clause saying what a model change did to a control."""
    label = LABELS[name]
    if new is None:
        return f"{label}: {spec.id} does not take it (left out)"
    if _row(name).kind == "int" and isinstance(old, int):
        low, high = int_range(spec, name)
        bound = f"over {spec.id}'s maximum of {high}" if old > high else f"under {spec.id}'s minimum of {low}"
        return f"{label} {old} is {bound}: set to {new}"
    return f"{label} {old} is not offered by {spec.id}: set to {new}"


def blocked(name: str, choices: Mapping[str, Any]) -> str | None:
    """Why ``name`` does not apply with the other ``choices`` (from its row's rules), or None when it does."""
    row = _row(name)
    for other, needed in {**row.refuse_unless, **row.drop_unless}.items():
        if other in choices and choices[other] not in needed:
            shown = ", ".join(str(v) for v in needed)
            return f"{LABELS.get(other, other)} is {choices[other]}; {LABELS.get(name, name)} needs {shown}"
    for other, excluded in row.refuse_with.items():
        if choices.get(other) in excluded:
            return f"{LABELS.get(other, other)} {choices[other]} does not take {LABELS.get(name, name)}"
    return None


def streams(spec: ModelSpec, choices: Mapping[str, Any]) -> bool:
    """Whether a request with ``choices`` can stream on ``spec`` (the ``stream`` row's gate and exclusions)."""
    return takes(spec, "stream") and blocked("stream", choices) is None
