"""The Images API's parameter vocabulary: one ``ParamSpec`` row per parameter, read by both judges.

The client-side validator (``dalle_kit.validation``) and the simulator's rules (``dalle_kit.simulator.rules``)
keep separate logic, so that their agreement test means something, but they read the same facts from here:
which endpoint takes which parameter, its type, its values or range, which ``ModelSpec`` field gates it per
model, and which other settings it needs. A parameter with no special logic (most of them) is judged from its
row alone by both sides, so a new parameter is one row here plus a test.

Sources use the keys of ``dalle_kit.registry`` (``SDK`` = openai-python ``types/image_*_params.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "EFFORTS",
    "ENDPOINTS",
    "FILE_PARAMS",
    "PARAMS",
    "ParamSpec",
    "extra_row",
    "gate_allows",
    "get",
    "names",
    "rows",
]

Kind = Literal["model", "prompt", "int", "enum", "bool", "str", "size", "file", "object"]
ENDPOINTS = ("generate", "edit", "variation")
_GEN_EDIT = frozenset({"generate", "edit"})
_ALL = frozenset(ENDPOINTS)
#: ``svg.reasoning.effort`` values (SDK ``SvgReasoning.effort``).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
FILE_PARAMS = ("image", "mask", "markup")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of the Images API.

    Attributes:
        name: as sent on the wire.
        endpoints: the endpoints that take it.
        kind: how its value is read: ``int``, ``enum``, ``bool``, ``str`` (judged from this row alone), or
            ``model``, ``prompt``, ``size``, ``file``, ``object`` (each judge has logic of its own for these).
        values: every value the API names for an ``enum`` (any model).
        low, high: the range of an ``int``; ``high_from`` names a ``ModelSpec`` field that gives ``high`` per model.
        gate: a ``ModelSpec`` field saying whether (bool) or with which values (tuple) a model takes it;
            ``gate_value``: the gate is "this value is in that tuple" (GIF settings: ``"gif"`` in
            ``output_formats``). None: every model takes it.
        legacy: a DALL·E-only parameter; to a model without it, the API answers ``unknown_parameter``.
        legacy_values: DALL·E-era values and what they most likely mean now (a hint, never a silent rewrite).
        aliases: common misspellings and the value meant (a hint).
        refuse_unless: settings this needs, e.g. ``{"output_format": ("gif",)}``; unmet: refused.
        drop_unless: settings without which it has no effect; unmet: dropped with a warning (the API accepts
            it). ``refuse_with``: settings it cannot be combined with.
        default: the value the API uses when it is omitted (for documentation and the simulator).
        source: where the facts come from.
    """

    name: str
    endpoints: frozenset[str]
    kind: Kind
    values: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    high_from: str | None = None
    gate: str | None = None
    gate_value: str | None = None
    legacy: bool = False
    legacy_values: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    refuse_unless: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    drop_unless: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    refuse_with: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    default: Any = None
    source: str = ""

    @property
    def generic(self) -> bool:
        """True when both judges decide it from this row alone."""
        return self.kind in ("int", "enum", "bool", "str")


def gate_allows(row: ParamSpec, spec: Any) -> tuple[bool, tuple[str, ...]]:
    """Whether ``spec`` (a ``ModelSpec``) takes ``row`` at all, and the values it takes (enums)."""
    if row.gate is None:
        return True, row.values
    gate = getattr(spec, row.gate)
    if row.gate_value is not None:
        return row.gate_value in gate, row.values
    if isinstance(gate, tuple):
        return bool(gate), gate
    return bool(gate), row.values


