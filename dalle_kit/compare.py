"""Side-by-side comparisons (X/Y/Z plots): sweep up to three axes over one prompt, get a labelled ``CompareGrid``.

An axis is a parameter and its values (``{"quality": ["low", "high"]}``, ``("quality", [...])`` or
``"quality=low,high"``), a ``style`` or ``preset`` from the style library (DALL·E 3's ``vivid`` / ``natural`` become
prompt words, as notebook 03 shows, except on a model that takes ``style`` itself), a prompt search-and-replace
(``("prompt", ["cat", "fox"])``: the first value's first occurrence is replaced, as A1111's Prompt S/R), or a list
of prompts (``expand(...)``). Every cell is one request on the many-images path (:mod:`dalle_kit.many`): validated
first (a refused cell is listed with its reason and never sent), answered from the store when it holds it, priced,
confirmed above a threshold, then sent as one batch.
"""

from __future__ import annotations

import html
import itertools
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import costs, registry, styles, vocabulary
from .compare_grid import CompareGrid, _in_kernel
from .display import in_notebook
from .errors import DalleKitError, InvalidArgument
from .many import prepare
from .many_result import ManyResult, Outcome
from .prompts import Prompt
from .request import Request

if TYPE_CHECKING:
    from .client import Kit

__all__ = ["Axis", "Declined", "Plan", "compare", "parse_axis", "plan"]

AXIS_FORMS = ('{"quality": ["low", "high"]}, ("quality", ["low", "high"]), "quality=low,high", a list of prompts '
              '(e.g. from expand(...)), or an Axis')
#: Axes that are not a parameter sent as such: library styles, presets, and prompt search-and-replace.
SPECIAL = ("style", "preset", "prompt")
_NOT_SWEPT = frozenset({"prompt", "stream", "partial_images", "style"})  # many-at-once sends whole answers
_PRESETS = {**styles.PRESETS, **styles.DALLE3_STYLES}
_TEXT_PARTS = ("subject", "action", "setting", "composition", "lighting", "camera")

Key = tuple[int, int, int]


class Declined(DalleKitError):
    """The comparison was not confirmed (answered no, or no way to ask): nothing was sent."""


def param_names() -> tuple[str, ...]:
    """Parameters an axis may sweep (besides ``style``, ``preset`` and ``prompt``)."""
    return tuple(sorted(vocabulary.names("generate") - _NOT_SWEPT))


@dataclass(frozen=True)
class Axis:
    """One axis: ``kind`` is ``param`` (sent as ``name``), ``style``, ``preset``, ``replace`` (``name`` is
    ``prompt``; ``values[0]`` is the text searched for) or ``variants`` (whole prompts)."""

    name: str
    values: tuple[Any, ...]
    kind: str = "param"

    @property
    def labels(self) -> tuple[str, ...]:
        if self.kind == "variants":
            return tuple(getattr(v, "label", "") or _short(str(v)) for v in self.values)
        return tuple(str(v) for v in self.values)

    @property
    def title(self) -> str:
        return {"replace": f"prompt: {self.values[0]!s} →", "variants": "prompt"}.get(self.kind, self.name)

    def __len__(self) -> int:
        return len(self.values)


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _coerce(text: str) -> Any:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _values(name: str, raw: Any) -> tuple[Any, ...]:
    if isinstance(raw, str):
        return tuple(_coerce(v) for v in raw.split(",") if v.strip())
    if isinstance(raw, (bytes, Mapping)) or not isinstance(raw, (Sequence, set, frozenset)):
        raise InvalidArgument(f"axis {name!r}: values must be a list (e.g. {{{name!r}: ['a', 'b']}}), "
                              f"got {type(raw).__name__}")
    return tuple(raw)


