"""``models()``: the registry as a readable table (text in a terminal, HTML in a notebook)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Sequence
from typing import Any, overload

from . import registry
from .registry import ModelSpec, all_specs

__all__ = ["ModelTable", "models"]

COLUMNS = ("model", "status", "endpoints", "sizes", "quality", "n", "formats", "extras")


def _row(spec: ModelSpec, today: dt.date | None) -> tuple[str, ...]:
    sizes = "free-form WxH" if spec.sizes.free_form else " ".join(spec.sizes.fixed)
    extras = [name for name, on in (("stream", spec.streaming), ("mask", spec.mask), ("markup", spec.markup),
                                    ("transparent", "transparent" in spec.backgrounds),
                                    ("input_fidelity", bool(spec.input_fidelity)), ("complexity", spec.complexity),
                                    ("style", bool(spec.styles)), ("url", spec.returns_url)) if on]
    return (spec.id, spec.status_line(today), ",".join(sorted(spec.endpoints)), sizes,
            " ".join(spec.qualities), f"1-{spec.n_max}", " ".join(spec.output_formats) or "png",
            " ".join(extras))


class ModelTable(Sequence[ModelSpec]):
    """The model specs, shown as a table; index it or iterate it for the ``ModelSpec`` rows."""

    def __init__(self, specs: Sequence[ModelSpec], today: dt.date | None = None) -> None:
        self._specs = tuple(specs)
        self._today = today

    @overload
    def __getitem__(self, index: int) -> ModelSpec: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[ModelSpec, ...]: ...

    def __getitem__(self, index: int | slice) -> ModelSpec | tuple[ModelSpec, ...]:
        return self._specs[index]

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs)

    def rows(self) -> list[tuple[str, ...]]:
        return [_row(spec, self._today) for spec in self._specs]

    def __str__(self) -> str:
        rows = [COLUMNS[:3] + COLUMNS[4:6]] + [r[:3] + r[4:6] for r in self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)
        return f"{table}\n{_dates_line()}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
                       + "</tr>" for row in self.rows())
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"<p style='font-size:smaller'>{html.escape(_dates_line())}</p>")


def _dates_line() -> str:
    listing = registry.listing()
    if listing is None:
        return "Shutdown dates: built into dalle_kit (models(refresh=True) reads them from /v1/models)."
    return (f"Shutdown dates: from /v1/models on {listing.host}, read {listing.read_on.isoformat()} "
            f"({len(listing.shutdown)} image models listed).")


def models(*, include_retired: bool = True, today: dt.date | None = None, refresh: bool = False,
           kit: Any = None) -> ModelTable:
    """Every image model dalle_kit knows, with status, replacement and capabilities.

    ``refresh=True`` first reads ``/v1/models`` through ``kit`` (default: ``Kit()``, which is the real API when
    a key is set and the offline simulator otherwise), keeps the shutdown dates in the store, and shows them.
    """
    if refresh:
        if kit is None:
            from .client import Kit

            kit = Kit(quiet=True)
        kit.refresh_models()
    specs = [s for s in all_specs() if include_retired or s.status(today) != "retired"]
    return ModelTable(specs, today)
