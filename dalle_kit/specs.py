"""The shapes of the registry's facts: ``ModelSpec`` (one model), ``SizeRule`` (its sizes), ``Listing`` (what
``/v1/models`` said). The facts themselves live in ``dalle_kit.registry``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Listing", "ModelSpec", "SizeRule", "derive", "parse_size"]

Status = Literal["current", "deprecated", "retired"]
Endpoint = Literal["generate", "edit", "variation"]

_SIZE = re.compile(r"([0-9]{1,6})x([0-9]{1,6})")


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1536x1024"`` -> ``(1536, 1024)``; None for ``auto`` or anything not ``WIDTHxHEIGHT`` in ASCII digits."""
    match = _SIZE.fullmatch(str(size).strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class SizeRule:
    """Which ``size`` values a model takes: a fixed list, free-form ``WxH`` within limits, and/or ``auto``."""

    fixed: tuple[str, ...]
    free_form: bool = False
    auto: bool = True
    multiple: int = 16
    max_aspect: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 3840 * 2160
    max_edge: int = 3840
    square_only: bool = False

    def describe(self) -> str:
        parts = list(self.fixed) + (["auto"] if self.auto else [])
        if self.free_form:
            return (
                f"{', '.join(parts)}, or any WIDTHxHEIGHT with both sides multiples of {self.multiple}, "
                f"aspect between 1:{self.max_aspect:g} and {self.max_aspect:g}:1, "
                f"{self.min_pixels:,} to {self.max_pixels:,} pixels, no edge over {self.max_edge}"
            )
        return ", ".join(parts)

    def problem(self, size: str) -> str | None:
        """Why ``size`` is not accepted, or None when it is (``size`` already lower-cased)."""
        if size == "auto":
            return None if self.auto else "this model has no automatic sizing"
        if size in self.fixed:
            return None
        wh = parse_size(size)
        if wh is None:
            return "expected WIDTHxHEIGHT, for example '1536x1024'"
        if not self.free_form:
            return "this model takes only its fixed sizes"
        w, h = wh
        if w % self.multiple or h % self.multiple:
            return f"width and height must both be divisible by {self.multiple}"
        if max(w, h) > self.max_aspect * min(w, h):
            return f"the aspect ratio must be between 1:{self.max_aspect:g} and {self.max_aspect:g}:1"
        if max(w, h) > self.max_edge:
            return f"no edge may exceed {self.max_edge} pixels"
        if w * h > self.max_pixels:
            return f"at most {self.max_pixels:,} pixels (3840x2160)"
        if w * h < self.min_pixels:
            return f"at least {self.min_pixels:,} pixels (for example 1024x640)"
        return None


@dataclass(frozen=True)
class ModelSpec:
    """What one model id accepts and returns. Read it; never branch on model names elsewhere."""

    id: str
    family: str
    snapshot_of: str | None
    released: str | None
    deprecated_on: dt.date | None
    shutdown_on: dt.date | None
    replacement: tuple[str, ...]
    endpoints: frozenset[str]
    sizes: SizeRule
    qualities: tuple[str, ...]
    n_max: int
    prompt_max: int
    output_formats: tuple[str, ...]
    compression: bool
    backgrounds: tuple[str, ...]
    moderation: tuple[str, ...]  # generate only
    streaming: bool
    partial_images_max: int
    input_fidelity: tuple[str, ...]  # empty: omit the parameter
    markup: bool
    mask: bool
    max_input_images: int
    max_input_bytes: int
    input_mimetypes: tuple[str, ...]
    mask_max_bytes: int
    complexity: bool
    styles: tuple[str, ...]  # DALL·E 3's legacy `style`
    response_formats: tuple[str, ...]  # legacy `response_format`; empty: always Base64
    returns_url: bool
    revised_prompt: bool
    usage: bool
    alpha_without_mask: bool = False  # an edit without a mask needs an image with transparency (DALL·E 2)
    sources: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, str] = field(default_factory=dict)

    def status(self, today: dt.date | None = None) -> Status:
        """``current``, ``deprecated`` (a shutdown date is announced) or ``retired`` (that date has passed)."""
        today = today or dt.date.today()
        if self.shutdown_on and today >= self.shutdown_on:
            return "retired"
        if self.deprecated_on or self.shutdown_on:
            return "deprecated"
        return "current"

    @property
    def is_gpt_image(self) -> bool:
        """A GPT image model (Base64 results, token usage); False for the retired DALL·E family."""
        return self.family != "dall-e"

    def status_line(self, today: dt.date | None = None) -> str:
        status = self.status(today)
        if status == "current":
            return "current"
        use = f"; use {' or '.join(self.replacement)}" if self.replacement else ""
        if self.shutdown_on is None:
            return f"{status}: no shutdown date announced{use}"
        verb = "shut down" if status == "retired" else "shuts down"
        return f"{status}: {verb} {self.shutdown_on.isoformat()}{use}"


def derive(base: ModelSpec | None = None, /, *, fresh_sources: bool = False, **changes: object) -> ModelSpec:
    """A new spec from ``base`` with ``changes``.

    ``sources`` and ``choices`` are merged into the base's (unless ``fresh_sources``); an empty string removes
    an inherited entry.
    """
    if base is None:
        return ModelSpec(**changes)  # type: ignore[arg-type]
    for key in ("sources", "choices"):
        if key in changes and not fresh_sources:
            merged = {**getattr(base, key), **changes[key]}  # type: ignore[dict-item]
            changes[key] = {k: v for k, v in merged.items() if v}
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Listing:
    """What ``/v1/models`` said: the image model ids it lists and their ``shutdown_date`` (None: not announced)."""

    shutdown: Mapping[str, dt.date | None]
    read_on: dt.date
    host: str = "api.openai.com"

    def lists(self, model: str) -> bool:
        return model in self.shutdown


