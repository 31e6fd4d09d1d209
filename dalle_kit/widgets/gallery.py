"""The gallery: the store's images newest first, searchable, with details, recall, re-run and export.

A thin view over :mod:`dalle_kit.gallery`; every control has a Python twin: ``search(text=..., model=...,
since=..., until=..., kind=...)``, ``select(i)``, ``unselect(i)``, ``next_page()``, ``previous_page()``,
``recall()``, ``rerun()``, ``export(path)``, ``refresh()``. Only thumbnails travel to the page (JPEG, or WebP
for a transparent image: a few kB each); the full-size files stay on disk.

A tile's toggle adds its image to the selection (and shows its details) or takes it out; ``select(i)`` makes
image ``i`` of the page the whole selection, ``select(i, add=True)`` adds it. The details pane, Recall and Re-run
use the image selected last; Export writes the whole selection (it is kept across pages and searches).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import gallery as g
from ..errors import InvalidArgument
from ..request import Request
from ..results import ImageResult, ImageSet, usd
from ..store import Store
from .base import WidgetBase, display_data, error_html, reported, shown_in_widget

__all__ = ["Gallery"]

_KEEP: Any = object()  # a search() argument not given: that control keeps its value
_KINDS = [("images", "image"), ("stream previews", "partial"), ("recovered files", "recovered"), ("every kind", "")]
_TILE_PX = 150


def _fit(**extra: str) -> w.Layout:
    return w.Layout(width="auto", min_width="0", **extra)


def _when(created: float) -> str:
    return dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M:%S")


def _row(name: str, value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return (f"<tr><th style='text-align:left;vertical-align:top;padding-right:8px'>{html.escape(name)}</th>"
            f"<td style='overflow-wrap:anywhere'>{html.escape(text)}</td></tr>")


def details_html(record: dict[str, Any]) -> str:
    """The details pane for one store record: a thumbnail, then prompt, revised prompt, parameters, usage, cost,
    file path, request id."""
    info = record.get("info") or {}
    request = dict(info.get("request") or {})
    inputs = {k: request.pop(k) for k in ("image", "mask", "markup") if k in request}
    for key in ("prompt", "model", "endpoint"):
        request.pop(key, None)
    data, fmt = g.thumbnail(record, 256)
    cost = info.get("cost")
    rows = [_row("prompt", record.get("prompt")), _row("revised prompt", info.get("revised_prompt")),
            _row("model", f"{record.get('model')} · {record.get('endpoint')}"), _row("parameters", request),
            _row("input images", {k: [f"{d.get('name')} {d.get('size')} sha256 {str(d.get('sha256'))[:12]}…"
                                      for d in (v if isinstance(v, list) else [v])] for k, v in inputs.items()}),
            _row("size", f"{info.get('size', '?')} {record.get('format')}"), _row("usage", info.get("usage")),
            _row("cost", usd(cost) if isinstance(cost, (int, float)) else "unknown"),
            _row("created", _when(record["created"])), _row("file", record.get("path")),
            _row("request id", record.get("request_id")), _row("backend", record.get("backend")),
            _row("store record", f"{record.get('id')} ({record.get('kind')})")]
    alt = html.escape(record.get("prompt") or "", quote=True)
    img = f"<img src='data:image/{fmt};base64,{base64.b64encode(data).decode()}' alt='{alt}' style='max-width:256px'>"
    return (f"<div class='dk-gallery-details' style='display:flex;flex-wrap:wrap;gap:12px;font-size:13px'>{img}"
            f"<table style='flex:1 1 320px'>{''.join(rows)}</table></div>")


def _request_html(request: Request) -> str:
    text = json.dumps(request.describe(), ensure_ascii=False, indent=2, default=str)
    return (f"<div class='dk-recalled'><b>Request</b> {html.escape(request.endpoint)} · {html.escape(request.model)}"
            f" · key {request.key[:12]}…<pre style='white-space:pre-wrap;margin:4px 0'>{html.escape(text)}</pre></div>")


class Gallery(WidgetBase, w.VBox):
    """The images in the store, newest first: search, details, recall, re-run, export; see the module docstring.

    ``kit`` re-runs (a ``Kit()`` is made on first use if none is given) and validates recalls the way it would
    send them; ``store`` defaults to the kit's, else the default store. ``gallery.page`` is the ``Page`` shown.
    """

    def __init__(self, kit: Any = None, *, store: Store | None = None, per_page: int = g.PER_PAGE) -> None:
        self.kit = kit
        self._own_store = store is None and kit is None
        self.store = store if store is not None else kit.store if kit is not None else Store()
        self.per_page = per_page
        self.page: g.Page = g.Page((), 0, 0, per_page)
        self.chosen: dict[int, dict[str, Any]] = {}  # the selection, by record id, in the order chosen
        self.current: dict[str, Any] | None = None  # the image whose details show (selected last)
        self.result: Any = None
        self._quiet = False  # set while twins move controls: one refresh, not one per control
        style = {"description_width": "64px"}
        self.text = w.Text(description="Search", placeholder="words in the prompt", continuous_update=False,
                           style=style, layout=_fit(flex="2 1 260px"))
        self.model = w.Dropdown(description="Model", options=[("any model", "")], style=style,
                                layout=_fit(flex="1 1 220px", max_width="320px"))
        self.kind = w.Dropdown(description="Kind", options=_KINDS, style=style,
                               layout=_fit(flex="1 1 200px", max_width="260px"))
        self.since = w.DatePicker(description="From", style=style, layout=_fit(flex="1 1 200px"))
        self.until = w.DatePicker(description="To", style=style, layout=_fit(flex="1 1 200px"))
        self.tiles = w.GridBox(layout=_fit(grid_template_columns=f"repeat(auto-fill, minmax({_TILE_PX}px, 1fr))",
                                           grid_gap="6px"))
        self.status = w.HTML(layout=_fit())
        self.previous_button = w.Button(description="Newer", icon="arrow-left", layout=w.Layout(width="auto"))
        self.next_button = w.Button(description="Older", icon="arrow-right", layout=w.Layout(width="auto"))
        self.details = w.HTML(layout=_fit())
        self.recall_button = w.Button(description="Recall", icon="undo", tooltip="the exact request behind it")
        self.rerun_button = w.Button(description="Re-run", icon="repeat", tooltip="from the store unless fresh")
        self.fresh = w.Checkbox(description="fresh (ask the API again)", indent=False, layout=w.Layout(width="auto"))
        self.export_path = w.Text(value="gallery-export.zip", description="Export to", style=style,
                                  layout=_fit(flex="1 1 240px", max_width="420px"))
        self.export_button = w.Button(description="Export", icon="download", tooltip="the selection, with metadata")
        self.error_box = w.HTML(layout=_fit())
        self.output = w.Output(layout=_fit())
        for control in (self.text, self.model, self.kind, self.since, self.until):
            control.observe(self.handler(lambda _change: self._changed()), names="value")
        self.previous_button.on_click(self.handler(lambda _b: self._turn(-1)))
        self.next_button.on_click(self.handler(lambda _b: self._turn(+1)))
        self.recall_button.on_click(self.handler(lambda _b: self._recall()))
        self.rerun_button.on_click(self.handler(lambda _b: self._rerun()))
        self.export_button.on_click(self.handler(lambda _b: self._export()))
        self.observe(lambda change: setattr(self.error_box, "value", error_html(change["new"])), names="error")
        self.observe(lambda _change: self._enable(), names="busy")
        wrap = _fit(flex_flow="row wrap", align_items="center")
        super().__init__([
            w.HBox([self.text, self.model, self.kind], layout=wrap), w.HBox([self.since, self.until], layout=wrap),
            self.tiles, w.HBox([self.previous_button, self.next_button, self.status], layout=wrap), self.details,
            w.HBox([self.recall_button, self.rerun_button, self.fresh, self.export_path, self.export_button],
                   layout=wrap), self.error_box, self.output], layout=_fit())
        self.add_class("dk-gallery")
        self.refresh()

    def close(self) -> None:
        """Close the widget (and the store it opened itself)."""
        if self._own_store:
            self.store.close()
        super().close()

    # -- state --------------------------------------------------------------------------------------------------
    @property
    def selection(self) -> list[dict[str, Any]]:
        """The selected records, in the order they were selected (across pages and searches)."""
        return list(self.chosen.values())

    def _query(self, page: int) -> g.Page:
        return g.search(self.store, self.text.value, model=self.model.value or None, since=self.since.value,
                        until=self.until.value, kind=self.kind.value or None, page=page, per_page=self.per_page)

    def _show(self, page: g.Page) -> None:
        self.page = page
        tiles = []
        for i, record in enumerate(page):
            data, fmt = g.thumbnail(record, _TILE_PX)
            prompt = record.get("prompt") or ""
            toggle = w.ToggleButton(value=record["id"] in self.chosen, description=prompt[:40] or f"#{record['id']}",
                                    tooltip=f"{prompt}\n{record.get('model')} · {_when(record['created'])}",
                                    layout=w.Layout(width="100%"))
            toggle.observe(self.handler(lambda change, i=i: self._toggled(i, change["new"])), names="value")
            tile = w.VBox([w.Image(value=data, format=fmt, layout=w.Layout(width="100%", height="auto")), toggle],
                          layout=_fit(border="1px solid #ddd", padding="2px"))
            tile.add_class("dk-gallery-tile")
            tiles.append(tile)
        old, self.tiles.children = self.tiles.children, tiles
        for tile in old:  # closed, with what they hold: a saved notebook keeps no state of pages left behind
            _close(tile)
        first = page.page * page.per_page + 1
        shown = f"{first:,}–{first + len(page) - 1:,} of {page.total:,}" if page.total else "no image matches"
        self.status.value = (f"<span class='dk-gallery-status'>{shown} · page {page.page + 1} of {page.pages}</span>")
        self._enable()

    def _enable(self) -> None:
        self.previous_button.disabled = self.busy or not self.page.has_previous
        self.next_button.disabled = self.busy or not self.page.has_next
        for button in (self.recall_button, self.rerun_button):
            button.disabled = self.busy or self.current is None
        self.export_button.disabled = self.busy or not (self.chosen or self.current)

    def _changed(self) -> None:
        if not self._quiet:
            self._show(self._query(0))

    def _turn(self, step: int) -> g.Page:
        self._show(self._query(max(0, min(self.page.page + step, self.page.pages - 1))))
        return self.page

    def _toggled(self, index: int, on: bool) -> None:
        if self._quiet:
            return
        if on:
            self._choose([index], add=True)
        else:
            self._drop(index)

    def _choose(self, indices: list[int], *, add: bool) -> dict[str, Any]:
        for i in indices:
            if not -len(self.page) <= i < len(self.page):
                raise InvalidArgument(f"select({i}): this page shows {len(self.page)} images (0 to "
                                      f"{len(self.page) - 1}); next_page() shows more")
        if not add:
            self.chosen.clear()
        for i in indices:
            self.chosen[self.page[i]["id"]] = self.page[i]
        self.current = self.page[indices[-1]]
        self._sync()
        return self.current

    def _drop(self, index: int) -> None:
        record = self.page[index]
        self.chosen.pop(record["id"], None)
        if self.current is not None and self.current["id"] == record["id"]:
            self.current = self.selection[-1] if self.chosen else None
        self._sync()

    def _sync(self) -> None:
        """Tiles, details and buttons as the selection is."""
        self._quiet = True
        try:
            for tile, record in zip(self.tiles.children, self.page):
                toggle = tile.children[1]
                toggle.value = record["id"] in self.chosen
                toggle.button_style = "info" if toggle.value else ""
        finally:
            self._quiet = False
        self.details.value = details_html(self.current) if self.current is not None else ""
        self._enable()

    def _say(self, *outputs: dict[str, Any], caught: Sequence[warnings.WarningMessage] = ()) -> None:
        self.output.outputs = (
            *({"output_type": "stream", "name": "stderr", "text": f"{m.category.__name__}: {m.message}\n"}
              for m in caught), *outputs)

    def _selected(self) -> dict[str, Any]:
        if self.current is None:
            raise InvalidArgument("select an image first: click its tile, or gallery.select(i)")
        return self.current

    # -- actions ------------------------------------------------------------------------------------------------
    def _recall(self) -> Request:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            request = g.recall(self.kit, self._selected(), store=self.store)
        from IPython.display import HTML

        self._say(display_data(HTML(_request_html(request))), caught=caught)
        return request

    def _rerun(self, fresh: bool | None = None) -> Any:
        with self.reporting(busy=True):
            record = self._selected()
            if self.kit is None:
                from ..client import Kit

                self.kit = Kit()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                request = g.recall(self.kit, record, store=self.store)
                answer = self.kit.run(request, fresh=self.fresh.value if fresh is None else fresh)
                if isinstance(answer, Iterator):  # a streamed call: its final images
                    finals = [r for r in answer if r.partial is None]
                    answer = finals[0] if len(finals) == 1 else ImageSet(finals)
            self.result = answer
            self._say(display_data(answer), caught=caught)
            self._show(self._query(self.page.page))  # a fresh answer is a new image in the store
        return self.result

    def _export(self, path: str | os.PathLike[str] | None = None) -> Path:
        records = self.selection or [self._selected()]
        target = g.export(records, path if path is not None else self.export_path.value)
        self._say({"output_type": "stream", "name": "stdout",
                   "text": f"exported {len(records)} image{'s' if len(records) != 1 else ''} to {target}\n"})
        return target

    # -- Python twins -------------------------------------------------------------------------------------------
    @reported
    def search(self, text: str | None = _KEEP, *, model: str | None = _KEEP, since: Any = _KEEP, until: Any = _KEEP,
               kind: str | None = _KEEP) -> g.Page:
        """Fill the search controls (those not given keep their value; None clears one) and show page 1."""
        values: list[tuple[w.Widget, Any]] = [(self.text, text), (self.model, model), (self.since, since),
                                              (self.until, until), (self.kind, kind)]
        self._quiet = True
        try:
            for control, value in values:
                if value is _KEEP:
                    continue
                if control is self.model and value and value not in [v for _, v in self.model.options]:
                    self.model.options = [*self.model.options, (value, value)]
                if control in (self.since, self.until) and isinstance(value, str):
                    value = dt.date.fromisoformat(value)
                control.value = value if value is not None or control in (self.since, self.until) else ""
        finally:
            self._quiet = False
        self._show(self._query(0))
        return self.page

    @reported
    def refresh(self) -> g.Page:
        """Read the store again (new images, new models), staying on this page."""
        names = g.models(self.store, None)
        self._quiet = True
        try:
            current = self.model.value
            self.model.options = [("any model", ""), *((m, m) for m in names),
                                  *([(current, current)] if current and current not in names else [])]
            self.model.value = current
        finally:
            self._quiet = False
        self._show(self._query(self.page.page))
        return self.page

    @reported
    def next_page(self) -> g.Page:
        """The Older button: the next page of older images."""
        return self._turn(+1)

    @reported
    def previous_page(self) -> g.Page:
        """The Newer button."""
        return self._turn(-1)

    @reported
    def select(self, *indices: int, add: bool = False) -> dict[str, Any]:
        """Select images ``indices`` of this page (``add=True``: in addition to the selection); the last one's
        details show. Returns its store record."""
        if not indices:
            raise InvalidArgument("select(i): give the position of an image on this page (0 is the newest)")
        return self._choose(list(indices), add=add)

    @reported
    def unselect(self, *indices: int) -> list[dict[str, Any]]:
        """Take images of this page out of the selection (none given: clear it)."""
        if not indices:
            self.chosen.clear()
            self.current = None
            self._sync()
        for i in indices:
            self._drop(i)
        return self.selection

    @reported
    def recall(self) -> Request:
        """The Recall button: the exact validated request behind the selected image (shown in the widget)."""
        return shown_in_widget(self._recall())

    def rerun(self, *, fresh: bool | None = None) -> ImageResult | ImageSet:
        """The Re-run button: ``kit.run(recalled request)``; from the store (nothing sent) unless ``fresh``."""
        return shown_in_widget(self._rerun(fresh))

    @reported
    def export(self, path: str | os.PathLike[str] | None = None) -> Path:
        """The Export button: the selection (else the image shown) to a folder, or a zip if ``path`` ends .zip."""
        return self._export(path)


def _close(widget: w.Widget) -> None:
    """Close ``widget`` and every widget inside it (their models leave the kernel and the notebook's state)."""
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()
