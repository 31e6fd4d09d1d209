"""``CompareGrid``: the result of ``compare`` — labelled cells, a legend, a light notebook display and exports.

In a live kernel it shows as a widget (:class:`dalle_kit.widgets.compare.CompareView`: click a cell for the full
image and its provenance; ``grid.select(row, col)`` is the twin), and its output also carries a static
``text/html`` copy of the grid, so a saved notebook shows it on GitHub, nbviewer or ``nbconvert`` with no kernel.
Only thumbnails (WebP, about 3 kB each) go into the notebook; full-size bytes stay in the store.
``save("grid.png")`` draws one labelled image, ``save("grid.html")`` writes a page whose thumbnails link to the
full files, ``to_dataframe()`` gives one row per cell (with pandas).
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from .errors import InvalidArgument
from .many_result import ManyResult, Outcome
from .results import ImageResult, ImageSet, usd

if TYPE_CHECKING:
    from .compare import Axis

__all__ = ["THUMB_PX", "CompareGrid", "cell_caption"]

THUMB_PX = 160  # a cell's thumbnail: a grid holds many, and a saved notebook keeps each one twice (widget + HTML)
THUMB_QUALITY = 70  # WebP: a 160-pixel thumbnail of a picture is about 3 kB, half the JPEG of the same quality
Key = tuple[int, int, int]
_CSS = ("font:12px sans-serif;border-collapse:collapse", "border:1px solid #ddd;padding:4px;vertical-align:top")


def cell_caption(outcome: Outcome) -> str:
    """One line for a cell: model, latency, tokens, cost (or where it came from); the reason when empty."""
    if not outcome.images:
        return outcome.reason() or "no image"
    first = outcome.images[0]
    parts = [first.model]
    seconds = first.timings.get("total") or outcome.seconds
    if seconds and first.source != "store":
        parts.append(f"{seconds:.1f} s")
    tokens = (first.usage or {}).get("total_tokens")
    if tokens is not None:
        parts.append(f"{tokens:,} tokens")
    if first.source == "store":
        parts.append("from the store")
    elif outcome.cost is not None:
        parts.append(usd(outcome.cost))
    if len(outcome.images) > 1:
        parts.append(f"1 of {len(outcome.images)}")
    return " · ".join(parts)


class CompareGrid:
    """Cells ``(row, col, z) -> Outcome`` of an X/Y/Z comparison (x: columns, y: rows, z: one grid per value).

    ``result`` is the batch as a ``ManyResult`` (one outcome per cell, refused cells ``source="invalid"``);
    ``legend`` holds the prompt, the fixed parameters and the style words used; ``plan`` what was printed before
    sending. ``images`` are all images, labelled by their cell.
    """

    def __init__(self, axes: tuple[Axis, Axis | None, Axis | None], cells: Mapping[Key, Outcome],
                 result: ManyResult, *, legend: Mapping[str, Any] | None = None, plan: str = "") -> None:
        self.axes = axes
        self._cells = dict(cells)
        self.result = result
        self.legend = dict(legend or {})
        self.plan = plan
        self.selected: Key | None = None
        self._view: Any = None
        self._thumbs: dict[int, tuple[ImageResult, tuple[bytes, str]]] = {}

    # -- what it holds -----------------------------------------------------------------------------------------
    @property
    def x(self) -> Axis:
        return self.axes[0]

    @property
    def y(self) -> Axis | None:
        return self.axes[1]

    @property
    def z(self) -> Axis | None:
        return self.axes[2]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, columns, grids)."""
        return (len(self.y) if self.y else 1, len(self.x), len(self.z) if self.z else 1)

    @property
    def cells(self) -> dict[Key, Outcome]:
        return dict(self._cells)

    @property
    def images(self) -> ImageSet:
        pairs = [(self.label(key), image) for key, o in self._cells.items() for image in o.images]
        return ImageSet([image for _, image in pairs], [label for label, _ in pairs])

    def labels(self, key: Key) -> dict[str, str]:
        """The axis values of a cell, by axis title."""
        row, col, z = key
        return {a.title: a.labels[i] for a, i in zip(self.axes, (col, row, z)) if a is not None}

    def label(self, key: Key) -> str:
        """A cell's axis values in one line: ``quality=low · style=vivid``."""
        return " · ".join(f"{k}{' ' if k.endswith('→') else '='}{v}" for k, v in self.labels(key).items())

    def cell(self, row: int, col: int, z: int = 0) -> Outcome:
        """The outcome of one cell; a cell outside the grid is ``InvalidArgument``."""
        rows, cols, grids = self.shape
        if not (0 <= row < rows and 0 <= col < cols and 0 <= z < grids):
            raise InvalidArgument(f"no cell ({row}, {col}, {z}): the grid has {rows} row(s), {cols} column(s) and "
                                  f"{grids} grid(s), counted from 0")
        return self._cells[(row, col, z)]

    def select(self, row: int, col: int, z: int = 0) -> ImageResult | None:
        """Show one cell's full-size image and provenance (the widget's click); returns its first image (None for
        an empty cell, whose reason the widget shows)."""
        outcome = self.cell(row, col, z)
        self.selected = (row, col, z)
        if self._view is not None:
            self._view.show_cell(self.selected)
        return outcome.images[0] if outcome.images else None

    def summary(self) -> str:
        rows, cols, grids = self.shape
        names = " × ".join(a.title for a in (self.y, self.x, self.z) if a is not None)
        shape = f"{rows}×{cols}" + (f"×{grids}" if self.z else "")
        return f"compare {shape} ({names}): {self.result.summary()}"

    def __repr__(self) -> str:
        return f"CompareGrid({self.summary()})"

    def thumb(self, image: ImageResult) -> tuple[bytes, str]:
        """The cell thumbnail of ``image``, made once from its own small copy (no second decode)."""
        if (found := self._thumbs.get(id(image))) is None or found[0] is not image:
            found = self._thumbs[id(image)] = (image, _thumbnail(image._small))
        return found[1]

    # -- static HTML -------------------------------------------------------------------------------------------
    def legend_html(self) -> str:
        fixed = ", ".join(f"{k}={v!r}" for k, v in self.legend.get("fixed", {}).items() if k != "prompt")
        rows = [("prompt", self.legend.get("prompt") or "(a list of prompts: see the headers)"),
                ("fixed", fixed or "—")]
        rows += [("style words", w) for w in self.legend.get("words", [])]
        body = "".join(f"<tr><td style='color:#777;padding-right:8px'>{k}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in rows)
        return (f"<div class='dk-legend' style='font:12px sans-serif;margin:2px 0 6px'><b>"
                f"{html.escape(self.summary())}</b><table style='font:12px sans-serif'>{body}</table></div>")

    def _img(self, image: ImageResult, px: int = THUMB_PX) -> str:
        data, mime = self.thumb(image)
        alt = html.escape(image.prompt or "", quote=True)
        return (f'<img src="data:{mime};base64,{base64.b64encode(data).decode()}" alt="{alt}" '
                f'style="max-width:{px}px;max-height:{px}px;display:block">')

    def _cell_html(self, key: Key, link: Callable[[ImageResult], str | None] | None) -> str:
        outcome = self._cells[key]
        caption = html.escape(cell_caption(outcome))
        if not outcome.images:
            return (f"<td class='dk-empty' style='{_CSS[1]};width:{THUMB_PX // 2}px;color:#a00;background:#fafafa'>"
                    f"{caption}</td>")
        first = outcome.images[0]
        img = self._img(first)
        href = link(first) if link else None
        if href:
            img = f'<a href="{html.escape(href, quote=True)}">{img}</a>'
        badge = f"<b>×{len(outcome.images)}</b> " if len(outcome.images) > 1 else ""
        title = html.escape(str(first.stored_at or ""), quote=True)
        return (f"<td class='dk-cell' title='{title}' style='{_CSS[1]}'>{img}<div style='color:#555'>{badge}"
                f"{caption}</div></td>")

    def table_html(self, z: int = 0, link: Callable[[ImageResult], str | None] | None = None) -> str:
        """One grid (``z``) as an HTML table with its headers."""
        rows, cols, _ = self.shape
        head = f"<th style='{_CSS[1]}'>{html.escape(self.y.title if self.y else '')} ╲ {html.escape(self.x.title)}</th>"
        head += "".join(f"<th style='{_CSS[1]}'>{html.escape(v)}</th>" for v in self.x.labels)
        lines = [f"<tr>{head}</tr>"]
        for r in range(rows):
            label = html.escape(self.y.labels[r]) if self.y else ""
            cells = "".join(self._cell_html((r, c, z), link) for c in range(cols))
            lines.append(f"<tr><th style='{_CSS[1]}'>{label}</th>{cells}</tr>")
        return f"<table class='dk-grid' style='{_CSS[0]}'>{''.join(lines)}</table>"

    def to_html(self, link: Callable[[ImageResult], str | None] | None = None) -> str:
        """The whole grid: legend, then one table per z value (a heading names it)."""
        parts = [self.legend_html()]
        for k in range(self.shape[2]):
            if self.z:
                parts.append(f"<h4 style='font:bold 13px sans-serif;margin:8px 0 2px'>{html.escape(self.z.title)} = "
                             f"{html.escape(self.z.labels[k])}</h4>")
            parts.append(self.table_html(k, link))
        return f"<div class='dk-compare'>{''.join(parts)}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget (in a live kernel) and, always, the static HTML and a text line."""
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self.to_html()}
        if _in_kernel():
            bundle.update(self.widget._repr_mimebundle_() or {})
            bundle["text/plain"] = repr(self)
        return bundle

    def static(self) -> Any:
        """The grid as a plain HTML output (no widget): what a notebook saved with widget state should show when
        nbconvert, which prefers a widget view whose state was saved, must render it without JavaScript."""
        from IPython.display import HTML

        return HTML(self.to_html())

    @property
    def widget(self) -> Any:
        """The live view (made on first use): ``dalle_kit.widgets.compare.CompareView``."""
        if self._view is None:
            from .widgets.compare import CompareView

            self._view = CompareView(self)
        return self._view

    # -- exports -----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the grid: ``.png`` (one labelled image), ``.html`` (a page with thumbnails linking to the full
        files) or ``.jpg`` / ``.webp``; returns the path."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".html", ".htm", ".png", ".jpg", ".jpeg", ".webp"):
            target.parent.mkdir(parents=True, exist_ok=True)  # as ImageResult.save: "outputs/grid.png" just works
        if suffix in (".html", ".htm"):
            base = target.parent.resolve()

            def link(image: ImageResult) -> str | None:
                if image.stored_at is None:
                    return None
                where = Path(image.stored_at).resolve()
                try:
                    return Path(os.path.relpath(where, base)).as_posix()
                except ValueError:  # another drive
                    return where.as_uri()

            page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.summary())}"
                    f"</title></head><body>{self.to_html(link)}</body></html>")
            target.write_text(page, encoding="utf-8")
            return target
        formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
        if suffix not in formats:
            raise InvalidArgument(f"save({str(path)!r}): name a .png, .jpg, .webp or .html file")
        img = draw_grid(self)
        img.save(target, format=formats[suffix], **({"quality": 90} if suffix != ".png" else {}))
        return target

    def to_dataframe(self) -> Any:
        """One row per cell (axis values, source, model, size, tokens, cost, seconds, path, reason); needs pandas."""
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise InvalidArgument("to_dataframe() needs pandas, which dalle_kit does not install: "
                                  "pip install pandas") from None
        rows = []
        for (r, c, z), o in self._cells.items():
            first = o.images[0] if o.images else None
            rows.append({"z": z, "row": r, "col": c, **self.labels((r, c, z)), "source": o.source,
                         "model": o.request.model if o.request else None,
                         "images": len(o.images), "size": first.size if first else None,
                         "tokens": (first.usage or {}).get("total_tokens") if first else None,
                         "cost": o.cost, "seconds": o.seconds, "path": str(first.stored_at or "") if first else "",
                         "reason": o.reason(), "prompt": o.prompt})
        return pd.DataFrame(rows)


