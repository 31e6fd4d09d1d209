"""One bad client must not hang or crash ``dalle-kit serve``, and every bad request gets the API's error body.

Against the real command in a subprocess with short limits (so stalls resolve in about a second): each malformed
request over a raw socket, 500 random garbage requests, 300 clients that stall mid-body; afterwards a generation is
still answered promptly, the server's thread count is back to idle and its stderr holds no traceback. Also: the
in-process transports honour the client's read timeout, JSON nesting is capped, and reset needs a key.
"""

from __future__ import annotations

import asyncio
import json
import random
import selectors
import socket
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai
import pytest
from simulator_fixtures import AUTH, BASE, Served, raw

from dalle_kit.simulator import Simulator
from dalle_kit.simulator.forms import BAD_JSON, MAX_JSON_DEPTH, ApiError, parse_body
from dalle_kit.simulator.http_limits import MAX_BODY
from dalle_kit.simulator.server import build_parser, make_server

REQUEST_TIMEOUT = 1.0  # the served simulator's --request-timeout here (30 s by default)
IDLE_TIMEOUT = 2.0  # its --idle-timeout (60 s by default)
BODY = {"model": "gpt-image-2", "prompt": "a lighthouse", "quality": "low"}
POST = "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n"
JSON_HEAD = POST + "Content-Type: application/json\r\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Served(tmp_path_factory.mktemp("abuse"), "--quiet", "--request-timeout", str(REQUEST_TIMEOUT),
                    "--idle-timeout", str(IDLE_TIMEOUT))
    yield server
    server.stop()


def address(server: Served) -> tuple[str, int]:
    host, port = server.root.removeprefix("http://").split(":")
    return host, int(port)


