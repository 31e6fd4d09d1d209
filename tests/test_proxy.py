"""The teacher's proxy end to end (issue 13): a room of 30 participants on the simulator, revocation, pre-flight
refusals that never reach the backend, streaming and edits through the official SDK, the replay backend, a
participant on dalle_kit's own Kit, and a scan of everything the proxy writes or answers for the key and tokens."""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
from PIL import Image

from dalle_kit import Kit, costs, masks
from dalle_kit.proxy.ledger import Ledger
from dalle_kit.proxy.run import Proxy, start_proxy
from dalle_kit.simulator import Simulator
from dalle_kit.simulator.app import Core
from dalle_kit.simulator.server import make_server
from dalle_kit.validation import validate

LOW = {"model": "gpt-image-2", "size": "1024x1024", "quality": "low"}


def high(prompt: str, **params: Any) -> float:
    """The most a request may cost: what the proxy reserves for it (it grows with the prompt's length)."""
    most = costs.estimate(validate("generate", prompt=prompt, **{**LOW, **params})).high
    assert most is not None
    return most


HIGH = high("participant-01 picture 0")  # the 30-participant run's requests; the others' prompts are no longer
FAKE_KEY = "sk-FAKE-FOR-PROXY-TESTS-NOT-A-KEY"


@pytest.fixture
def proxies(tmp_path) -> Iterator[Callable[..., Proxy]]:
    """``proxies(**start_proxy options)``: a started proxy with its own ledger, stopped at the end of the test."""
    started: list[Proxy] = []

    def start(**options: Any) -> Proxy:
        options.setdefault("students", 2)
        options.setdefault("budget_each", 1.0)
        proxy = start_proxy(tmp_path / f"ledger-{len(started)}.sqlite", **options)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _client(proxy: Proxy, name: str, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url, api_key=proxy.token(name), max_retries=0, **options)


