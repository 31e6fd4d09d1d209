"""``LedgerView``: the teacher's live view of a workshop proxy's ledger, with caps and revoking at hand.

It reads the ledger file (the proxy may run in another process or on this kernel), so it works wherever the
file is. Python twins: ``refresh()``, ``set_cap(name, usd)``, ``revoke(name)``, ``restore(name)``; ``rows`` holds
the last reading. ``auto=S`` re-reads every S seconds in a background thread until ``stop()``.
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
from typing import Any

import ipywidgets as w
import traitlets as t

from ..costs import usd
from ..proxy.ledger import Ledger, Standing
from .base import WidgetBase, error_html, reported

__all__ = ["LedgerView", "ledger_html"]

_CELL = "padding:2px 8px;text-align:left;white-space:nowrap"


def _bar(spent: float, reserved: float, cap: float) -> str:
    """Spent (dark) and in flight (light) as a share of the cap; red at the cap."""
    share = 0.0 if cap <= 0 else min(1.0, spent / cap)
    flight = 0.0 if cap <= 0 else min(1.0 - share, reserved / cap)
    colour = "#b00020" if cap > 0 and spent + reserved >= cap * 0.999 else "#2f6db5"
    return (f"<div style='width:120px;height:10px;background:#e8e8e8;border-radius:3px;overflow:hidden;"
            f"display:flex' title='{usd(spent)} of {usd(cap)}'><div style='width:{share * 100:.1f}%;"
            f"background:{colour}'></div><div style='width:{flight * 100:.1f}%;background:#9cc1ea'></div></div>")


def ledger_html(rows: list[Standing], totals: dict[str, Any]) -> str:
    """The standings as an HTML table: who spent what of which cap, images, refusals, revoked tokens."""
    head = "".join(f"<th style='{_CELL}'>{h}</th>" for h in
                   ("participant", "spent", "", "cap", "left", "images", "refused", "token"))
    body = []
    for s in rows:
        cells = [html.escape(s.name), usd(s.spent), _bar(s.spent, s.reserved, s.cap), usd(s.cap), usd(s.left),
                 str(s.images), str(s.refused), "<b style='color:#b00020'>revoked</b>" if s.revoked else "active"]
        body.append("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>")
    summary = (f"{totals.get('participants', len(rows))} participants · spent {usd(totals.get('spent', 0.0))} · "
               f"in flight {usd(totals.get('reserved', 0.0))} · {totals.get('images', 0)} images · "
               f"{totals.get('refused', 0)} refused")
    return (f"<div style='font-size:13px'><table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><div style='color:#555;margin-top:4px'>{summary}</div></div>")


class LedgerView(WidgetBase, w.VBox):
    """The proxy's ledger, live: a table of spend per participant, and controls to change a cap or revoke."""

    rows: t.List[Standing] = t.List(help="the last reading: one Standing per participant")

    def __init__(self, ledger: str | os.PathLike[str] | Ledger, *, auto: float | None = None) -> None:
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        self._table = w.HTML()
        self._errors = w.HTML()
        self._who = w.Dropdown(description="participant", layout=w.Layout(width="260px"))
        self._cap = w.BoundedFloatText(min=0.0, max=10_000.0, step=0.5, description="cap $",
                                       layout=w.Layout(width="160px"))
        buttons = [(w.Button(description="Set cap"), lambda _: self.set_cap(self._who.value, self._cap.value)),
                   (w.Button(description="Revoke", button_style="danger"), lambda _: self.revoke(self._who.value)),
                   (w.Button(description="Restore"), lambda _: self.restore(self._who.value)),
                   (w.Button(description="Refresh", icon="refresh"), lambda _: self.refresh())]
        for button, action in buttons:
            button.on_click(self.handler(action))
        controls = w.HBox([self._who, self._cap, *(b for b, _ in buttons)], layout=w.Layout(flex_flow="row wrap"))
        super().__init__([self._table, controls, self._errors])
        self.observe(lambda change: setattr(self._errors, "value", error_html(change["new"])), names="error")
        self._who.observe(lambda change: self._show_cap(), names="value")
        self._stop = threading.Event()
        self.refresh()
        if auto:
            threading.Thread(target=self._poll, args=(auto,), name="dalle-kit-ledger-view", daemon=True).start()

    def _show_cap(self) -> None:
        for row in self.rows:
            if row.name == self._who.value:
                self._cap.value = row.cap

    @reported
    def refresh(self) -> list[Standing]:
        """Read the ledger again and redraw; returns the standings."""
        rows = self.ledger.standings()
        self._table.value = ledger_html(rows, self.ledger.totals())
        names = [r.name for r in rows]
        if list(self._who.options) != names:
            chosen = self._who.value
            self._who.options = names
            self._who.value = chosen if chosen in names else (names[0] if names else None)
        self.rows = rows
        self._show_cap()
        return rows

    @reported
    def set_cap(self, name: str, usd_cap: float) -> None:
        """Set ``name``'s cap in US dollars; the proxy applies it to their next request."""
        self.ledger.set_cap(name, usd_cap)
        self.refresh()

    @reported
    def revoke(self, name: str) -> None:
        """Refuse ``name``'s token from their next request on."""
        self.ledger.revoke(name)
        self.refresh()

    @reported
    def restore(self, name: str) -> None:
        self.ledger.restore(name)
        self.refresh()

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(max(0.5, seconds)):
            with contextlib.suppress(Exception):  # shown in the widget by refresh; keep polling
                self.refresh()

    def stop(self) -> None:
        """Stop the automatic refresh."""
        self._stop.set()
