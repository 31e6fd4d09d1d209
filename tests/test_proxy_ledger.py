"""The teacher's proxy: the roster (names, tokens, the tokens file) and the ledger (caps, charges, many writers)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dalle_kit.errors import InvalidArgument
from dalle_kit.proxy.ledger import Ledger, Participant, Refusal, Reservation, Standing
from dalle_kit.proxy.tokens import default_names, new_token, read_names, read_tokens, token_hash, write_tokens


def _ledger_with(path: Path, names: list[str], cap: float) -> tuple[Ledger, dict[str, str]]:
    tokens = {name: new_token() for name in names}
    ledger = Ledger(path)
    ledger.add({name: token_hash(token) for name, token in tokens.items()}, cap)
    return ledger, tokens


@pytest.fixture
def room(tmp_path):
    ledger, tokens = _ledger_with(tmp_path / "room" / "ledger.sqlite", ["ana", "ben", "李雷"], 1.50)
    yield ledger, tokens
    ledger.close()


def _rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


# -- tokens and names -----------------------------------------------------------------------------------------

def test_tokens_are_new_each_time_and_url_safe():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith("dkp_") and len(token) == 36
        assert token.isascii() and all(c.isalnum() or c in "-_" for c in token)


def test_token_hash_is_salted_sha256_hex():
    import hashlib

    assert token_hash("dkp_x") == hashlib.sha256(b"dalle-kit-proxy:dkp_x").hexdigest()
    assert token_hash("dkp_x") != hashlib.sha256(b"dkp_x").hexdigest()
    assert len(token_hash("\udc80 李雷" * 1000)) == 64  # any str hashes


def test_default_names_pad_to_the_width_of_the_count():
    assert default_names(1) == ["participant-01"]
    assert default_names(30)[-1] == "participant-30"
    assert default_names(100)[0] == "participant-001"
    assert default_names(1000)[-1] == "participant-1000"
    for bad in (0, -1, 1001, True, 2.0):
        with pytest.raises(ValueError, match="1 to 1000"):
            default_names(bad)  # type: ignore[arg-type]


def test_read_names_from_text_and_csv(tmp_path):
    text = tmp_path / "names.txt"
    text.write_text("name\n# the front row\n  Ana  \n\nBen\n李雷\n", encoding="utf-8-sig")  # with a BOM
    assert read_names(text) == ["Ana", "Ben", "李雷"]
    table = tmp_path / "names.csv"
    table.write_text('name,email\nAna,a@x\n"Ben",b@x\n\n#x,y\nCleo\n', encoding="utf-8")
    assert read_names(table) == ["Ana", "Ben", "Cleo"]


@pytest.mark.parametrize(("content", "line", "words"), [
    ("Ana\nBen\nana\n", 3, ["already on line 1", "rename"]),
    ("Ana\n" + "x" * 65 + "\n", 2, ["65 characters", "at most 64"]),
    ("Ana\n\nSmith, John\n", 3, ["comma", "remove"]),
    ("Ana\nB\x07en\n", 2, ["control", "retype"]),
    ("Ana\nB\u202een\n", 2, ["control or invisible"]),
])
def test_read_names_refuses_with_the_file_line_and_fix(tmp_path, content, line, words):
    path = tmp_path / "names.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_names(path)
    message = str(info.value)
    assert f"{path}, line {line}:" in message
    for word in words:
        assert word in message


def test_read_names_refuses_an_empty_list(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("# nobody yet\n\nname\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no names"):
        read_names(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="UTF-8"):
        read_names(path)


def test_write_tokens_is_private_refuses_overwrite_and_round_trips(tmp_path):
    pairs = [("Ana", new_token()), ("李雷", new_token()), ('O"Brien', new_token())]
    old = os.umask(0)
    try:
        path = write_tokens(tmp_path / "out" / "tokens.csv", pairs)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8").splitlines()[0] == "name,token"
    assert read_tokens(path) == dict(pairs)
    assert os.listdir(path.parent) == ["tokens.csv"]  # no temp file left
    before = path.read_bytes()
    with pytest.raises(InvalidArgument) as info:
        write_tokens(path, [("Ben", new_token())])
    assert "would be lost" in str(info.value) and "--tokens" in str(info.value)
    assert path.read_bytes() == before and os.listdir(path.parent) == ["tokens.csv"]


# -- authenticate ---------------------------------------------------------------------------------------------

def test_authenticate_right_token_and_odd_ones(room):
    ledger, tokens = room
    assert ledger.authenticate(tokens["ana"]) == Participant("ana", 1.5, False)
    assert ledger.authenticate(tokens["李雷"]) == Participant("李雷", 1.5, False)
    for odd in ("", " ", tokens["ana"] + " ", tokens["ana"].upper(), tokens["ana"][:-1], "None", "null",
                "\x00", "\udc80", "李雷", "x" * 1_000_000, token_hash(tokens["ana"])):
        assert ledger.authenticate(odd) is None
    assert ledger.authenticate(None) is None


def test_authenticate_any_text_is_no_one(tmp_path):
    ledger, tokens = _ledger_with(tmp_path / "l.sqlite", ["ana", "ben"], 1.0)
    known = set(tokens.values())

    @given(st.text())
    def check(text: str) -> None:
        assert ledger.authenticate(text) is None or text in known

    try:
        check()
    finally:
        ledger.close()


def test_revoke_through_another_ledger_counts_at_once(room):
    ledger, tokens = room
    with Ledger(ledger.path) as other:  # as `dalle-kit proxy revoke` would, from another process
        other.revoke("ben")
    assert ledger.authenticate(tokens["ben"]) == Participant("ben", 1.5, True)
    with pytest.raises(PermissionError, match="ben's token was revoked by the teacher"):
        ledger.reserve("ben", 0.1, endpoint="generate", model="gpt-image-1", images=1)
    with Ledger(ledger.path) as other:
        other.restore("ben")
        other.set_cap("ben", 3)
    assert ledger.authenticate(tokens["ben"]) == Participant("ben", 3.0, False)


# -- caps, reservations, settling -----------------------------------------------------------------------------

def test_reserve_cannot_exceed_the_cap(room):
    ledger, _ = room
    first = ledger.reserve("ana", 1.0, endpoint="generate", model="gpt-image-1", images=1)
    assert isinstance(first, Reservation) and first.amount == 1.0
    second = ledger.reserve("ana", 0.5, endpoint="edit", model="gpt-image-1", images=1)  # exactly the cap
    assert isinstance(second, Reservation)
    ledger.settle(first, 0.92, images=1)
    refusal = ledger.reserve("ana", 0.19, endpoint="generate", model="gpt-image-1", images=1)
    assert refusal == Refusal("ana", cap=1.5, spent=0.92, reserved=0.5, asked=0.19)
    assert refusal.message == ("ana has spent $0.92 of a $1.50 budget ($0.50 more is in flight); this request may "
                               "cost up to $0.19. Ask the teacher to raise your cap (dalle-kit proxy cap ana USD).")
    ledger.settle(second, 0.0, images=0, status="failed", detail="E" * 500)
    ledger.settle(second, 0.4, images=1)  # already settled: nothing changes
    assert isinstance(ledger.reserve("ana", 0.58, endpoint="generate", model="m", images=1), Reservation)
    ana = ledger.standings()[0]
    assert ana == Standing("ana", 1.5, spent=0.92, reserved=0.58, images=1, requests=3, refused=1, failed=1,
                           revoked=False, last_seen=ana.last_seen)
    assert ana.left == 0.0 and ana.last_seen and ana.last_seen.endswith("+00:00")
    assert _rows(ledger.path, f"SELECT length(detail) FROM charges WHERE id = {second.id}") == [(200,)]


def test_refusal_message_for_a_name_with_spaces():
    refusal = Refusal("Li Lei", cap=1.5, spent=1.42, reserved=0.0, asked=0.011)
    assert refusal.message == ("Li Lei has spent $1.42 of a $1.50 budget; this request may cost up to $0.011. "
                               "Ask the teacher to raise your cap (dalle-kit proxy cap 'Li Lei' USD).")


def test_caps_and_names_are_checked(room):
    ledger, _ = room
    for bad in (float("nan"), float("inf"), -0.01, True, "1", 10**400):
        with pytest.raises(ValueError, match="finite number"):
            ledger.set_cap("ana", bad)
        with pytest.raises(ValueError):
            ledger.add({"zed": token_hash("t")}, bad)
    with pytest.raises(KeyError, match="did you mean ana"):
        ledger.set_cap("anna", 2)
    with pytest.raises(KeyError):
        ledger.revoke("nobody at all")
    with pytest.raises(KeyError):
        ledger.reserve("nobody", 0.1, endpoint="generate", model="m", images=1)


def test_add_refuses_duplicates_naming_the_name_never_the_hash(room):
    ledger, tokens = room
    taken = token_hash(tokens["ana"])
    with pytest.raises(ValueError, match="'ANA'") as info:
        ledger.add({"zed": token_hash("t1"), "ANA": token_hash("t2")}, 1.0)
    with pytest.raises(ValueError, match="'zoe'") as other:
        ledger.add({"zoe": taken}, 1.0)
    assert taken not in str(info.value) + str(other.value)
    with pytest.raises(ValueError, match="token_hash"):
        ledger.add({"zoe": tokens["ana"]}, 1.0)  # the token itself, by mistake: never stored
    assert ledger.names() == ["ana", "ben", "李雷"] and len(ledger) == 3  # nothing added, not even zed


def test_totals_meta_and_recover_leave_settled_rows(room):
    ledger, _ = room
    done = ledger.reserve("ben", 0.25, endpoint="generate", model="m", images=2)
    assert isinstance(done, Reservation)
    ledger.settle(done, 0.2, images=2)
    ledger.reserve("ben", 10, endpoint="generate", model="m", images=1)
    assert ledger.recover() == 0
    assert ledger.totals() == {"spent": 0.2, "reserved": 0.0, "images": 2, "requests": 1, "refused": 1,
                               "participants": 3}
    assert ledger.meta("backend") is None
    ledger.set_meta("backend", "simulator")
    ledger.set_meta("backend", "openai")
    assert ledger.meta("backend") == "openai"


def test_many_writers_never_pass_a_cap(tmp_path):
    names = [f"p{i}" for i in range(10)]
    ledger, _ = _ledger_with(tmp_path / "l.sqlite", names, 0.5)
    raiser = Ledger(ledger.path)  # the teacher, raising caps meanwhile, as another process would
    errors: list[BaseException] = []
    outcomes: list[Reservation | Refusal] = []
    settled: dict[str, float] = dict.fromkeys(names, 0.0)
    lock = threading.Lock()
    start = threading.Barrier(31)

    def student(i: int) -> None:
        try:
            start.wait()
            for n in range(20):
                name = names[(i + n) % len(names)]
                got = ledger.reserve(name, 0.07, endpoint="generate", model="gpt-image-1", images=1)
                if isinstance(got, Reservation):
                    time.sleep(0.002)  # the call, in flight: its reservation must count against the cap
                    failed = n % 5 == 0
                    ledger.settle(got, 0.0 if failed else 0.07, images=0 if failed else 1,
                                  status="failed" if failed else "settled", detail="timeout" if failed else None)
                    with lock:
                        settled[name] += 0.0 if failed else 0.07
                with lock:
                    outcomes.append(got)
        except BaseException as exc:
            errors.append(exc)

    def teacher() -> None:
        try:
            start.wait()
            for step in range(20):
                raiser.set_cap(names[step % len(names)], 0.5 + 0.05 * step)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(30)] + [threading.Thread(target=teacher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        standings = {row.name: row for row in ledger.standings()}
        for name in names:
            row = standings[name]
            assert row.spent <= row.cap + 1e-9 and row.reserved == 0
            assert row.spent == pytest.approx(settled[name])
        let_through = sum(isinstance(o, Reservation) for o in outcomes)
        totals = ledger.totals()
        assert totals["spent"] == pytest.approx(sum(row.spent for row in standings.values()))
        assert totals["spent"] == pytest.approx(sum(settled.values()))
        assert (totals["requests"], totals["refused"]) == (let_through, 600 - let_through)
        assert totals["refused"] > 0 and let_through > 50  # the caps were reached, and raised
        assert _rows(ledger.path, "SELECT count(*) FROM charges WHERE status = 'open'") == [(0,)]
    finally:
        raiser.close()
        ledger.close()


def test_a_killed_proxy_leaves_a_reservation_that_recover_counts_as_lost(tmp_path):
    ledger, _ = _ledger_with(tmp_path / "l.sqlite", ["ana"], 1.0)
    code = textwrap.dedent(f"""
        import os
        from dalle_kit.proxy.ledger import Ledger
        ledger = Ledger({str(ledger.path)!r})
        ledger.reserve("ana", 0.3, endpoint="generate", model="gpt-image-1", images=1)
        os._exit(9)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    try:
        assert ledger.standings()[0].reserved == 0.3
        assert ledger.recover() == 1
        ana = ledger.standings()[0]
        assert (ana.spent, ana.reserved, ana.failed, ana.requests) == (0.3, 0.0, 1, 1)
        assert _rows(ledger.path, "SELECT status, amount FROM charges") == [("lost", 0.3)]
        assert ledger.recover() == 0
    finally:
        ledger.close()


def test_the_database_never_holds_a_token(tmp_path):
    folder = tmp_path / "ledger"
    ledger, tokens = _ledger_with(folder / "l.sqlite", ["ana", "ben", "李雷"], 2.0)
    for name, token in tokens.items():
        assert ledger.authenticate(token) is not None
        got = ledger.reserve(name, 0.5, endpoint="generate", model="gpt-image-1", images=1)
        assert isinstance(got, Reservation)
        ledger.settle(got, 0.4, images=1)
    ledger.revoke("ben")

    def scan() -> int:
        files = [p for p in folder.iterdir() if p.name.startswith("l.sqlite")]
        for path in files:
            data = path.read_bytes()
            for token in tokens.values():
                assert token.encode() not in data, path
                assert token[4:].encode() not in data, path
        return len(files)

    assert scan() >= 2  # the database and its WAL, while open
    ledger.close()
    scan()
    assert token_hash(tokens["ana"]) in {row[0] for row in _rows(folder / "l.sqlite",
                                                                 "SELECT token_hash FROM participants")}