def _thumbnail(img: Image.Image, px: int = THUMB_PX) -> tuple[bytes, str]:
    """A WebP copy of ``img`` fitting ``px`` × ``px`` (alpha kept), and its MIME type; ``img`` is not changed."""
    small = img.copy()
    small.thumbnail((px, px))
    alpha = small.mode in ("RGBA", "LA", "PA") or (small.mode == "P" and "transparency" in small.info)
    buffer = io.BytesIO()
    small.convert("RGBA" if alpha else "RGB").save(buffer, format="WEBP", quality=THUMB_QUALITY, method=6)
    return buffer.getvalue(), "image/webp"


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can show)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# -- the labelled PNG --------------------------------------------------------------------------------------------
CELL_PX = 320
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


_ASCII = str.maketrans({"×": "x", "→": "->", "—": "-", "–": "-", "“": '"', "”": '"', "╲": "\\", "…": "..."})


def _text(draw: ImageDraw.ImageDraw, at: tuple[int, int], text: str, size: int, fill: str) -> None:
    """Draw ``text``; with Pillow's own font (no Chinese in it), signs it lacks become ASCII."""
    draw.text(at, text if _CJK.search(text) else text.translate(_ASCII), fill=fill, font=_font(size, text))


def _font(size: int, text: str = "") -> Any:
    from .simulator.render import _font as font  # the simulator's: Pillow's font, or a CJK one for Chinese

    return font(size, bool(_CJK.search(text)))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int, limit: int = 4) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (by words; by characters for Chinese), at most ``limit``."""
    units = list(text) if _CJK.search(text) else text.split(" ")
    joiner = "" if _CJK.search(text) else " "
    lines: list[str] = []
    line = ""
    for unit in units:
        trial = f"{line}{joiner}{unit}" if line else unit
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = unit
        else:
            line = trial
    lines.append(line)
    if len(lines) > limit:
        lines = lines[:limit]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def _legend_lines(grid: CompareGrid) -> list[tuple[str, str]]:
    fixed = ", ".join(f"{k}={v!r}" for k, v in grid.legend.get("fixed", {}).items())
    out = [("", grid.summary()), ("prompt", grid.legend.get("prompt") or "(a list of prompts: see the headers)"),
           ("fixed", fixed or "—")]
    return out + [("style words", w) for w in grid.legend.get("words", [])]


def draw_grid(grid: CompareGrid, cell_px: int = CELL_PX) -> Image.Image:
    """One RGB image: the legend, then per z value its title, column and row headers and the cells."""
    pad, line_h, cap_lines = 10, 18, 2
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    rows, cols, grids = grid.shape
    row_texts = grid.y.labels if grid.y else ("",)
    corner = f"{grid.y.title if grid.y else ''} \\ {grid.x.title}"
    head_w = min(220, max(int(probe.textlength(t, font=_font(14, t))) for t in (*row_texts, corner)) + 2 * pad)
    cell_w, cell_h = cell_px + pad, cell_px + pad + cap_lines * line_h
    width = max(head_w + cols * cell_w + pad, 640)
    legend = [(k, ln) for k, text in _legend_lines(grid)
              for ln in _wrap(probe, f"{k}: {text}" if k else text, _font(13, text), width - 2 * pad)]
    col_head = 2 * line_h + pad
    block = (line_h + pad if grid.z else 0) + col_head + rows * cell_h
    height = pad + len(legend) * line_h + pad + grids * (block + pad)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    y = pad
    for k, text in legend:
        _text(draw, (pad, y), text, 13, "#000" if not k else "#333")
        y += line_h
    y += pad
    for z in range(grids):
        if grid.z:
            title = f"{grid.z.title} = {grid.z.labels[z]}"
            _text(draw, (pad, y), title, 15, "#000")
            y += line_h + pad
        corner = f"{grid.y.title if grid.y else ''} \\ {grid.x.title}"
        _text(draw, (pad, y), corner, 12, "#777")
        for c, label in enumerate(grid.x.labels):
            for i, ln in enumerate(_wrap(draw, label, _font(14, label), cell_px, 2)):
                _text(draw, (head_w + c * cell_w, y + i * line_h), ln, 14, "#000")
        y += col_head
        for r in range(rows):
            for i, ln in enumerate(_wrap(draw, row_texts[r], _font(14, row_texts[r]), head_w - pad, 6)):
                _text(draw, (pad, y + i * line_h), ln, 14, "#000")
            for c in range(cols):
                _draw_cell(grid, img, draw, (r, c, z), (head_w + c * cell_w, y), cell_px, line_h)
            y += cell_h
        y += pad
    return img


def _draw_cell(grid: CompareGrid, img: Image.Image, draw: ImageDraw.ImageDraw, key: Key, at: tuple[int, int],
               px: int, line_h: int) -> None:
    x, y = at
    outcome = grid.cells[key] if key in grid._cells else None
    caption = cell_caption(outcome) if outcome is not None else ""
    if outcome is None or not outcome.images:
        draw.rectangle((x, y, x + px, y + px), fill="#f4f4f4", outline="#ccc")
        for i, ln in enumerate(_wrap(draw, caption, _font(12, caption), px - 12, 12)):
            _text(draw, (x + 6, y + 6 + i * 16), ln, 12, "#a00")
        return
    first = outcome.images[0]
    small = first.pil.copy()
    small.thumbnail((px, px))
    if small.mode != "RGB":  # transparency shows on a checkerboard
        board = Image.new("RGB", small.size, "#ddd")
        ImageDraw.Draw(board).rectangle((0, 0, small.width, small.height), fill="#eee")
        board.paste(small.convert("RGBA"), mask=small.convert("RGBA"))
        small = board
    img.paste(small, (x, y))
    text = (f"×{len(outcome.images)}  " if len(outcome.images) > 1 else "") + caption
    for i, ln in enumerate(_wrap(draw, text, _font(12, text), px, 2)):
        _text(draw, (x, y + small.height + 4 + i * line_h), ln, 12, "#444")
