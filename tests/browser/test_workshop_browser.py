"""LedgerView in JupyterLab + Chromium: a proxy on the simulator with two participants, one of whom spends; the
table shows both names and the spend, fits a narrow cell, and choosing a participant and pressing Revoke shows
"revoked" in the page and in the ledger file. A screenshot is kept in the artefacts folder (test-artifacts/browser/workshop.png)."""

from __future__ import annotations

import nbformat
import pytest

from dalle_kit.costs import usd
from dalle_kit.proxy.ledger import Ledger

from .conftest import OVERFLOW

pytestmark = pytest.mark.browser

CELLS = [
    """\
import os
from dalle_kit import Kit
from dalle_kit.proxy import start_proxy
from dalle_kit.widgets import LedgerView
OUT = os.environ["DALLE_KIT_BROWSER_OUT"]
room = start_proxy(f"{OUT}/ledger.sqlite", names=["ana", "李雷"], budget_each=0.05, backend="simulator")
ana = Kit(base_url=room.url, api_key=room.token("ana"), home=f"{OUT}/ana", quiet=True)
ana.generate("a lighthouse at dawn, watercolour", model="gpt-image-2", size="1024x1024", quality="low")""",
    "view = LedgerView(room.ledger)\nview",
]
NOTEBOOKS = {"workshop.ipynb": nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})}


def test_the_teacher_sees_the_spend_and_revokes_a_participant(lab, browser, artifacts):
    context = browser.new_context(viewport={"width": 800, "height": 1000})  # a cell about 400 px wide
    page = context.new_page()
    try:
        page.goto(lab.open("workshop.ipynb"))
        page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        area = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output", has=page.locator("table"))
        area.wait_for(timeout=60_000)

        with Ledger(lab.out / "ledger.sqlite") as ledger:  # what the proxy wrote, read from here
            ana, lilei = ledger.standings()
            assert ana.spent > 0 and ana.images == 1 and lilei.spent == 0
            rows = area.locator("tbody tr")
            assert rows.count() == 2
            cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(2)]
            assert cells[0] == ["ana", f"{usd(ana.spent)} of {usd(ana.cap)}", usd(ana.left), "1"]
            assert cells[1] == ["李雷", f"$0.00 of {usd(lilei.cap)}", usd(lilei.cap), "0"]
            assert "2 participants · spent " + usd(ana.spent) in area.inner_text()

            fit = area.evaluate(OVERFLOW)
            assert fit["width"] < 500, "the cell should be narrow for this test"
            assert fit["past"] == [] and fit["scroll"] <= 0

            area.locator(".widget-dropdown select").select_option(label="李雷")
            area.locator("button.widget-button", has_text="Revoke").click()
            area.locator("tbody tr", has_text="李雷").get_by_text("revoked").wait_for(timeout=30_000)
            assert area.locator("tbody tr", has_text="ana").get_by_text("revoked").count() == 0
            assert area.evaluate(OVERFLOW)["past"] == []  # the "revoked" mark fits too
            assert [s.revoked for s in ledger.standings()] == [False, True]
            assert area.locator(".dk-error").count() == 0
        shot = artifacts / "workshop.png"
        area.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
        print(f"screenshot: {shot}")
    finally:
        context.close()
