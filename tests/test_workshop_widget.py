"""LedgerView, the teacher's view of a workshop proxy's ledger, through its Python twins and its buttons: against a
ledger file written directly, and against a running proxy whose participants really spend (simulator backend)."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import ipywidgets as w
import pytest

from dalle_kit import Kit, costs
from dalle_kit.errors import InvalidArgument, UnknownName
from dalle_kit.proxy.ledger import Ledger
from dalle_kit.proxy.run import Proxy, start_proxy
from dalle_kit.proxy.tokens import new_token, token_hash
from dalle_kit.validation import validate
from dalle_kit.widgets.workshop import LedgerView, ledger_html

LOW = {"model": "gpt-image-2", "size": "1024x1024", "quality": "low"}
HIGH = costs.estimate(validate("generate", prompt="x", **LOW)).high  # what the proxy reserves per request
assert HIGH is not None
NAMES = ["ana", "<b>x</b>", "李雷"]
RED, BLUE = "#b00020", "#2f6db5"


@pytest.fixture
def ledger(tmp_path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "room" / "ledger.sqlite") as book:
        book.add({name: token_hash(new_token()) for name in NAMES}, 1.50)
        yield book


def spend(book: Ledger, name: str, amount: float, *, images: int = 1) -> None:
    reservation = book.reserve(name, amount, endpoint="images/generations", model="gpt-image-2", images=images)
    assert not hasattr(reservation, "message"), reservation
    book.settle(reservation, amount, images=images)  # type: ignore[arg-type]


def row_html(view: LedgerView, name: str) -> str:
    """The table row of ``name`` (its first cell is the escaped name)."""
    rows = re.findall(r"<tr[^>]*>.*?</tr>", view._table.value)
    found = [r for r in rows if f"anywhere'>{html.escape(name)}</span>" in r]
    assert len(found) == 1, (name, rows)
    return found[0]


def bar_colour(row: str) -> str:
    match = re.search(r"width:[\d.]+%;background:(#[0-9a-f]{6})", row)
    assert match, row
    return match.group(1)


def button(view: LedgerView, label: str) -> w.Button:
    def walk(widget: w.Widget) -> Iterator[w.Widget]:
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    found = [b for b in walk(view) if isinstance(b, w.Button) and b.description == label]
    assert len(found) == 1, label
    return found[0]


def choose(view: LedgerView, name: str, cap: float | None = None) -> None:
    """What the teacher does in the page before pressing a button: pick a participant, maybe type a cap."""
    view._who.value = name
    if cap is not None:
        view._cap.value = cap


# -- the table ------------------------------------------------------------------------------------------------


def test_the_table_shows_every_name_escaped_with_spent_cap_and_left(ledger):
    spend(ledger, "ana", 0.25, images=2)
    view = LedgerView(ledger)
    assert [r.name for r in view.rows] == NAMES
    table = view._table.value
    assert "&lt;b&gt;x&lt;/b&gt;" in table and "<b>x</b>" not in table  # shown as typed, not as markup
    assert ">李雷</span>" in table
    ana = row_html(view, "ana")
    for text in ("$0.25 of $1.50", ">$1.25</td>", ">2</td>"):  # spent of cap, left, images
        assert text in ana
    assert "revoked" not in table and "refused</span>" not in table
    assert bar_colour(ana) == BLUE
    assert "3 participants · spent $0.25" in table and "2 images" in table
    assert list(view._who.options) == NAMES and view._who.value == "ana" and view._cap.value == 1.50


def test_the_bar_turns_red_at_the_cap_and_revoked_shows(ledger):
    spend(ledger, "李雷", 1.00)
    view = LedgerView(ledger)
    assert bar_colour(row_html(view, "李雷")) == BLUE
    spend(ledger, "李雷", 0.50)
    assert view.refresh() == view.rows and view.rows[2].left == 0
    row = row_html(view, "李雷")
    assert bar_colour(row) == RED and "width:100.0%" in row
    view.revoke("<b>x</b>")
    assert ">revoked</b>" in row_html(view, "<b>x</b>") and "revoked" not in row_html(view, "ana")
    assert ledger.standings()[1].revoked
    view.restore("<b>x</b>")
    assert "revoked" not in row_html(view, "<b>x</b>") and not ledger.standings()[1].revoked


def test_an_empty_ledger_and_the_html_alone(tmp_path):
    with Ledger(tmp_path / "empty.sqlite") as book:
        view = LedgerView(book)
        assert view.rows == [] and view._who.value is None and "0 participants" in view._table.value
        button(view, "Revoke").click()
        assert isinstance(view.last_error, UnknownName)
    assert "<tbody></tbody>" in ledger_html([], {})


# -- twins and buttons ----------------------------------------------------------------------------------------


def test_set_cap_twin_changes_the_ledger_and_raises_for_an_unknown_name(ledger):
    view = LedgerView(ledger)
    view.set_cap("李雷", 2.5)
    assert ledger.standings()[2].cap == 2.5 and "$2.50" in row_html(view, "李雷")
    assert view.error == "" and view.last_error is None
    with pytest.raises(UnknownName, match=r"no participant named 'anna'.*did you mean ana"):
        view.set_cap("anna", 3.0)
    assert isinstance(view.last_error, UnknownName)
    assert view.error.startswith("UnknownName: no participant named 'anna'") and "Traceback" not in view.error
    assert "dk-error" in view._errors.value and "did you mean ana" in view._errors.value
    with pytest.raises(InvalidArgument, match="finite number"):
        view.set_cap("ana", float("nan"))
    view.refresh()  # the next action that works clears the error
    assert view.error == "" and view._errors.value == ""
    assert [s.cap for s in ledger.standings()] == [1.5, 1.5, 2.5]


def test_the_buttons_do_what_the_twins_do_and_keep_errors_in_the_widget(ledger):
    view = LedgerView(ledger)
    choose(view, "李雷")
    assert view._cap.value == 1.5  # the chosen participant's cap, ready to edit
    choose(view, "李雷", 4.0)
    button(view, "Set cap").click()
    assert ledger.standings()[2].cap == 4.0 and view.error == ""
    button(view, "Revoke").click()
    assert ledger.standings()[2].revoked and ">revoked</b>" in row_html(view, "李雷")
    button(view, "Restore").click()
    assert not ledger.standings()[2].revoked

    other = Ledger(ledger.path)  # another process's view of the same file
    try:
        other.set_cap("ana", 0.75)
        assert view.rows[0].cap == 1.5  # not read yet
        button(view, "Refresh").click()
        assert view.rows[0].cap == 0.75 and "$0.75" in row_html(view, "ana")
    finally:
        other.close()

    view._who.options = [*NAMES, "ghost"]  # a name the ledger no longer knows, as after a stale page
    view._who.value = "ghost"
    button(view, "Revoke").click()  # no exception escapes a click
    assert isinstance(view.last_error, UnknownName) and "ghost" in view.error and "dk-error" in view._errors.value


def test_typing_a_cap_is_not_undone_by_a_refresh(ledger):
    view = LedgerView(ledger)
    choose(view, "ana", 9.0)
    view.refresh()  # e.g. the automatic one, between typing and pressing Set cap
    assert view._cap.value == 9.0
    other = Ledger(ledger.path)
    try:
        other.set_cap("ana", 2.0)  # but a change of the chosen one's cap in the ledger shows
    finally:
        other.close()
    view.refresh()
    assert view._cap.value == 2.0


# -- automatic refresh ----------------------------------------------------------------------------------------


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dalle-kit-ledger-view"]


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_auto_refresh_sees_another_process_change_a_cap_and_stops(ledger):
    assert poller_threads() == []
    view = LedgerView(ledger.path, auto=0.5)  # opened from the path, as a teacher's second notebook would
    try:
        assert len(poller_threads()) == 1
        other = Ledger(ledger.path)
        try:
            other.set_cap("<b>x</b>", 0.5)
            spend(other, "<b>x</b>", 0.5)
        finally:
            other.close()
        wait_for(lambda: view.rows[1].cap == 0.5)
        wait_for(lambda: "$0.50" in row_html(view, "<b>x</b>"))
        assert bar_colour(row_html(view, "<b>x</b>")) == RED
        with pytest.raises(UnknownName):
            view.set_cap("nobody", 1.0)
        time.sleep(0.7)  # a poll in between keeps the teacher's error on show
        assert isinstance(view.last_error, UnknownName) and "nobody" in view.error
    finally:
        view.stop()
    assert poller_threads() == []  # stopped, and joined
    view.stop()  # twice is fine
    view.refresh()  # the view still works by hand after stop()
    assert view.rows[1].spent == 0.5


# -- a real room ----------------------------------------------------------------------------------------------


@pytest.fixture
def room(tmp_path) -> Iterator[Proxy]:
    proxy = start_proxy(tmp_path / "room.sqlite", names=["ana", "李雷"], budget_each=HIGH * 1.5, backend="simulator")
    try:
        yield proxy
    finally:
        proxy.stop()


def test_a_running_room_spending_capping_and_revoking(room, tmp_path):
    view = LedgerView(room.ledger)
    assert [r.spent for r in view.rows] == [0, 0]
    with Kit(base_url=room.url, api_key=room.token("李雷"), home=tmp_path / "lilei", quiet=True) as kit:
        image = kit.generate("a lighthouse at dawn", **LOW)
        assert image.cost is not None and image.cost > 0
        with pytest.raises(Exception, match="budget"):  # a second one could pass the cap: refused
            kit.generate("a lighthouse at dusk", **LOW)
        view.refresh()
        lilei = view.rows[1]
        assert lilei.spent == pytest.approx(image.cost) and lilei.images == 1 and lilei.refused == 1
        row = row_html(view, "李雷")
        assert f"{costs.usd(lilei.spent)} of {costs.usd(lilei.cap)}" in row and f">{costs.usd(lilei.left)}</td>" in row
        assert "1 <span style='color:#b00020'>· 1 refused</span>" in row and bar_colour(row) == BLUE
        assert view.rows[0].spent == 0

        choose(view, "李雷", lilei.spent)  # cap at what was spent: the bar is full and red, nothing left
        button(view, "Set cap").click()
        row = row_html(view, "李雷")
        assert view.rows[1].left == 0 and bar_colour(row) == RED and "width:100.0%" in row

        view.set_cap("李雷", 1.0)
        view.revoke("李雷")
        with pytest.raises(Exception, match="revoked"):
            kit.generate("a lighthouse at night", **LOW)
        assert ">revoked</b>" in row_html(view, "李雷")
        view.restore("李雷")
        kit.generate("a lighthouse at night", **LOW)
        assert view.refresh()[1].images == 2 and view.error == ""


def test_the_notebook_uses_only_what_the_view_offers():
    text = (Path(__file__).parents[1] / "notebooks" / "10_running_a_workshop.ipynb").read_text(encoding="utf-8")
    for call in re.findall(r"view\.(\w+)", text):
        assert hasattr(LedgerView, call), call
