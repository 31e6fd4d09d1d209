"""The live smoke test's mode, key, plan (every request it will send) and spend ledger.

The mode and the key are read **when this module is imported**: ``tests/live/conftest.py`` imports it, and when
pytest is started on this folder (``pytest tests/live``) that happens before the repository's root ``conftest.py``
drops ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from the environment for the whole session (its
``pytest_configure``). The key is only kept here, in a module variable, and only when ``DALLE_KIT_LIVE=1``; it is
never put back into ``os.environ``, so every other test, and every notebook kernel, still runs without it.

``DALLE_KIT_LIVE=1`` + ``OPENAI_API_KEY``: the real API (or ``OPENAI_BASE_URL``). ``DALLE_KIT_LIVE=sim``: the same
suite against the in-process offline simulator (no key; the budget and spend logic run the same).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

import dalle_kit
from dalle_kit import costs, masks, registry
from dalle_kit.request import Request

#: The most the suite may spend, by the price table (dalle_kit.costs), in US dollars.
CAP = 0.10

_FLAG = os.environ.get("DALLE_KIT_LIVE", "").strip().lower()
_KEY = ((os.environ.get("OPENAI_API_KEY") or "").strip() or None) if _FLAG == "1" else None
BASE_URL = ((os.environ.get("OPENAI_BASE_URL") or "").strip() or None) if _FLAG == "1" else None

#: "live" (the real API), "sim" (the offline simulator) or None (the suite is skipped).
MODE: str | None = "sim" if _FLAG == "sim" else "live" if _FLAG == "1" and _KEY else None

if MODE is not None:
    SKIP_REASON = ""
elif _FLAG == "1":
    SKIP_REASON = ("live smoke test: DALLE_KIT_LIVE=1 but no OPENAI_API_KEY was seen. Set it, and start pytest on "
                   "this folder (pytest tests/live): the root conftest.py drops the key before a folder collected "
                   "later (pytest tests) could read it")
else:
    SKIP_REASON = ("live smoke test (real API, costs < $0.10): set OPENAI_API_KEY=sk-... and DALLE_KIT_LIVE=1 and "
                   "run pytest tests/live -s; DALLE_KIT_LIVE=sim runs it on the offline simulator")


def api_key() -> str:
    """The key captured at import (live mode only)."""
    assert _KEY is not None, "api_key() is for DALLE_KIT_LIVE=1 with OPENAI_API_KEY set"
    return _KEY


def current_models() -> list[str]:
    """The registry's current models that generate, one per model: a dated snapshot (``snapshot_of``) is the
    same model as its alias and is left out."""
    return [s.id for s in dalle_kit.models(include_retired=False)
            if s.status() == "current" and s.snapshot_of is None and "generate" in s.endpoints]


def _first(models: list[str], want: str) -> str:
    """The default model when it is current and can do ``want`` (``mask``, ``streaming``), else the first one."""
    able = [m for m in models if (spec := registry.get(m)) is not None and getattr(spec, want)]
    if not able:
        raise RuntimeError(f"no current model has {want}; see dalle_kit.models()")
    return registry.DEFAULT_MODEL if registry.DEFAULT_MODEL in able else able[0]


def edit_inputs(model: str) -> tuple[Image.Image, Image.Image]:
    """A small picture (a blue square with a white house) and a mask that edits an ellipse of sky in it, made
    ready for ``model`` by ``dalle_kit.masks.prepare``. Small: input images are paid by 512-pixel tiles."""
    picture = Image.new("RGB", (256, 256), (70, 130, 200))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((88, 140, 168, 220), fill=(245, 245, 240))
    draw.polygon([(80, 140), (128, 96), (176, 140)], fill=(180, 60, 50))
    draw.rectangle((0, 220, 256, 256), fill=(60, 150, 70))
    mask = masks.ellipse(picture, (150, 16, 240, 96))
    return masks.prepare(picture, mask, model)


@dataclass
class Plan:
    """Every request the suite sends, validated up front (nothing is sent to build it)."""

    generations: list[Request]
    edit: Request
    stream: Request
    batch: list[Request]

    def estimates(self) -> list[tuple[str, costs.Estimate]]:
        out = [(f"generate {r.model}", costs.estimate(r)) for r in self.generations]
        out += [(f"masked edit {self.edit.model}", costs.estimate(self.edit)),
                (f"streamed generate {self.stream.model}", costs.estimate(self.stream))]
        out += [(f"batch line {n} {r.model}", costs.estimate(r, batch=True)) for n, r in enumerate(self.batch, 1)]
        return out

    def worst_case(self) -> costs.Estimate:
        return sum((e for _, e in self.estimates()), costs.Estimate())


def plan(kit: dalle_kit.Kit) -> Plan:
    """The suite's requests: one low-quality 1024x1024 generation per current model, one masked edit, one streamed
    generation (one preview), and two Batch API lines, all at low quality."""
    low: dict[str, Any] = {"quality": "low", "size": "1024x1024"}
    models = current_models()
    generations = [kit.request("generate", prompt=f"dalle_kit live smoke test: a red apple on a white table "
                                                   f"({model})", model=model, **low) for model in models]
    edit_model = _first(models, "mask")
    image, mask = edit_inputs(edit_model)
    edit = kit.request("edit", image=image, mask=mask, model=edit_model, **low,
                       prompt="dalle_kit live smoke test: a yellow sun in the sky")
    stream = kit.request("generate", prompt="dalle_kit live smoke test: a paper boat on a pond", stream=True,
                         partial_images=1, model=_first(models, "streaming"), **low)
    batch = [kit.request("generate", prompt=f"dalle_kit live smoke test (batch): {thing}",
                         model=registry.DEFAULT_MODEL if registry.DEFAULT_MODEL in models else models[0], **low)
             for thing in ("a green pear", "a blue cup")]
    return Plan(generations, edit, stream, batch)


def refusal(worst: costs.Estimate, cap: float | None = None) -> str | None:
    """Why the suite must not run (its worst case is unknown or could pass ``cap``, default ``CAP``), or None."""
    cap = CAP if cap is None else cap
    if not worst.known or worst.high is None:
        return (f"the worst-case cost of the live smoke test is unknown ({'; '.join(worst.reasons)}), so nothing "
                "was sent")
    if worst.high > cap:
        return (f"the live smoke test could cost {costs.usd(worst.high)} by the price table, over its cap of "
                f"{costs.usd(cap)}, so nothing was sent")
    return None


@dataclass
class Line:
    test: str
    spent: float | None
    note: str = ""


@dataclass
class Ledger:
    """What each test spent (``ImageResult.cost`` / ``ManyResult.cost``), for the summary at the end."""

    mode: str
    cap: float
    worst: costs.Estimate = dataclasses.field(default_factory=costs.Estimate)
    lines: list[Line] = field(default_factory=list)
    pending: float = 0.0  # Batch lines submitted and not collected: charged when the job completes

    def add(self, test: str, spent: float | None, note: str = "") -> Line:
        line = Line(test, spent, note)
        self.lines.append(line)
        print(f"\n[live:{self.mode}] {self.format(line)}", flush=True)
        return line

    @staticmethod
    def format(line: Line) -> str:
        return f"{line.test}: spent {costs.usd(line.spent)}" + (f" ({line.note})" if line.note else "")

    @property
    def total(self) -> float | None:
        """The sum of what was spent, None when a cost is unknown."""
        if any(line.spent is None for line in self.lines):
            return None
        return sum(line.spent or 0.0 for line in self.lines)

    def summary(self) -> list[str]:
        out = [f"dalle_kit live smoke test ({self.mode}): worst case {self.worst} by the price table, cap "
               f"{costs.usd(self.cap)}"]
        out += [f"  {self.format(line)}" for line in self.lines]
        total = self.total
        tail = f"total spent {costs.usd(total)}" if total is not None else "total spent: unknown (a cost is unknown)"
        if self.pending:
            tail += f", plus up to {costs.usd(self.pending)} for the Batch job when it completes"
        return [*out, "  " + tail]
