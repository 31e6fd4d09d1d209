"""``CompareView``: the live view of a ``CompareGrid`` — headers, thumbnails, captions, a details pane.

Built from core ipywidgets only (GridBox, HTML, Button, Image, Tab), so a notebook saved with its widget state
still renders it in nbconvert / nbviewer's widget manager. "open" under a cell (twin: ``grid.select(row, col)`` or
``view.select(row, col)``) shows the full-size image as received and its provenance; an empty cell shows why it is
empty. The full image lives in the pane only while it is open (``hide_detail()``); thumbnails are small WebP/JPEG.

A saved notebook keeps every widget's state, so the view stays light: a cell is one HTML widget (its thumbnail
and caption) and its "open" button, filled in place as its answer arrives, and the Layout and style objects nobody
changes are shared by every cell of every grid (one per kind) rather than one per widget.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w
import traitlets as t
from ipywidgets.widgets.widget_string import HTMLStyle

from ..compare_grid import THUMB_PX, cell_caption
from .base import WidgetBase, error_html, reported

if TYPE_CHECKING:
    from ..compare_grid import CompareGrid, Key

__all__ = ["CompareView"]

_SHOWN = ("png", "jpeg", "webp", "gif")
W = TypeVar("W", bound=w.Widget)
_SHARED: dict[str, w.Widget] = {}


def _shared(kind: str, make: Callable[[], W]) -> W:
    """One Layout/style widget per ``kind`` for every view in this kernel (made again if it was closed)."""
    found = _SHARED.get(kind)
    if found is None or getattr(found, "comm", None) is None:
        found = _SHARED[kind] = make()
    return found


def _layout() -> w.Layout:
    """The default layout, shared: for widgets whose layout never changes."""
    return _shared("layout", w.Layout)


def _html(value: str) -> w.HTML:
    return w.HTML(value, layout=_layout(), style=_shared("html-style", HTMLStyle))


class CompareView(WidgetBase, w.VBox):
    """The widget ``CompareGrid`` displays in a live kernel; ``selected`` is ``[row, col, z]`` (``[]``: none)."""

    selected = t.List(t.Int(), help="the open cell as [row, col, z], or [] when none is open")

    def __init__(self, grid: CompareGrid) -> None:
        self.grid = grid
        self._legend = _html(grid.legend_html())
        self._info = _html("")
        self._full = w.Image(layout=w.Layout(max_width="100%", display="none"))
        self._hide = w.Button(description="close", icon="times", layout=w.Layout(width="auto", display="none"),
                              style=_shared("button-style", w.ButtonStyle))
        self._hide.on_click(self.handler(lambda _: self.hide_detail()))
        self._error = _html("")
        grids = self._boxes = [self._grid_box(z) for z in range(grid.shape[2])]
        if grid.z is not None:
            body: w.Widget = w.Tab(children=grids, titles=[f"{grid.z.title} = {v}" for v in grid.z.labels])
        else:
            body = grids[0]
        detail = w.VBox([w.HBox([self._info, self._hide], layout=_layout()), self._full], layout=_layout())
        super().__init__([self._legend, body, detail, self._error],
                         layout=_shared("root-layout", lambda: w.Layout(width="auto", min_width="0")))
        self.observe(lambda change: setattr(self._error, "value", error_html(change["new"])), names="error")

    def _grid_box(self, z: int) -> w.GridBox:
        grid = self.grid
        rows, cols, _ = grid.shape
        corner = f"{grid.y.title if grid.y else ''} ╲ {grid.x.title}"
        children: list[w.Widget] = [self._head(corner, "#777")] + [self._head(v) for v in grid.x.labels]
        for r in range(rows):
            children.append(self._head(grid.y.labels[r] if grid.y else ""))
            children += [self._cell((r, c, z)) for c in range(cols)]
        template = f"auto repeat({cols}, minmax(0, {THUMB_PX}px))"
        # justify_content start: the label column is as wide as its labels, not the cell's leftover width
        return w.GridBox(children, layout=w.Layout(grid_template_columns=template, grid_gap="6px", width="auto",
                                                   justify_content="flex-start"))

    @staticmethod
    def _head(text: str, color: str = "#000") -> w.HTML:
        return _html(f"<b style='font:bold 12px sans-serif;color:{color}'>{html.escape(text)}</b>")

    def _cell(self, key: Key) -> w.Widget:
        """One cell: an HTML widget (thumbnail and caption) above its "open" button; a refused cell: its reason.

        A cell still waiting for its answer has its button hidden; ``refresh_cell`` fills in the same widgets,
        so no placeholder is left behind (nbconvert's saved state would keep even a closed one)."""
        outcome = self.grid.cells[key]
        if outcome.source == "invalid":  # refused before sending: nothing will arrive
            return _html(self._cell_html(key))
        button = w.Button(description="open", tooltip=f"full image and provenance of {self.grid.label(key)}",
                          layout=self._button_layout(bool(outcome.images)),
                          style=_shared("button-style", w.ButtonStyle))
        button.on_click(self.handler(lambda _, key=key: self.select(*key)))
        return w.VBox([_html(self._cell_html(key)), button], layout=_layout())

    @staticmethod
    def _button_layout(shown: bool) -> w.Layout:
        if shown:
            return _shared("button-layout", lambda: w.Layout(width="auto"))
        return _shared("button-hidden", lambda: w.Layout(width="auto", display="none"))

    def _cell_html(self, key: Key) -> str:
        outcome = self.grid.cells[key]
        caption = html.escape(cell_caption(outcome))
        if not outcome.images:
            return (f"<div class='dk-empty' style='font:12px sans-serif;color:#a00;background:#fafafa;"
                    f"padding:4px'>{caption}</div>")
        data, mime = self.grid.thumb(outcome.images[0])
        badge = f"<b>×{len(outcome.images)}</b> " if len(outcome.images) > 1 else ""
        return (f"<img src='data:{mime};base64,{base64.b64encode(data).decode()}' alt='' "
                f"style='display:block;max-width:100%;max-height:{THUMB_PX}px'>"
                f"<span style='font:11px sans-serif;color:#555'>{badge}{caption}</span>")

    def refresh_cell(self, key: Key) -> None:
        """Show ``key``'s outcome now: its result just arrived (the grid fills in as the batch runs)."""
        row, col, z = key
        cols = self.grid.shape[1]
        at = (cols + 1) * (row + 1) + 1 + col  # past the header row and the row's header
        cell = self._boxes[z].children[at]
        if isinstance(cell, w.VBox):
            picture, button = cell.children
            picture.value = self._cell_html(key)
            button.layout = self._button_layout(bool(self.grid.cells[key].images))
        else:
            cell.value = self._cell_html(key)

    # -- twins ---------------------------------------------------------------------------------------------------
    @reported
    def select(self, row: int, col: int, z: int = 0) -> Any:
        """Open one cell (as a click on its "open" button); returns its first image, or None."""
        return self.grid.select(row, col, z)

    def show_cell(self, key: Key) -> None:
        """Fill the details pane with ``key``'s full image and provenance (``grid.select`` calls it)."""
        outcome = self.grid.cells[key]
        self.selected = list(key)
        head = f"<b>{html.escape(self.grid.label(key))}</b>: {html.escape(cell_caption(outcome))}"
        if not outcome.images:
            self._info.value, self._full.layout.display = f"<div style='font:12px sans-serif'>{head}</div>", "none"
        else:
            first = outcome.images[0]
            info = json.dumps(first.info(), indent=1, ensure_ascii=False, default=str)
            self._info.value = (f"<div style='font:12px sans-serif'>{head}<br>file: "
                                f"{html.escape(str(first.stored_at or 'in memory only'))}<details><summary>"
                                f"provenance</summary><pre style='font-size:11px'>{html.escape(info)}</pre>"
                                "</details></div>")
            if first.format in _SHOWN:
                self._full.format, self._full.value = first.format, first.bytes
                self._full.layout.display = ""
        self._hide.layout.display = ""

    def hide_detail(self) -> None:
        """Close the details pane (the full image leaves the widget's state)."""
        self.selected = []
        self._info.value = ""
        self._full.value = b""
        self._full.layout.display = self._hide.layout.display = "none"
        self.grid.selected = None
