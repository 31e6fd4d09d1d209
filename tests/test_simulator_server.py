"""The served simulator (the real ``dalle-kit serve`` command in a subprocess): a class connecting at once, and the
rate-limit headers on every kind of answer over HTTP. Timings live in benchmarks/served_class.py, not here."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
from simulator_fixtures import Served

from dalle_kit.simulator import Simulator
from dalle_kit.simulator.ratelimit import HEADER_NAMES
from dalle_kit.simulator.server import REQUEST_QUEUE_SIZE, make_server

CLASS_SIZE = 30
#: A connection attempt the listen queue dropped is retried by the kernel after 1 s; faster means no retry.
CONNECT_TIMEOUT = 0.9
BODY = {"model": "gpt-image-2", "prompt": "a lighthouse", "quality": "low"}
HEADERS = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}


def host_port(server: Served) -> tuple[str, int]:
    host, port = server.root.removeprefix("http://").split(":")
    return host, int(port)


def test_thirty_clients_connecting_at_once(tmp_path):
    server = Served(tmp_path, "--quiet")
    host, port = host_port(server)
    barrier = threading.Barrier(CLASS_SIZE)
    answers: list[tuple[int, dict[str, str], bytes]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def pupil() -> None:
        barrier.wait()
        try:
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)  # a fresh connection each
        except OSError as exc:
            with lock:
                errors.append(f"connect: {exc!r}")
            return
        sock.settimeout(60)
        conn = http.client.HTTPConnection(host, port)
        conn.sock = sock
        try:
            conn.request("POST", "/v1/images/generations", body=json.dumps(BODY), headers=HEADERS)
            response = conn.getresponse()
            answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                errors.append(f"request: {exc!r}")
            return
        finally:
            conn.close()
        with lock:
            answers.append(answer)

    try:
        threads = [threading.Thread(target=pupil) for _ in range(CLASS_SIZE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert [status for status, _, _ in answers] == [200] * CLASS_SIZE
        assert all(json.loads(body)["data"] for _, _, body in answers)
        assert all(set(HEADER_NAMES) <= set(headers) for _, headers, _ in answers)
        assert min(int(h["x-ratelimit-remaining-requests"]) for _, h, _ in answers) == 250 - CLASS_SIZE
        stats = server.stats()
        assert stats["by_endpoint"] == {"POST /v1/images/generations": {"200": CLASS_SIZE}}  # nobody retried
    finally:
        server.stop()


def test_server_backlog_and_nodelay():
    server = make_server(Simulator(), port=0, quiet=True)
    assert server.request_queue_size == REQUEST_QUEUE_SIZE >= 128 and server.nodelay
    seen: list[int] = []
    finish = server.finish_request

    def finish_and_look(request, client_address):  # the accepted socket, before the server closes it
        finish(request, client_address)
        seen.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server.finish_request = finish_and_look  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/_simulator/stats"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen and seen[0] != 0
    finally:
        server.shutdown()
        server.server_close()
    old_style = make_server(Simulator(), port=0, quiet=True, backlog=5, nodelay=False)
    try:
        assert (old_style.request_queue_size, old_style.nodelay) == (5, False)
    finally:
        old_style.server_close()


def test_rate_limit_headers_on_every_served_answer(tmp_path):
    server = Served(tmp_path, "--rate-limit", "2", "--quiet")
    try:
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as c:
            seen = {}
            ok = c.images.with_raw_response.generate(**BODY)
            seen["200 json"] = ok.headers
            assert ok.parse().data
            streamed = c.images.with_raw_response.generate(**BODY, stream=True, partial_images=1)
            seen["200 sse"] = streamed.headers
            assert [e.type for e in streamed.parse()][-1] == "image_generation.completed"
            with pytest.raises(openai.RateLimitError) as limited:
                c.images.generate(**BODY)
            seen["429"] = limited.value.response.headers
            with pytest.raises(openai.BadRequestError) as bad:
                c.images.generate(**{**BODY, "size": "13x13"})
            seen["400"] = bad.value.response.headers
            with pytest.raises(openai.NotFoundError) as missing:
                c.models.retrieve("no-such-model")
            seen["404"] = missing.value.response.headers
            listed = c.models.with_raw_response.list()
            seen["models"] = listed.headers
            with pytest.raises(urllib.error.HTTPError) as unauthorized:
                urllib.request.urlopen(server.url + "/models", timeout=10)
            seen["401"] = unauthorized.value.headers
            unauthorized.value.close()
            for kind, headers in seen.items():
                assert all(headers.get(name) for name in HEADER_NAMES), kind
                exposed = {h.strip() for h in headers["access-control-expose-headers"].split(",")}
                assert set(HEADER_NAMES) <= exposed, kind  # browsers may read them
            assert seen["200 json"]["x-ratelimit-remaining-requests"] == "1"
            assert seen["429"]["x-ratelimit-remaining-images"] == "0" and seen["429"]["retry-after-ms"]
            assert {h["x-ratelimit-limit-requests"] for h in seen.values()} == {"2"}
            assert {h["x-ratelimit-limit-tokens"] for h in seen.values()} == {"8000000"}
    finally:
        server.stop()


def test_served_tokens_per_minute(tmp_path):
    server = Served(tmp_path, "--tpm", "600", "--quiet")
    try:
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as c:
            first = c.images.with_raw_response.generate(**BODY)
            cost = first.parse().usage.total_tokens
            assert first.headers["x-ratelimit-remaining-tokens"] == str(600 - cost)
            c.images.generate(**BODY)
            with pytest.raises(openai.RateLimitError) as info:
                c.images.generate(**BODY)
            err = info.value
            assert (err.code, err.type) == ("rate_limit_exceeded", "tokens")
            assert "on tokens per min (TPM): Limit 600, Used" in err.message and "Please try again in" in err.message
            assert 55 <= int(err.response.headers["retry-after"]) <= 60 and int(err.response.headers["retry-after-ms"])
            assert server.stats()["faults"] == {"rate_limited_tokens": 1}
    finally:
        server.stop()


def _raw_exchange(host: str, port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_bodies_it_will_not_read_get_a_clear_answer(tmp_path):
    """A huge declared body is refused before it is read; a malformed length is a 400; the server keeps serving."""
    server = Served(tmp_path, "--quiet")
    host, port = host_port(server)
    try:
        start = "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        huge = _raw_exchange(host, port, f"{start}Content-Length: {10**12}\r\n\r\n".encode())
        assert huge.startswith(b"HTTP/1.1 413") and b"Request too large" in huge
        bad = _raw_exchange(host, port, f"{start}Content-Length: many\r\n\r\n".encode())
        assert bad.startswith(b"HTTP/1.1 400") and b"Content-Length" in bad
        chunked = _raw_exchange(host, port, f"{start}Transfer-Encoding: chunked\r\n\r\n".encode(), b"zz\r\n")
        assert chunked.startswith(b"HTTP/1.1 400")
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as c:
            assert c.images.generate(**BODY).data
    finally:
        server.stop()
