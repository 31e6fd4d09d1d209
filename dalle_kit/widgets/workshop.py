"""``LedgerView``: the teacher's live view of a workshop proxy's ledger, with caps and revoking at hand.

It reads the ledger file (the proxy may run in another process or on this kernel), so it works wherever the
file is. Python twins: ``refresh()``, ``set_cap(name, usd)``, ``revoke(name)``, ``restore(name)``; ``rows`` holds
the last reading. ``auto=S`` re-reads every S seconds in a background thread until ``stop()``.
"""

from __future__ import annotations

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

_CELL = "padding:2px 6px;text-align:left;vertical-align:top"


def _row() -> w.Layout:
    """A row of controls that wraps in a narrow cell."""
    return w.Layout(display="flex", flex_flow="row wrap", align_items="center", max_width="100%")


def _bar(spent: float, reserved: float, cap: float) -> str:
    """Spent (dark) and in flight (light) as a share of the cap; red at the cap. As wide as its cell."""
    share = 0.0 if cap <= 0 else min(1.0, spent / cap)
    flight = 0.0 if cap <= 0 else min(1.0 - share, reserved / cap)
    colour = "#b00020" if cap > 0 and spent + reserved >= cap * 0.999 else "#2f6db5"
    return (f"<div style='width:100%;min-width:48px;max-width:160px;height:8px;background:#e8e8e8;"
            f"border-radius:3px;overflow:hidden;display:flex;margin-top:4px' title='{usd(spent)} of {usd(cap)}'>"
            f"<div style='width:{share * 100:.1f}%;background:{colour}'></div>"
            f"<div style='width:{flight * 100:.1f}%;background:#9cc1ea'></div></div>")


def ledger_html(rows: list[Standing], totals: dict[str, Any]) -> str:
    """The standings as an HTML table: who spent what of which cap, images, refusals, revoked tokens. Four
    columns whose text wraps, so the table fits a narrow cell (about 300 px) rather than overflowing it."""
    head = "".join(f"<th style='{_CELL}'>{h}</th>" for h in ("participant", "spent of cap", "left", "images"))
    body = []
    for s in rows:
        name = f"<span style='overflow-wrap:anywhere'>{html.escape(s.name)}</span>"
        if s.revoked:
            name += " <b style='color:#b00020;white-space:nowrap'>revoked</b>"
        images = str(s.images) + (f" <span style='color:#b00020'>· {s.refused} refused</span>" if s.refused else "")
        cells = [name, f"{usd(s.spent)} of {usd(s.cap)}{_bar(s.spent, s.reserved, s.cap)}", usd(s.left), images]
        body.append("<tr style='border-top:1px solid #e0e0e0'>"
                    + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>")
    summary = (f"{totals.get('participants', len(rows))} participants · spent {usd(totals.get('spent', 0.0))} · "
               f"in flight {usd(totals.get('reserved', 0.0))} · {totals.get('images', 0)} images · "
               f"{totals.get('refused', 0)} refused")
    return (f"<div style='font-size:13px;line-height:1.4;max-width:100%'><table style='border-collapse:collapse;"
            f"max-width:100%'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<div style='color:#555;margin-top:4px'>{summary}</div></div>")


class LedgerView(WidgetBase, w.VBox):
    """The proxy's ledger, live: a table of spend per participant, and controls to change a cap or revoke."""

    rows: t.List[Standing] = t.List(help="the last reading: one Standing per participant")

    def __init__(self, ledger: str | os.PathLike[str] | Ledger, *, auto: float | None = None) -> None:
        self._owned = not isinstance(ledger, Ledger)  # opened here: stop() closes its connections
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        self._lock = threading.RLock()  # the poller and the kernel's thread redraw in turn
        self._table = w.HTML(layout=w.Layout(max_width="100%"))
        self._errors = w.HTML()
        initial = {"description_width": "initial"}
        self._who = w.Dropdown(description="participant", style=initial, layout=w.Layout(width="220px"))
        self._cap = w.BoundedFloatText(min=0.0, max=10_000.0, step=0.5, description="cap $", style=initial,
                                       layout=w.Layout(width="140px"))
        buttons = [(w.Button(description="Set cap"), lambda _: self.set_cap(self._who.value, self._cap.value)),
                   (w.Button(description="Revoke", button_style="danger"), lambda _: self.revoke(self._who.value)),
                   (w.Button(description="Restore"), lambda _: self.restore(self._who.value)),
                   (w.Button(description="Refresh", icon="refresh"), lambda _: self.refresh())]
        for button, action in buttons:
            button.layout.width = "auto"
            button.on_click(self.handler(action))
        controls = w.HBox([w.HBox([self._who, self._cap], layout=_row()),
                           w.HBox([b for b, _ in buttons], layout=_row())], layout=_row())
        super().__init__([self._table, controls, self._errors], layout=w.Layout(max_width="100%"))
        self.observe(lambda change: setattr(self._errors, "value", error_html(change["new"])), names="error")
        self._who.observe(lambda change: self._show_cap(), names="value")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()
        if auto:
            self._thread = threading.Thread(target=self._poll, args=(auto,), name="dalle-kit-ledger-view",
                                            daemon=True)
            self._thread.start()

    def _show_cap(self) -> None:
        """Put the chosen participant's cap in the cap box, ready to edit."""
        for row in self.rows:
            if row.name == self._who.value:
                self._cap.value = row.cap

    def _redraw(self) -> list[Standing]:
        with self._lock:
            rows, totals = self.ledger.standings(), self.ledger.totals()
            before = {r.name: r.cap for r in self.rows}
            self.rows = rows
            self._table.value = ledger_html(rows, totals)
            names = [r.name for r in rows]
            if list(self._who.options) != names:
                chosen = self._who.value
                self._who.options = names
                self._who.value = chosen if chosen in names else (names[0] if names else None)
            elif before.get(self._who.value) != {r.name: r.cap for r in rows}.get(self._who.value):
                self._show_cap()  # the chosen one's cap changed in the ledger; a cap being typed stays otherwise
            return rows

    @reported
    def refresh(self) -> list[Standing]:
        """Read the ledger again and redraw; returns the standings."""
        return self._redraw()

    @reported
    def set_cap(self, name: str, usd_cap: float) -> None:
        """Set ``name``'s cap in US dollars; the proxy applies it to their next request."""
        self.ledger.set_cap(name, usd_cap)
        self._redraw()

    @reported
    def revoke(self, name: str) -> None:
        """Refuse ``name``'s token from their next request on."""
        self.ledger.revoke(name)
        self._redraw()

    @reported
    def restore(self, name: str) -> None:
        """Accept ``name``'s token again."""
        self.ledger.restore(name)
        self._redraw()

    def _poll(self, seconds: float) -> None:
        """Redraw every ``seconds``. An error the teacher's last action left on show stays; a failed reading
        shows until a reading works again."""
        failed = False
        while not self._stop.wait(max(0.5, seconds)):
            try:
                self._redraw()
            except Exception as exc:
                self.show_error(exc)
                failed = True
            else:
                if failed:
                    self.clear_error()
                failed = False

    def stop(self) -> None:
        """Stop the automatic refresh (waiting for its thread); close the connections the view opened itself.
        The view still works by hand afterwards."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        if self._owned:
            self.ledger.close()