def exchange(addr: tuple[str, int], data: bytes, *, half_close: bool = True, wait: float = 8.0) -> bytes:
    """Send ``data`` (then end the sending side unless ``half_close`` is False) and read until the server closes."""
    with socket.create_connection(addr, timeout=wait) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answers(blob: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP answers in ``blob`` (status, lower-case headers, body); asserts each is well-formed."""
    found = []
    while blob:
        head, sep, rest = blob.partition(b"\r\n\r\n")
        assert sep, f"no end of headers in {blob[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers["content-length"])
        assert len(rest) >= length, f"short body: {status_line}"
        found.append((int(status), headers, rest[:length]))
        blob = rest[length:]
    return found


def api_error(blob: bytes, status: int) -> dict:
    """The single answer in ``blob``: ``status`` with the API's error body; returns its ``error`` object."""
    [(got, headers, body)] = answers(blob)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["message"], error
    return error


def chunked(*lines: str) -> bytes:
    return (JSON_HEAD + "Transfer-Encoding: chunked\r\n\r\n" + "".join(lines)).encode()


def deep_json(depth: int) -> bytes:
    return b'{"model": "gpt-image-2", "prompt": "x", "svg": ' + b"[" * depth + b"]" * depth + b"}"


def with_body(body: bytes, content_type: str | None = "application/json") -> bytes:
    kind = f"Content-Type: {content_type}\r\n" if content_type else ""
    return f"{POST}{kind}Content-Length: {len(body)}\r\n\r\n".encode() + body


BROKEN_MULTIPART = (b'--other\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncat\r\n--other--\r\n')
#: name -> (request bytes, keep the sending side open, expected status, a piece of the expected message or None)
MALFORMED = {
    "declared body over the maximum": (f"{POST}Content-Length: {10**12}\r\n\r\n".encode(), False, 413,
                                       "Request too large"),
    "negative length": (f"{POST}Content-Length: -1\r\n\r\n".encode(), False, 400, "Content-Length"),
    "length not a number": (f"{POST}Content-Length: abc\r\n\r\n".encode(), False, 400, "Content-Length"),
    "length with a sign": (f"{POST}Content-Length: +5\r\n\r\nhello".encode(), False, 400, "Content-Length"),
    "short body, then silence": (f"{JSON_HEAD}Content-Length: 100\r\n\r\n{{\"model\"".encode(), True, 408,
                                 "timed out"),
    "short body, then the end": (f"{JSON_HEAD}Content-Length: 100\r\n\r\n{{\"model\"".encode(), False, 400,
                                 "Incomplete body"),
    "chunk size not hex": (chunked("zz\r\n"), False, 400, "chunked"),
    "chunk size 0x-prefixed": (chunked("0x10\r\n"), False, 400, "chunked"),
    "chunk size negative": (chunked("-5\r\nhello\r\n0\r\n\r\n"), False, 400, "chunked"),
    "chunk size over the maximum": (chunked(f"{MAX_BODY + 1:x}\r\n"), False, 413, "Request too large"),
    "chunk shorter than its size": (chunked("10\r\nabc"), False, 400, "chunked"),
    "chunked body without its last chunk": (chunked("2\r\n{}\r\n"), False, 400, "chunked"),
    "unknown transfer coding": (f"{JSON_HEAD}Transfer-Encoding: gzip\r\n\r\n".encode(), False, 400,
                                "Unsupported Transfer-Encoding"),
    "100k-deep JSON": (with_body(deep_json(100_000)), False, 400, "We could not parse the JSON body"),
    "NaN in JSON": (with_body(b'{"model": "gpt-image-2", "prompt": "x", "n": NaN}'), False, 400,
                    "We could not parse the JSON body"),
    "text/plain body": (with_body(json.dumps(BODY).encode(), "text/plain"), False, 400, "Unsupported content type"),
    "form-urlencoded body": (with_body(b"model=gpt-image-2&prompt=x", "application/x-www-form-urlencoded"), False,
                             400, "Unsupported content type"),
    "multipart with another boundary": (with_body(BROKEN_MULTIPART, "multipart/form-data; boundary=XyZ"), False,
                                        400, "multipart"),
    "multipart without boundary": (with_body(BROKEN_MULTIPART, "multipart/form-data"), False, 400,
                                   "missing boundary"),
    "no content type, no body": (f"{POST}Content-Length: 0\r\n\r\n".encode(), False, 400,
                                 "Missing required parameter"),
    "request line of 100 kB": (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n", False, 414, "Request line too long"),
    "1000 headers": (POST.encode() + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(1000)) + b"\r\n", False, 431,
                     "Request header fields too large"),
    "header line of 70 kB": (POST.encode() + b"X-Pad: " + b"y" * 70_000 + b"\r\n\r\n", False, 431,
                             "Request header fields too large"),
    "TLS hello instead of HTTP": (bytes.fromhex("160301020001") + bytes(range(256)) * 2, False, 400,
                                  "Invalid HTTP request"),
    "TLS hello, then silence": (bytes.fromhex("160301020001") + bytes(range(14, 200)), True, 408, "timed out"),
    "unknown method": (b"BREW /v1/images/generations HTTP/1.1\r\nHost: x\r\n\r\n", False, 404, "Invalid URL (BREW"),
    "method that is not a token": (b"GE\x01T /v1/models HTTP/1.1\r\n\r\n", False, 400, "Invalid HTTP request"),
    "HTTP/2 request line": (b"GET /v1/models HTTP/2.0\r\n\r\n", False, 505, "HTTP version not supported"),
    "bad version": (b"GET /v1/models HTTP/1.1.1\r\n\r\n", False, 400, "Invalid HTTP request"),
    "one word": (b"hello\r\n\r\n", False, 400, "Invalid HTTP request"),
    "100-continue for a body over the maximum": (
        f"{POST}Expect: 100-continue\r\nContent-Length: {10**12}\r\n\r\n".encode(), False, 413, "Request too large"),
    "reset without a key": (b"POST /_simulator/reset HTTP/1.1\r\nContent-Length: 0\r\n\r\n", False, 401,
                            "You didn't provide an API key"),
}


def test_each_malformed_request_gets_the_apis_error_body(served):
    addr = address(served)
    expected_hint = BAD_JSON.split(" (HINT")[0]

    def run(case: tuple[bytes, bool, int, str | None]) -> tuple[bytes, float]:
        data, keep_open, _, _ = case
        with socket.create_connection(addr, timeout=8) as sock:
            sock.sendall(data)
            if not keep_open:
                sock.shutdown(socket.SHUT_WR)
            started = time.monotonic()
            chunks = [sock.recv(65536)]
            waited = time.monotonic() - started  # until the answer began
            while chunks[-1]:
                chunks.append(sock.recv(65536))
        return b"".join(chunks), waited

    with ThreadPoolExecutor(len(MALFORMED)) as pool:  # at once: the stalls resolve together
        results = dict(zip(MALFORMED, pool.map(run, MALFORMED.values())))
    for name, (blob, seconds) in results.items():
        _, _, status, hint = MALFORMED[name]
        error = api_error(blob, status)
        assert hint is None or hint in error["message"], (name, error)
        assert error["type"] == "invalid_request_error", name
        if status == 408:  # the request's deadline, not the idle timeout nor the 60 s socket default
            assert REQUEST_TIMEOUT * 0.9 <= seconds < IDLE_TIMEOUT * 0.9, (name, seconds)
    assert api_error(results["100k-deep JSON"][0], 400)["message"].startswith(expected_hint)
    assert api_error(results["text/plain body"][0], 400)["code"] == "unsupported_content_type"
    assert b"100 Continue" not in results["100-continue for a body over the maximum"][0]
    assert served.err.read_text() == ""  # no traceback, no warning


def test_requests_that_are_answered_normally(served):
    addr = address(served)
    get_with_body = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    then_stats = b"GET /_simulator/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    first, second = answers(exchange(addr, get_with_body + then_stats))  # the body was read, not taken as a request
    assert first[0] == 401 and json.loads(first[2])["error"]["message"].startswith("You didn't provide an API key")
    assert second[0] == 200 and json.loads(second[2])["server"]["max_connections"] == 256
    head = exchange(addr, b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 404") and rest.endswith(b"\r\n\r\n")  # headers only
    blank = exchange(addr, b"\r\n")  # not even a request line: closed without a word
    assert blank == b""
    started = time.monotonic()
    idle = exchange(addr, b"", half_close=False)  # a connection that says nothing is closed after the idle timeout
    assert idle == b"" and IDLE_TIMEOUT * 0.9 <= time.monotonic() - started < IDLE_TIMEOUT + 2
    reset = exchange(addr, b"POST /_simulator/reset HTTP/1.1\r\nAuthorization: Bearer any\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")
    assert answers(reset)[0][0] == 200
    assert served.err.read_text() == ""


def _garbage(rng: random.Random) -> bytes:
    """One random request: noise, a valid request with bytes changed, random headers, or a random body."""
    valid = with_body(json.dumps(BODY).encode())
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(2000))
    if kind == 1:
        blob = bytearray(valid)
        for _ in range(rng.randint(1, 12)):
            pos = rng.randrange(len(blob))
            if rng.random() < 0.5:
                blob[pos] = rng.randrange(256)
            else:
                blob[pos:pos] = rng.randbytes(rng.randint(1, 8))
        return bytes(blob)
    if kind == 2:
        lines = [rng.randbytes(rng.randrange(40)) + b": " + rng.randbytes(rng.randrange(40))
                 for _ in range(rng.randrange(30))]
        return POST.encode() + b"\r\n".join(lines) + b"\r\n\r\n"
    body = rng.choice([rng.randbytes(rng.randrange(500)), b"[" * rng.randrange(10_000), b'{"n": ' * 200,
                       json.dumps({**BODY, "n": rng.choice([1e308, -1, "x", None, [1], {}])}).encode()])
    return with_body(body, rng.choice(["application/json", "multipart/form-data; boundary=b", "text/plain", None]))


def _stats(server: Served) -> dict:
    return server.stats()["server"]


def _threads_back_to(server: Served, idle: int, seconds: float = 5.0) -> int:
    """The server's thread count once it is down to ``idle`` (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            threads = _stats(server)["threads"]
        except urllib.error.HTTPError as busy:  # 503 while the last places are given back
            busy.close()
            threads = idle + 999
        if threads <= idle or time.monotonic() > deadline:
            return threads
        time.sleep(0.1)


def test_garbage_storm_then_a_prompt_answer(served):
    addr = address(served)
    idle = _stats(served)["threads"]
    rng = random.Random(20260923)
    requests = [_garbage(rng) for _ in range(500)]

    def send(data: bytes) -> bytes:
        return exchange(addr, data)

    with ThreadPoolExecutor(16) as pool:
        blobs = list(pool.map(send, requests))
    statuses: dict[int, int] = {}
    for data, blob in zip(requests, blobs):
        if not blob:  # a first line without a word in it: a clean close (never a reset, never a hang)
            assert not data.split(b"\n", 1)[0].decode("latin-1").split(), data[:80]
            continue
        for status, headers, body in answers(blob):
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                assert headers["content-type"] == "application/json", (data[:80], body)
                assert json.loads(body)["error"]["message"]
    assert sum(statuses.values()) >= 450 and 400 in statuses, statuses
    started = time.monotonic()
    with openai.OpenAI(api_key="sk-test", base_url=served.url, max_retries=0) as client:
        assert client.images.generate(**BODY).data
    assert time.monotonic() - started < 2
    assert _threads_back_to(served, idle) <= idle
    assert served.err.read_text() == ""


def test_three_hundred_stalled_clients(tmp_path):
    """256 stalled clients hold every place for at most the request timeout, then get a 408; the 44 more get a 503
    at once; afterwards the threads are gone and a generation is answered at once."""
    server = Served(tmp_path, "--quiet", "--request-timeout", str(REQUEST_TIMEOUT))
    addr = address(server)
    sockets: list[socket.socket] = []
    try:
        idle = _stats(server)["threads"]
        stall = f"{JSON_HEAD}Content-Length: 100\r\n\r\n{{\"model\"".encode()
        for _ in range(300):
            sock = socket.create_connection(addr, timeout=5)
            sockets.append(sock)
            sock.sendall(stall)
        with pytest.raises(urllib.error.HTTPError) as busy:
            server.stats()
        assert busy.value.code == 503 and json.load(busy.value)["error"]["type"] == "server_error"
        busy.value.close()
        got = _read_all(sockets, deadline=REQUEST_TIMEOUT + 4)
        statuses = sorted(api_error_status(blob) for blob in got)
        assert statuses.count(408) + statuses.count(503) == 300 and statuses.count(503) >= 300 - 256, statuses
        assert _threads_back_to(server, idle) <= idle
        started = time.monotonic()
        with openai.OpenAI(api_key="sk-test", base_url=server.url, max_retries=0) as client:
            assert client.images.generate(**BODY).data
        assert time.monotonic() - started < 2
        assert server.err.read_text() == ""
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def api_error_status(blob: bytes) -> int:
    [(status, headers, body)] = answers(blob)
    assert headers["content-type"] == "application/json" and json.loads(body)["error"]["message"]
    return status


def _read_all(sockets: list[socket.socket], deadline: float) -> list[bytes]:
    """Everything each socket receives until the server closes it (all of them within ``deadline`` seconds)."""
    received = {sock: bytearray() for sock in sockets}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        end = time.monotonic() + deadline
        open_count = len(sockets)
        while open_count and time.monotonic() < end:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                chunk = sock.recv(65536)
                if chunk:
                    received[sock] += chunk
                else:
                    selector.unregister(sock)
                    sock.close()
                    open_count -= 1
        assert open_count == 0, f"{open_count} connections still open after {deadline} s"
    return [bytes(received[sock]) for sock in sockets]


# -- in-process: the client's read timeout, JSON limits, the reset key ------------------------------------------------

def test_in_process_transport_honours_the_read_timeout():
    sim = Simulator(latency=1.0)  # the picture is drawn before the latency: the timeout cuts the wait short
    with openai.OpenAI(api_key="sk-test", base_url=BASE, timeout=0.01, max_retries=0,
                       http_client=httpx2.Client(transport=sim.transport())) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client.images.generate(**BODY)
        assert time.monotonic() - started < 0.6
    patient = Simulator(latency=0.2)
    with openai.OpenAI(api_key="sk-test", base_url=BASE, timeout=5, max_retries=0,
                       http_client=httpx2.Client(transport=patient.transport())) as client:
        assert client.images.generate(**BODY).data

    async def go() -> None:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=BASE, timeout=0.01, max_retries=0,
                                      http_client=httpx2.AsyncClient(transport=sim.async_transport())) as client:
            began = time.monotonic()
            with pytest.raises(openai.APITimeoutError):
                await client.images.generate(**BODY)
            assert time.monotonic() - began < 0.6
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=BASE, timeout=5, max_retries=0,
                                      http_client=httpx2.AsyncClient(transport=patient.async_transport())) as client:
            assert (await client.images.generate(**BODY)).data

    asyncio.run(go())


def test_a_slow_stream_event_is_a_read_timeout():
    sim = Simulator(partial_delay=0.1)
    with openai.OpenAI(api_key="sk-test", base_url=BASE, timeout=0.02, max_retries=0,
                       http_client=httpx2.Client(transport=sim.transport())) as client:
        stream = client.images.generate(**BODY, stream=True, partial_images=1)
        with pytest.raises(openai.APITimeoutError), stream:  # the SDK's name for httpx2.ReadTimeout mid-stream
            list(stream)
    with openai.OpenAI(api_key="sk-test", base_url=BASE, timeout=5, max_retries=0,
                       http_client=httpx2.Client(transport=sim.transport())) as client, \
            client.images.generate(**BODY, stream=True, partial_images=1) as stream:
        assert [event.type for event in stream][-1] == "image_generation.completed"


def test_json_nesting_is_capped_without_recursion():
    def nested(depth: int) -> bytes:
        return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert parse_body("application/json", nested(MAX_JSON_DEPTH)).values["a"] is not None
    for body in (nested(MAX_JSON_DEPTH + 1), b"[" * 1_000_000, b"[" * 70 + b"]" * 69, b'{"a": Infinity}',
                 b"[]" * 20_000):
        with pytest.raises(ApiError) as info:
            parse_body("application/json", body)
        assert info.value.status == 400 and info.value.message == BAD_JSON
    brackets_in_strings = json.dumps({"prompt": "[" * 100_000 + '\\"{' * 100}).encode()
    assert parse_body(None, brackets_in_strings).values["prompt"].startswith("[[[")
    assert parse_body("application/json; charset=utf-8", b'{"a": 1}').values == {"a": 1}
    assert parse_body("application/vnd.api+json", b'{"a": 1}').values == {"a": 1}


def test_serve_limits_options():
    parser = build_parser()
    args = parser.parse_args(["--request-timeout", "2.5", "--idle-timeout", "9", "--max-connections", "8"])
    assert (args.request_timeout, args.idle_timeout, args.max_connections) == (2.5, 9.0, 8)
    defaults = parser.parse_args([])
    assert (defaults.request_timeout, defaults.idle_timeout, defaults.max_connections) == (30.0, 60.0, 256)
    for bad in (["--max-connections", "0"], ["--request-timeout", "-1"], ["--idle-timeout", "soon"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    server = make_server(Simulator(), port=0, quiet=True, max_connections=8, request_timeout=2.5, idle_timeout=9)
    try:
        assert {k: v for k, v in server.load().items() if k != "threads"} == {
            "connections": 0, "max_connections": 8, "request_timeout": 2.5, "idle_timeout": 9}
    finally:
        server.server_close()


def test_reset_needs_a_key_and_stats_does_not():
    sim = Simulator()
    refused = raw(sim, "POST", "/_simulator/reset")
    assert refused.status_code == 401 and refused.json()["error"]["message"].startswith("You didn't provide")
    assert raw(sim, "POST", "/_simulator/reset", headers=AUTH).json() == {"reset": True}
    assert raw(sim, "GET", "/_simulator/stats").status_code == 200