def parse_axis(spec: Any, which: str = "x") -> Axis:
    """``spec`` in any of ``AXIS_FORMS`` as an ``Axis``; a bad one is ``InvalidArgument`` naming ``which`` and
    listing the forms."""
    try:
        return _parse_axis(spec, which)
    except InvalidArgument as exc:
        text = str(exc)
        text = text if text.startswith(f"{which}") else f"{which}: {text}"
        text = text if "an axis is one of" in text else f"{text}; an axis is one of {AXIS_FORMS}"
        raise InvalidArgument(text) from None


def _parse_axis(spec: Any, which: str) -> Axis:
    if isinstance(spec, Axis):
        return spec
    name: Any = None
    if isinstance(spec, str):
        name, sep, rest = spec.partition("=")
        if not sep:
            raise InvalidArgument(f"{which}={spec!r}: no '='")
        values = _values(name.strip(), rest)
        name = name.strip()
    elif isinstance(spec, Mapping):
        if len(spec) != 1:
            raise InvalidArgument(f"{which}: a dict axis has one key (the parameter), got {len(spec)}")
        ((name, raw),) = spec.items()
        values = _values(str(name), raw)
    elif (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)
          and not isinstance(spec[1], str) and isinstance(spec[1], (Sequence, set, frozenset))):
        name, values = spec[0], _values(spec[0], spec[1])
    elif isinstance(spec, (list, tuple)) and spec and all(isinstance(v, (str, Prompt)) for v in spec):
        return Axis("prompt", tuple(spec), "variants")
    else:
        raise InvalidArgument(f"{which}={spec!r:.60}: not an axis")
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"{which}: the axis needs a parameter name")
    if not values:
        raise InvalidArgument(f"{which}: the axis {name!r} has no values; give at least one")
    allowed = param_names()
    if name not in allowed and name not in SPECIAL:
        raise InvalidArgument(f"{which}: {name!r} cannot be an axis; sweep one of {', '.join(allowed)}, style, "
                              "preset or prompt (search and replace)")
    if name == "prompt":
        if not all(isinstance(v, str) and v for v in values):
            raise InvalidArgument(f"{which}: a prompt search-and-replace takes texts, e.g. ('prompt', ['cat', 'fox'])")
        return Axis("prompt", values, "replace")
    if name in ("style", "preset"):
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise InvalidArgument(f"{which}: {name} values are words, e.g. {name}=natural,vivid")
        unknown = [v for v in values if name == "preset" and v not in _PRESETS]
        if unknown:
            raise InvalidArgument(f"{which}: no preset {unknown[0]!r}; presets are {', '.join(_PRESETS)}")
        return Axis(name, tuple(v.strip() for v in values), name)
    return Axis(name, values, "param")


def _replace(prompt: str | Prompt, old: str, new: str) -> str | Prompt:
    """``prompt`` with the first occurrence of ``old`` replaced (a ``Prompt``: in its first part holding it)."""
    if isinstance(prompt, str):
        if old not in prompt:
            raise InvalidArgument(f"prompt search-and-replace: {old!r} is not in the prompt {_short(prompt)!r}")
        return prompt.replace(old, new, 1)
    for part in _TEXT_PARTS:
        if old in getattr(prompt, part):
            return prompt.with_(**{part: getattr(prompt, part).replace(old, new, 1)})
    for i, detail in enumerate(prompt.details):
        if old in detail:
            return prompt.with_(details=(*prompt.details[:i], detail.replace(old, new, 1), *prompt.details[i + 1:]))
    raise InvalidArgument(f"prompt search-and-replace: {old!r} is not in the prompt {_short(prompt.render())!r}")


def style_words(value: str, model: str) -> tuple[str, str]:
    """How a ``style`` value reaches ``model``: ``("param", note)`` when the model takes ``style=`` itself, else
    ``("preset" | "style", the prompt words)``."""
    spec = registry.get(model)
    if spec is not None and value in spec.styles:
        return "param", f"sent as style={value!r} to {model}"
    if value in _PRESETS:
        return "preset", _PRESETS[value][0]
    found = styles.find(value)
    return "style", found.en if found else value


