"""Fixtures of the live smoke test (see ``support.py`` for the modes and how the key is kept from other tests).

Before anything is sent, ``plan`` validates every request the suite will send and sums their worst-case cost by
the price table (``dalle_kit.costs.estimate``); past ``support.CAP`` ($0.10), or unknown, the run stops there.
``kit`` also carries ``budget=CAP``, so each call is checked again before it goes out. ``sends`` counts every
HTTP request the kit's client makes (an httpx event hook), and ``ledger`` collects what each test spent, printed
as the tests run (``-s``) and in pytest's summary at the end.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dalle_kit import Kit
from dalle_kit.simulator import Simulator

from . import support  # first: it reads DALLE_KIT_LIVE and the key before the root conftest drops the key

_LEDGER: support.Ledger | None = None


class Sends:
    """An httpx request hook: every HTTP request the kit's client makes, as ``METHOD /path``."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: object) -> None:
        self.seen.append(f"{request.method} {request.url.path}")  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.seen)


@pytest.fixture(scope="session")
def live_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's own store. Live: a folder that outlives the run, so its Batch job can be collected later
    (``DALLE_KIT_HOME=... dalle-kit batch collect ID``); its spend ledger holds this run only, so the kit's
    budget counts this run only. Simulated: a temporary folder."""
    if support.MODE == "live":
        return Path(tempfile.mkdtemp(prefix="dalle-kit-live-"))
    return tmp_path_factory.mktemp("live-home")


@pytest.fixture(scope="session")
def sends() -> Sends:
    return Sends()


@pytest.fixture(scope="session")
def kit(live_home: Path, sends: Sends) -> Iterator[Kit]:
    if support.MODE == "live":
        made = Kit(api_key=support.api_key(), base_url=support.BASE_URL, offline=False, home=live_home,
                   budget=support.CAP, timeout=180, max_retries=2, quiet=True)
    else:
        made = Kit(simulator=Simulator(seed=14), home=live_home, budget=support.CAP, quiet=True)
    hooks = made._http.event_hooks  # the client under the SDK: every call, upload and download goes through it
    hooks["request"].append(sends)
    made._http.event_hooks = hooks
    yield made
    made.close()


@pytest.fixture(scope="session")
def ledger() -> support.Ledger:
    global _LEDGER
    _LEDGER = support.Ledger(mode=support.MODE or "skipped", cap=support.CAP)
    return _LEDGER


@pytest.fixture(scope="session", autouse=True)
def plan(kit: Kit, sends: Sends, ledger: support.Ledger) -> support.Plan:
    """Every request of the suite, validated, and the refusal to run when their worst case could pass the cap."""
    made = support.plan(kit)
    ledger.worst = made.worst_case()
    assert len(sends) == 0, f"planning sent {sends.seen}"
    print(f"\n[live:{support.MODE}] worst case {ledger.worst} for {ledger.worst.requests} requests "
          f"(cap {support.CAP:.2f} USD, backend {kit.backend}):", flush=True)
    for what, estimate in made.estimates():
        print(f"[live:{support.MODE}]   {what}: {estimate}", flush=True)
    why = support.refusal(ledger.worst)
    if why is not None:
        pytest.exit(why, returncode=1)
    return made


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEDGER is not None:
        terminalreporter.section("dalle_kit live spend")
        for text in _LEDGER.summary():
            terminalreporter.write_line(text)