def _post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request: the status, every header (lower-case names) and the body as sent."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _settled(proxy: Proxy) -> dict[str, float | int]:
    """The ledger's totals once nothing is in flight: a stream is settled just after its last byte is sent."""
    deadline = time.monotonic() + 5
    while (totals := proxy.ledger.totals())["reserved"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return totals


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the room -------------------------------------------------------------------------------------------------


def test_thirty_participants_each_stay_within_their_cap(proxies):
    students, per_person = 30, 8
    sim = Simulator(latency=0.05)
    lines: list[str] = []
    proxy = proxies(students=students, budget_each=HIGH * 4.5, backend="simulator", simulator=sim, log=lines.append)
    lock = threading.Lock()
    received: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    refusals: list[tuple[str, openai.APIStatusError]] = []
    latencies: list[float] = []
    usages: list[dict[str, Any]] = []

    def participant(name: str) -> None:
        refused = threading.Event()
        with _client(proxy, name) as client:

            def one(i: int) -> None:
                if refused.is_set():
                    return
                with lock:
                    calls[name] += 1
                started = time.perf_counter()
                try:
                    answer = client.images.generate(prompt=f"{name} picture {i}", **LOW)
                except openai.APIStatusError as exc:
                    refused.set()
                    with lock:
                        refusals.append((name, exc))
                    return
                with lock:
                    latencies.append(time.perf_counter() - started)
                    received[name] += len(answer.data or [])
                    if answer.usage is not None:
                        usages.append(answer.usage.model_dump(mode="json"))

            with ThreadPoolExecutor(3) as pool:
                list(pool.map(one, range(per_person)))

    threads = [threading.Thread(target=participant, args=(name,)) for name in proxy.names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    assert refusals, "every participant had a budget of 4.5 images and asked for 8"
    for _, exc in refusals:
        assert exc.status_code == 429 and exc.code == "insufficient_quota"
        assert exc.response.headers["x-should-retry"] == "false"
        assert "cap" in exc.message and "teacher" in exc.message
    # the SDK did not retry a refusal: the proxy logged exactly the calls the clients made, one line each
    logged = Counter(line.split()[1] for line in lines)
    assert logged == calls

    price = costs.cost("gpt-image-2", usages[0])
    assert price is not None and price <= HIGH
    assert {costs.cost("gpt-image-2", u) for u in usages} == {price}  # prompts of one length: one price
    standings = {s.name: s for s in proxy.standings()}
    for name, s in standings.items():
        assert s.spent <= s.cap + HIGH + 1e-9, s
        assert s.images == received[name] >= 1
        assert s.refused >= 1 and s.reserved == 0
    totals = proxy.ledger.totals()
    images = sum(received.values())
    assert totals["images"] == images == sim.stats()["images"]
    assert totals["spent"] == pytest.approx(images * price, abs=1e-6)
    assert totals["reserved"] == 0
    assert sim.stats()["total"] == totals["requests"] == images  # refusals never reached the simulator
    print(f"\n30 participants, {len(latencies)} images through the proxy: p50 "
          f"{_percentile(latencies, 0.5) * 1000:.0f} ms, p95 {_percentile(latencies, 0.95) * 1000:.0f} ms "
          f"(simulator latency 50 ms), {len(refusals)} refused")


def test_revoke_from_another_process_view_counts_at_once(proxies):
    proxy = proxies()
    name = proxy.names[0]
    with _client(proxy, name) as client:
        assert client.images.generate(prompt="before", **LOW).data
        with Ledger(proxy.ledger.path) as other:  # what `dalle-kit proxy revoke` opens
            other.revoke(name)
        with pytest.raises(openai.AuthenticationError) as info:
            client.images.generate(prompt="after", **LOW)
        assert info.value.status_code == 401 and info.value.code == "token_revoked"
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
        with Ledger(proxy.ledger.path) as other:
            other.restore(name)
        assert client.images.generate(prompt="restored", **LOW).data
    assert proxy.ledger.totals()["images"] == 2


@pytest.mark.parametrize("change", [
    {"size": "13x7"},
    {"size": "100000x100000"},
    {"model": "gpt-image-99"},
    {"model": "dall-e-3"},
    {"quality": "ultra"},
    {"prompt": None},
    {"n": 99},
    {"n": "three"},
    {"output_compression": 500},
])
def test_a_bad_request_never_reaches_the_backend_and_costs_nothing(proxies, change):
    sim = Simulator()
    proxy = proxies(simulator=sim)
    body = {"prompt": "a lighthouse", **LOW, **change}
    body = {k: v for k, v in body.items() if v is not None}
    status, headers, raw = _post(proxy.url, "/v1/images/generations", json.dumps(body).encode(),
                                 {"Authorization": f"Bearer {proxy.token(proxy.names[0])}",
                                  "Content-Type": "application/json"})
    assert status == (404 if change.get("model") == "dall-e-3" else 400), raw  # a retired model: the API's 404
    assert headers["content-type"].startswith("application/json")
    error = json.loads(raw)["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["message"]
    assert sim.stats()["total"] == 0
    assert proxy.ledger.totals() == {"spent": 0, "reserved": 0, "images": 0, "requests": 0, "refused": 0,
                                     "participants": 2}


def test_a_bad_request_through_the_sdk_is_a_bad_request_error(proxies):
    sim = Simulator()
    proxy = proxies(simulator=sim)
    with _client(proxy, proxy.names[0]) as client:
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(prompt="x", model="gpt-image-2", size="13x7")  # type: ignore[arg-type]
        assert info.value.status_code == 400 and info.value.param == "size"
        with pytest.raises(openai.NotFoundError) as missing:
            client.images.generate(prompt="x", model="dall-e-3")
        assert missing.value.code == "model_not_found" and "retired" in missing.value.message
    assert sim.stats()["total"] == 0 and proxy.ledger.totals()["requests"] == 0


# -- streaming, edits ------------------------------------------------------------------------------------------


def test_streaming_through_the_sdk_settles_from_usage(proxies):
    sim = Simulator()
    proxy = proxies(simulator=sim)
    with _client(proxy, proxy.names[0]) as client:
        events = list(client.images.generate(prompt="a lighthouse at dusk", stream=True, partial_images=2, **LOW))
    kinds = Counter(e.type for e in events)
    assert kinds == {"image_generation.partial_image": 2, "image_generation.completed": 1}
    done = events[-1]
    assert done.type == "image_generation.completed" and base64.b64decode(done.b64_json)[:4] == b"\x89PNG"
    assert done.usage is not None
    expected = costs.cost("gpt-image-2", done.usage.model_dump(mode="json"))
    totals = _settled(proxy)
    assert totals["images"] == 1 and totals["reserved"] == 0
    assert totals["spent"] == pytest.approx(expected, abs=1e-9)
    assert sim.stats()["images"] == 1


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_edit_with_image_and_mask_goes_through_and_settles(proxies):
    sim = Simulator()
    proxy = proxies(simulator=sim)
    picture = Image.new("RGB", (1024, 1024), (40, 90, 160))
    mask = masks.rectangle(picture, (256, 256, 768, 768))
    with _client(proxy, proxy.names[0]) as client:
        answer = client.images.edit(image=("room.png", _png(picture), "image/png"),
                                    mask=("mask.png", _png(mask), "image/png"),
                                    prompt="put a red balloon in the middle", **LOW)
        streamed = list(client.images.edit(image=("room.png", _png(picture), "image/png"), prompt="a green door",
                                           stream=True, partial_images=1, **LOW))
    assert answer.data and answer.usage is not None
    assert [e.type for e in streamed] == ["image_edit.partial_image", "image_edit.completed"]
    last = streamed[-1]
    assert last.type == "image_edit.completed" and last.usage is not None
    spent = [costs.cost("gpt-image-2", u.model_dump(mode="json")) for u in (answer.usage, last.usage)]
    totals = _settled(proxy)
    assert totals["images"] == 2 == sim.stats()["images"]
    assert totals["spent"] == pytest.approx(sum(s or 0 for s in spent), abs=1e-9)
    assert totals["reserved"] == 0


# -- replay ----------------------------------------------------------------------------------------------------


@pytest.fixture
def pack(tmp_path) -> tuple[Path, bytes]:
    with Kit(home=tmp_path / "recording", quiet=True) as kit:
        cat = kit.generate("a white cat", **LOW)
        return kit.export_pack(tmp_path / "workshop.zip"), cat.bytes


def test_replay_answers_from_the_pack_and_a_miss_from_the_simulator(proxies, pack):
    path, cat = pack
    sim = Simulator()
    proxy = proxies(backend="replay", replay=path, simulator=sim)
    with _client(proxy, proxy.names[0]) as client:
        again = client.images.generate(prompt="a white cat", **LOW)
        assert again.data and base64.b64decode(again.data[0].b64_json or "") == cat
        assert sim.stats()["total"] == 0
        streamed = list(client.images.generate(prompt="a white cat", stream=True, partial_images=1, **LOW))
        assert base64.b64decode(getattr(streamed[-1], "b64_json", "")) == cat and sim.stats()["total"] == 0
        assert _settled(proxy)["spent"] == 0  # the pack's answers cost nothing
        other = client.images.generate(prompt="a black dog", **LOW)
        assert other.data and sim.stats()["images"] == 1 and other.usage is not None
    totals = _settled(proxy)
    assert totals["images"] == 3 and totals["reserved"] == 0
    assert totals["spent"] == pytest.approx(costs.cost("gpt-image-2", other.usage.model_dump(mode="json")) or -1)


def test_strict_replay_refuses_a_miss(proxies, pack):
    path, cat = pack
    proxy = proxies(backend="replay", replay=path, strict=True)
    with _client(proxy, proxy.names[0]) as client:
        assert base64.b64decode(client.images.generate(prompt="a white cat", **LOW).data[0].b64_json or "") == cat
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(prompt="a black dog", **LOW)
        assert info.value.code == "replay_miss" and "workshop.zip" in info.value.message
        with pytest.raises(openai.BadRequestError) as info:
            list(client.images.generate(prompt="a black dog", stream=True, partial_images=1, **LOW))
        assert info.value.code == "replay_miss"
    assert _settled(proxy) == {"spent": 0, "reserved": 0, "images": 1, "requests": 3, "refused": 0,
                               "participants": 2}


# -- a participant on dalle_kit's Kit ---------------------------------------------------------------------------


def test_a_participant_on_kit_generate_many_and_a_clear_refusal(proxies, tmp_path):
    sim = Simulator()
    proxy = proxies(budget_each=HIGH * 3.5, simulator=sim)
    name = proxy.names[0]
    with Kit(base_url=proxy.url, api_key=proxy.token(name), home=tmp_path / "pupil", quiet=True) as kit:
        assert not kit.offline
        many = kit.generate_many([f"a fox number {i}" for i in range(5)], progress=False, **LOW)
        assert len(many.images) == 3 and len(many.errors) == 2
        for outcome in many.errors:
            assert isinstance(outcome.error, openai.RateLimitError) and outcome.attempts == 1
            assert "budget" in str(outcome.error) and "teacher" in str(outcome.error)
        with pytest.raises(openai.RateLimitError) as info:
            kit.generate("one more fox", **LOW)
        assert info.value.code == "insufficient_quota" and name in str(info.value)
        notes = " ".join(getattr(info.value, "__notes__", []))  # dalle_kit's advice: the teacher, not billing
        assert "ask the teacher to raise your cap" in notes and "billing" not in notes
    standing = proxy.standings()[0]
    assert standing.images == 3 == sim.stats()["images"] and standing.spent <= standing.cap


# -- nothing secret anywhere -----------------------------------------------------------------------------------


class _Hostile(BaseHTTPRequestHandler):
    """An upstream that echoes whatever key it is sent: in its error message, and in a rate-limit header."""

    status = 400

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        key = self.headers.get("authorization", "")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}. You gave {key[7:]}",
                                     "type": "invalid_request_error", "param": key, "code": key}}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("x-ratelimit-limit-requests", key)
        self.send_header("retry-after-ms", "5")  # the proxy's SDK retries 5xx: quickly, please
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(server: Any) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def test_neither_the_key_nor_a_token_appears_anywhere(proxies, tmp_path, caplog):
    caplog.set_level(logging.INFO)  # what a teacher running with logging at INFO sees
    core = Core()
    served = make_server(core, port=0, quiet=True)
    hostile = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    _serve(served)
    _serve(hostile)
    seen: list[str] = []  # everything a participant or the teacher could see
    lines: list[str] = []
    try:
        proxy = proxies(students=3, budget_each=HIGH * 6, backend="openai", api_key=FAKE_KEY,
                        upstream=f"http://127.0.0.1:{served.server_address[1]}/v1", log=lines.append,
                        tokens_path=tmp_path / "tokens.csv")
        bad = proxies(backend="openai", api_key=FAKE_KEY, upstream=f"http://127.0.0.1:{hostile.server_address[1]}/v1",
                      log=lines.append)
        tokens = [proxy.token(n) for n in proxy.names] + [bad.token(n) for n in bad.names]

        def raw(p: Proxy, token: str, body: dict[str, Any], path: str = "/v1/images/generations") -> None:
            status, headers, payload = _post(p.url, path, json.dumps(body).encode(),
                                             {"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
            seen.append(f"{status} {json.dumps(headers)} {payload.decode('utf-8', 'replace')}")

        def sdk(p: Proxy, token: str, call: Callable[[openai.OpenAI], Any]) -> None:
            with openai.OpenAI(base_url=p.url, api_key=token, max_retries=0) as client:
                try:
                    seen.append(repr(call(client)))
                except openai.APIError as exc:
                    seen.append(f"{exc!r} {exc} {exc.body!r}")
                    if isinstance(exc, openai.APIStatusError):
                        seen.append(json.dumps(dict(exc.response.headers)))

        ok, other, spent = tokens[0], tokens[1], tokens[2]
        raw(proxy, ok, {"prompt": "a lighthouse", **LOW})
        raw(proxy, ok, {"prompt": "a lighthouse", "stream": True, "partial_images": 1, **LOW})
        raw(proxy, ok, {"prompt": "x", "size": "13x7", "model": "gpt-image-2"})
        raw(proxy, ok, {"prompt": "x"}, path="/v1/chat/completions")
        raw(proxy, ok[:-1], {"prompt": "x", **LOW})
        raw(proxy, FAKE_KEY, {"prompt": "x", **LOW})
        sdk(proxy, ok, lambda c: c.models.list())
        sdk(proxy, other, lambda c: c.images.generate(prompt="a cat", **LOW))
        for _ in range(8):  # past the cap: refusals
            sdk(proxy, spent, lambda c: c.images.generate(prompt="a dog", **LOW))
        for status in (401, 429, 500, 503):  # upstream failures (the proxy's SDK retries 429 and 5xx twice)
            core.faults.fail = [(status, 1.0)]
            sdk(proxy, other, lambda c: c.images.generate(prompt="a failing cat", **LOW))
            raw(proxy, other, {"prompt": "a failing cat", "stream": True, **LOW})
        core.faults.fail = []
        for status in (400, 401, 500):  # an upstream that echoes the key it was sent
            _Hostile.status = status
            sdk(bad, bad.token(bad.names[0]), lambda c: c.images.generate(prompt="echo", **LOW))
            raw(bad, bad.token(bad.names[0]), {"prompt": "echo", "stream": True, **LOW})
        with Ledger(proxy.ledger.path) as teacher:
            teacher.revoke(proxy.names[1])
        sdk(proxy, other, lambda c: c.images.generate(prompt="revoked", **LOW))
    finally:
        served.shutdown()
        served.server_close()
        hostile.shutdown()
        hostile.server_close()

    assert any(" 200 " in line for line in lines) and any("insufficient_quota" in line for line in lines)
    assert any("upstream_auth" in line for line in lines)
    ledgers = b"".join(Path(f"{p.ledger.path}{suffix}").read_bytes() for p in (proxy, bad)
                       for suffix in ("", "-wal") if Path(f"{p.ledger.path}{suffix}").exists())
    texts = {"log": "\n".join(lines), "uvicorn": "\n".join(r.getMessage() for r in caplog.records),
             "seen": "\n".join(seen)}
    for secret in [FAKE_KEY, FAKE_KEY[7:], FAKE_KEY[-16:], *tokens, *(t[4:] for t in tokens)]:
        for where, text in texts.items():
            assert secret not in text, f"{secret[:8]}... appears in the {where}"
        assert secret.encode() not in ledgers
    assert (tmp_path / "tokens.csv").stat().st_mode & 0o777 == 0o600  # tokens live in that file only
    assert len(seen) > 30


def test_upstream_failures_cost_nothing_and_keep_their_status(proxies):
    core = Core(fail={500: 1.0})
    served = make_server(core, port=0, quiet=True)
    _serve(served)
    try:
        proxy = proxies(backend="openai", api_key=FAKE_KEY, upstream=f"http://127.0.0.1:{served.server_address[1]}/v1")
        with _client(proxy, proxy.names[0]) as client:
            with pytest.raises(openai.InternalServerError):
                client.images.generate(prompt="a cat", **LOW)
            core.faults.fail = [(429, 1.0)]
            with pytest.raises(openai.RateLimitError) as info:
                client.images.generate(prompt="a cat", **LOW)
            assert info.value.code == "rate_limit_exceeded"
            core.faults.fail = []
            assert client.images.generate(prompt="a cat", **LOW).data
    finally:
        served.shutdown()
        served.server_close()
    totals = proxy.ledger.totals()
    assert totals["images"] == 1 and totals["reserved"] == 0
    price = statistics.fmean([s.spent for s in proxy.standings() if s.images])
    assert totals["spent"] == pytest.approx(price, abs=1e-9) and price <= HIGH


def test_kept_alive_answers_are_not_held_back(proxies):
    """The listening socket names TCP, so asyncio sets TCP_NODELAY on every connection (with proto 0 it did not,
    and Nagle with the client's delayed ACK added ~40 ms to every answer on a kept-alive connection)."""
    import socket

    proxy = proxies()
    assert proxy._socket.proto == socket.IPPROTO_TCP