def cell_params(prompt: str | Prompt | None, fixed: Mapping[str, Any], picks: Sequence[tuple[Axis, Any]],
                default_model: str) -> dict[str, Any]:
    """The ``generate`` arguments of one cell: ``fixed`` plus each axis' value (raises for a prompt that lacks
    the text a search-and-replace looks for)."""
    params = dict(fixed)
    text: str | Prompt | None = prompt
    for axis, value in picks:
        if axis.kind == "param":
            params[axis.name] = value
        elif axis.kind == "variants":
            text = value
    for axis, value in picks:
        if axis.kind == "replace" and text is not None:
            text = _replace(text, axis.values[0], value)
    model = str(params.get("model") or default_model)
    for axis, value in picks:
        if axis.kind not in ("style", "preset"):
            continue
        how = "preset" if axis.kind == "preset" else style_words(value, model)[0]
        if how == "param":
            params["style"] = value
            continue
        base = text if isinstance(text, Prompt) else Prompt(subject=text or "")
        text = base.preset(value) if how == "preset" else base.style(value)
    params["prompt"] = text
    return params


@dataclass
class Plan:
    """What a comparison would do, before anything is sent: every cell's outcome (refused ones already
    ``source="invalid"``), the ones to send, how many the store answers, and the estimate for the rest."""

    axes: tuple[Axis, Axis | None, Axis | None]
    cells: dict[Key, Outcome]
    to_send: list[Outcome]
    from_store: int
    estimate: costs.Estimate

    @property
    def refused(self) -> list[tuple[Key, Outcome]]:
        return [(key, o) for key, o in self.cells.items() if o.source == "invalid"]

    def label(self, key: Key) -> str:
        parts = [f"{axis.title}={axis.labels[i]}" for axis, i in zip(self.axes, (key[1], key[0], key[2])) if axis]
        return ", ".join(parts)

    def _head(self) -> str:
        shape = " × ".join(str(len(a)) for a in self.axes if a)
        head = (f"compare: {shape} = {len(self.cells)} cell{'s' if len(self.cells) != 1 else ''}; "
                f"{len(self.to_send)} to send (est. {self.estimate if self.to_send else '$0.000'})")
        if self.from_store:
            head += f", {self.from_store} from the store"
        if self.refused:
            head += f", {len(self.refused)} refused (left empty, not sent):"
        return head

    def __str__(self) -> str:
        return "\n".join([self._head()] + [f"  [{self.label(k)}] {o.reason()}" for k, o in self.refused])

    def _repr_html_(self) -> str:
        """The plan as a notebook shows it: one grey line, and a small table of the refused cells and why."""
        rows = "".join(f"<tr><td style='padding:0 8px 0 12px;white-space:nowrap'>{html.escape(self.label(k))}</td>"
                       f"<td style='color:#a00'>{html.escape(o.reason() or '')}</td></tr>" for k, o in self.refused)
        table = f"<table style='font:12px sans-serif;border-collapse:collapse'>{rows}</table>" if rows else ""
        return (f"<div class='dk-plan' style='font:12px sans-serif;color:#777;margin:2px 0'>"
                f"{html.escape(self._head())}{table}</div>")

    def show(self) -> None:
        """Tell the user the plan: a small grey HTML note under the cell in a notebook, plain lines on stderr
        elsewhere (a terminal, a script, the CLI)."""
        if in_notebook():
            from IPython.display import display

            display({"text/html": self._repr_html_(), "text/plain": str(self)}, raw=True)
        else:
            print(self, file=sys.stderr)


def _in_store(kit: Kit, request: Request, fresh: bool) -> bool:
    if fresh or not kit.cache:
        return False
    try:
        return bool(kit.store.find(request.key, int(request.params.get("n") or 1)))
    except sqlite3.Error:
        return False