_ROWS: tuple[ParamSpec, ...] = (
    ParamSpec("model", _ALL, "model", source="SDK `model`: a GPT image model; dall-e-2 for variations"),
    ParamSpec("prompt", _GEN_EDIT, "prompt", source="SDK `prompt`: up to 32000 characters"),
    ParamSpec("image", frozenset({"edit", "variation"}), "file", source="SDK edit `image`: up to 16 files"),
    ParamSpec("mask", frozenset({"edit"}), "file", gate="mask", refuse_with={"output_format": ("gif",)},
              source="SDK `mask`; GIF output 'does not support ... masks'"),
    ParamSpec("markup", frozenset({"edit"}), "file", gate="markup", source="SDK `markup`"),
    ParamSpec("n", _ALL, "int", low=1, high=10, high_from="n_max", default=1, source="SDK `n`: 1 to 10"),
    ParamSpec("size", _ALL, "size", default="auto", source="SDK `size`"),
    ParamSpec("quality", _GEN_EDIT, "enum", values=("low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"),
              gate="qualities", legacy_values={"hd": "high", "standard": "medium"}, default="auto",
              source="SDK `quality`; standard/hd 'only supported by retired DALL·E models'"),
    ParamSpec("output_format", _GEN_EDIT, "enum", values=("png", "webp", "jpeg", "gif", "svg"), gate="output_formats",
              aliases={"jpg": "jpeg", "image/jpeg": "jpeg", "image/png": "png"}, default="png",
              source="SDK `output_format`: GPT image models only"),
    ParamSpec("stream", _GEN_EDIT, "bool", gate="streaming", refuse_with={"output_format": ("gif", "svg")},
              default=False, source="SDK `stream`; GIF and SVG output do not support streaming"),
    ParamSpec("partial_images", _GEN_EDIT, "int", low=0, high=3, high_from="partial_images_max", gate="streaming",
              drop_unless={"stream": (True,)}, default=0,
              source="SDK `partial_images`: 'used for streaming responses', 0 to 3"),
    ParamSpec("output_compression", _GEN_EDIT, "int", low=0, high=100, gate="compression",
              drop_unless={"output_format": ("webp", "jpeg")}, refuse_with={"output_format": ("gif", "svg")},
              default=100, source="SDK `output_compression`: 0-100 'with the webp or jpeg output formats'; "
              "OpenAI's own example sends png with 100; GIF/SVG 'do not support ... output compression'"),
    ParamSpec("background", _GEN_EDIT, "enum", values=("transparent", "opaque", "auto"), gate="backgrounds",
              default="auto", source="SDK `background`; transparent needs png or webp"),
    ParamSpec("moderation", frozenset({"generate"}), "enum", values=("low", "auto"), gate="moderation",
              default="auto", source="SDK generate `moderation`"),
    ParamSpec("complexity", _GEN_EDIT, "enum", values=("low", "medium", "high"), gate="complexity",
              source="SDK `complexity`: 'Uses the image model's configured default when omitted'"),
    ParamSpec("input_fidelity", frozenset({"edit"}), "enum", values=("high", "low"), gate="input_fidelity",
              default="low", source="SDK edit `input_fidelity`"),
    ParamSpec("frame_count", _GEN_EDIT, "int", low=2, high=16, gate="output_formats", gate_value="gif",
              refuse_unless={"output_format": ("gif",)}, default=9,
              source="SDK `frame_count`: 2 through 16, 'Only supported with output_format=gif'"),
    ParamSpec("frame_duration_ms", _GEN_EDIT, "int", low=0, high=2**31 - 1, gate="output_formats", gate_value="gif",
              refuse_unless={"output_format": ("gif",)}, default=200,
              source="SDK `frame_duration_ms`: rounded to 10 ms and capped at 655,350 ms, not refused"),
    ParamSpec("svg", _GEN_EDIT, "object", gate="output_formats", gate_value="svg",
              refuse_unless={"output_format": ("svg",)}, source="SDK `svg`: {model, reasoning: {effort}}"),
    ParamSpec("style", frozenset({"generate"}), "enum", values=("vivid", "natural"), gate="styles", legacy=True,
              source="SDK `style`: 'Unsupported for GPT image models'"),
    ParamSpec("response_format", _ALL, "enum", values=("url", "b64_json"), gate="response_formats", legacy=True,
              source="SDK `response_format`: 'Unsupported for GPT image models'"),
    ParamSpec("safety_identifier", _GEN_EDIT, "str", source="SDK `safety_identifier`"),
    ParamSpec("user", _ALL, "str", source="SDK `user`: deprecated, use safety_identifier"),
)

PARAMS: Mapping[str, ParamSpec] = MappingProxyType({row.name: row for row in _ROWS})
_EXTRA: dict[str, ParamSpec] = {}


def rows(endpoint: str | None = None) -> tuple[ParamSpec, ...]:
    """Every row (or those ``endpoint`` takes), in the order both judges check them."""
    every = tuple(PARAMS.values()) + tuple(_EXTRA.values())
    return every if endpoint is None else tuple(r for r in every if endpoint in r.endpoints)


def names(endpoint: str) -> frozenset[str]:
    """The parameter names ``endpoint`` takes."""
    return frozenset(r.name for r in rows(endpoint))


def get(name: str) -> ParamSpec | None:
    return _EXTRA.get(name) or PARAMS.get(name)


@contextmanager
def extra_row(row: ParamSpec) -> Iterator[ParamSpec]:
    """Add ``row`` to the vocabulary for the duration of a ``with`` block (tests of a new parameter)."""
    _EXTRA[row.name] = row
    try:
        yield row
    finally:
        _EXTRA.pop(row.name, None)