def _axes(x: Any, y: Any, z: Any, fixed: Mapping[str, Any]) -> tuple[Axis, Axis | None, Axis | None]:
    axes = (parse_axis(x, "x"), None if y is None else parse_axis(y, "y"), None if z is None else parse_axis(z, "z"))
    names = [a.name for a in axes if a is not None and a.kind != "replace"]
    for name in set(names):
        if names.count(name) > 1:
            raise InvalidArgument(f"{name!r} is on two axes; put it on one (give it all the values)")
    both = [n for n in names if n in fixed or (n == "style" and "style" in fixed)]
    if both:
        raise InvalidArgument(f"{both[0]!r} is both an axis and a fixed parameter; leave out {both[0]}=...")
    return axes


def plan(kit: Kit, prompt: str | Prompt | None, x: Any, y: Any = None, z: Any = None, *, fresh: bool = False,
         **fixed: Any) -> Plan:
    """Validate every cell of the comparison and price what would be sent; nothing is sent."""
    axes = _axes(x, y, z, fixed)
    if prompt is None and not any(a is not None and a.kind == "variants" for a in axes):
        raise InvalidArgument("compare needs a prompt, or an axis that is a list of prompts (e.g. from expand(...))")
    if prompt is not None and not isinstance(prompt, (str, Prompt)):
        raise InvalidArgument(f"the prompt must be text or a Prompt, got {type(prompt).__name__}")
    for axis in axes:
        if axis is not None and axis.kind == "replace" and prompt is not None and not any(
                a is not None and a.kind == "variants" for a in axes):
            _replace(prompt, axis.values[0], axis.values[0])  # the search text must be in the prompt
    xs, ys, zs = (range(len(a)) if a else range(1) for a in axes)
    cells: dict[Key, Outcome] = {}
    valid: list[tuple[Key, Request]] = []
    for index, (k, r, c) in enumerate(itertools.product(zs, ys, xs)):
        picks = [(a, a.values[i]) for a, i in zip(axes, (c, r, k)) if a is not None]
        outcome = Outcome(index, None)
        try:
            outcome.given = cell_params(prompt, fixed, picks, kit.model)
            outcome.request = kit.request("generate", **outcome.given)
        except DalleKitError as exc:
            outcome.error, outcome.source = exc, "invalid"
        else:
            valid.append(((r, c, k), outcome.request))
        cells[(r, c, k)] = outcome
    taken = prepare(kit, "generate", [request for _, request in valid], {})  # repeats get takes of their own
    to_send = []
    for (key, _), prepared in zip(valid, taken):
        outcome = cells[key]
        outcome.request = prepared.request
        if outcome.request is not None and not _in_store(kit, outcome.request, fresh):
            to_send.append(outcome)
    estimate = costs.estimate_many([o.request for o in to_send if o.request is not None])
    return Plan(axes, cells, to_send, len(valid) - len(to_send), estimate)


def _confirmed(p: Plan, threshold: float, ask: Callable[[str], str]) -> bool:
    high = p.estimate.high
    if not p.to_send or (high is not None and p.estimate.known and high <= threshold):
        return True
    try:
        answer = ask(f"Send {len(p.to_send)} request{'s' if len(p.to_send) != 1 else ''} "
                     f"(est. {p.estimate}, over ${threshold:.2f})? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def compare(kit: Kit, prompt: str | Prompt | None, x: Any, y: Any = None, z: Any = None, *, confirm: bool = True,
            confirm_above: float = 0.50, progress: bool = True, fresh: bool = False, concurrency: int = 8,
            live: bool = True, **fixed: Any) -> CompareGrid:
    """Generate one image per cell of the X/Y/Z comparison of ``prompt`` and return the labelled ``CompareGrid``.

    ``x``, ``y``, ``z``: axes (see the module doc; ``z`` makes one grid per value). ``fixed``: ``generate``
    arguments for every cell (``quality="low"``, ``model=...``). Every cell is validated first: a refused cell is
    listed with its reason and left empty (never sent). The plan (calls, estimated cost, refused cells) is shown
    when ``progress`` (``Plan.show``: a grey note in a notebook, stderr elsewhere); above ``confirm_above`` US
    dollars it asks first (``input()``) unless ``confirm=False``; a no sends nothing (those cells say so). The
    rest goes out as one ``generate_many`` batch; cells the store holds cost nothing (``fresh=True`` asks again).
    In a notebook (``live``) the grid shows at once and fills in as results arrive.
    """
    if isinstance(confirm_above, bool) or not isinstance(confirm_above, (int, float)) or confirm_above < 0:
        raise InvalidArgument(f"confirm_above must be US dollars, 0 or more, got {confirm_above!r}")
    p = plan(kit, prompt, x, y, z, fresh=fresh, **fixed)
    if progress or (confirm and p.to_send):
        p.show()
    queued = [o for o in p.cells.values() if o.request is not None]
    if confirm and not _confirmed(p, confirm_above, input):  # nothing is sent; the store's answers still show
        declined = Declined(f"not sent: the comparison (est. {p.estimate}) was not confirmed; answer y, or pass "
                            "confirm=False (dalle-kit compare --yes)")
        for outcome in p.to_send:
            outcome.error = declined
        queued = [o for o in queued if o.error is None]
    from IPython.display import display

    from .widgets.base import shown_in_widget

    grid = CompareGrid(p.axes, p.cells, ManyResult(list(p.cells.values())), legend=_legend(kit, prompt, p, fixed),
                       plan=str(p))
    live = bool(queued) and live and _in_kernel()
    shown = display(grid, display_id=True) if live else None  # in a notebook the grid fills in as results arrive
    key_of = {id(o): key for key, o in p.cells.items()}

    def arrived(after: Outcome) -> None:
        _copy(after, queued[after.index])
        grid.widget.refresh_cell(key_of[id(queued[after.index])])

    if queued:
        result = kit.generate_many([o.request for o in queued], concurrency=concurrency, progress=progress,
                                   fresh=fresh, on_outcome=arrived if live else None)
        for before, after in zip(queued, result):
            _copy(after, before)
        grid.result = ManyResult(list(p.cells.values()), sent=result.sent, wall=result.wall)
    if shown is not None:
        shown.update(grid)  # the saved output's static fallback: the grid as it ended
        return shown_in_widget(grid)
    return grid


def _copy(after: Outcome, before: Outcome) -> None:
    """What the batch found for a cell, into the cell's own outcome."""
    before.result, before.error, before.source = after.result, after.error, after.source
    before.attempts, before.seconds, before.cost = after.attempts, after.seconds, after.cost


def _legend(kit: Kit, prompt: str | Prompt | None, p: Plan, fixed: Mapping[str, Any]) -> dict[str, Any]:
    """What the grid's legend records: the prompt, the fixed parameters, and the style words used."""
    shown = dict(fixed)
    if not any(a is not None and a.name == "model" for a in p.axes):
        shown.setdefault("model", kit.model)
    words: dict[str, str] = {}
    models = {str(o.given.get("model") or kit.model) for o in p.cells.values() if isinstance(o.given, dict)}
    for axis in p.axes:
        if axis is None or axis.kind not in ("style", "preset"):
            continue
        for value in axis.values:
            for model in sorted(models):
                how, text = ("preset", _PRESETS[value][0]) if axis.kind == "preset" else style_words(value, model)
                note = f"{value!r}: {text}" if how == "param" else f"{value!r} → prompt words “{text}”"
                if value in styles.DALLE3_STYLES and how != "param":
                    note += " (DALL·E 3's style parameter, as words for today's models)"
                words.setdefault(f"{value}@{how}", note)
    return {"prompt": prompt.render() if isinstance(prompt, Prompt) else prompt, "fixed": shown,
            "words": list(words.values())}
