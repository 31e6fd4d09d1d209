"""The teacher's proxy against odd and hostile input: any credentials, any body, any path, huge and slow bodies,
crafted files and a crowd of connections. Every answer is the API's JSON error shape with a 4xx status; nothing a
participant gets wrong reaches the backend, costs anything or echoes a credential."""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from dalle_kit import vocabulary
from dalle_kit.proxy.run import Proxy, start_proxy
from dalle_kit.simulator import Simulator

MAX_BODY = 64 * 1024
BODY_TIMEOUT = 0.5
LOW = {"model": "gpt-image-2", "size": "1024x1024", "quality": "low"}


class Room:
    """One proxy on the simulator for the module, a keep-alive client, and the participant's token."""

    def __init__(self, proxy: Proxy, sim: Simulator) -> None:
        self.proxy, self.sim = proxy, sim
        self.token = proxy.token(proxy.names[0])
        self.client = httpx2.Client(base_url=proxy.url.removesuffix("/v1"), timeout=30)
        parts = urlsplit(proxy.url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def auth(self, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **headers}

    def reached(self) -> int:
        """Requests that reached the simulator so far."""
        return int(self.sim.stats()["total"])


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Iterator[Room]:
    sim = Simulator()
    proxy = start_proxy(tmp_path_factory.mktemp("abuse") / "ledger.sqlite", students=2, budget_each=1000.0,
                        backend="simulator", simulator=sim, max_body=MAX_BODY, body_timeout=BODY_TIMEOUT)
    room = Room(proxy, sim)
    try:
        yield room
    finally:
        room.client.close()
        proxy.stop()


def _api_error(response: httpx2.Response, *statuses: int) -> dict[str, Any]:
    """The body's error object, after checking the status and the API's error shape."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    return error


def _raw(room: Room, data: bytes, *, read_timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the proxy closes it (or ``read_timeout`` passes)."""
    with socket.create_connection(room.address, timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _status_and_error(data: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"]


# -- credentials -----------------------------------------------------------------------------------------------

_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)


@pytest.fixture(scope="module")
def refusals(room) -> dict[str, bytes]:
    """The two 401 bodies: no token, and a token that is not this room's (no header value in either)."""
    missing = room.client.post("/v1/images/generations", json={"prompt": "x"})
    wrong = room.client.post("/v1/images/generations", json={"prompt": "x"},
                             headers={"Authorization": "Bearer dkp_not-a-token-of-this-room"})
    return {"missing_api_key": missing.content, "invalid_api_key": wrong.content}


@given(value=st.one_of(_HEADER_TEXT, _HEADER_TEXT.map(lambda t: "Bearer " + t),
                       _HEADER_TEXT.map(lambda t: "bearer  dkp_" + t), _HEADER_TEXT.map(lambda t: "Basic " + t)))
def test_any_authorization_header_is_refused_without_echo(room, refusals, value):
    before = room.reached()
    value = value.strip(" ")  # a header value never starts or ends with a space on the wire
    headers = {"Authorization": value} if value else {}
    for path in ("/v1/images/generations", "/v1/models"):
        if "images" in path:
            response = room.client.post(path, json={"prompt": "x", **LOW}, headers=headers)
        else:
            response = room.client.get(path, headers=headers)
        error = _api_error(response, 401)
        assert error["code"] in refusals and response.headers["www-authenticate"] == "Bearer"
        if "images" in path:
            assert response.content == refusals[error["code"]]  # the same words whatever was sent: no echo
    assert room.reached() == before


def test_credentials_in_odd_places_are_refused(room):
    for headers in ({"Authorization": "Bearer"}, {"Authorization": "Bearer    x"},
                    {"Authorization": "Bearer " + room.token + "x"}, {"Authorization": "Bearer " + room.token[:-1]},
                    {"Authorization": "Bearer " + room.token.upper()}, {"Authorization": room.token},
                    {"X-Api-Key": room.token}, {"Api-Key": room.token},
                    {"Authorization": "Bearer " + "A" * 60_000}):
        response = room.client.post("/v1/images/generations", json={"prompt": "x", **LOW}, headers=headers)
        assert response.status_code in (401, 431), headers
        if response.status_code == 401:
            assert room.token not in response.text and "A" * 100 not in response.text
    response = room.client.post(f"/v1/images/generations?api_key={room.token}", json={"prompt": "x", **LOW})
    _api_error(response, 401)


# -- bodies ----------------------------------------------------------------------------------------------------

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=12)
_KEYS = sorted(set(vocabulary.names("generate")) | set(vocabulary.names("edit")) | {"image", "mask", "images"})
_FIELDS = st.dictionaries(st.sampled_from(_KEYS), _JSON | st.sampled_from(["low", "1024x1024", "gpt-image-2", "auto"]),
                          max_size=6)


def _sent(room: Room, path: str, **kwargs: Any) -> None:
    """A request anyone could send: a 200 only if it reached the simulator; else a 4xx API error that did not."""
    before = room.reached()
    response = room.client.post(path, headers=room.auth(**kwargs.pop("headers", {})), **kwargs)
    if response.status_code == 200:
        assert room.reached() == before + 1
        return
    _api_error(response, 400, 404, 413, 415)
    assert room.reached() == before


@given(body=_JSON | _FIELDS, endpoint=st.sampled_from(["generations", "edits"]))
def test_any_json_body_is_an_api_error_or_a_real_answer(room, body, endpoint):
    _sent(room, f"/v1/images/{endpoint}", content=json.dumps(body).encode(),
          headers={"Content-Type": "application/json"})


@given(data=st.binary(max_size=2000), ctype=st.one_of(
    st.none(), st.sampled_from(["application/json", "text/plain", "multipart/form-data",
                                "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                                "application/json; charset=utf-16", "image/png", "application/vnd.api+json"]),
    _HEADER_TEXT.map(lambda t: t.strip(" "))), endpoint=st.sampled_from(["generations", "edits"]))
def test_any_bytes_with_any_content_type_is_an_api_error(room, data, ctype, endpoint):
    _sent(room, f"/v1/images/{endpoint}", content=data, headers={} if ctype is None else {"Content-Type": ctype})


_PART_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(["low", "1024x1024", "gpt-image-2", "2", "true", "-1"]))


@given(values=st.dictionaries(st.sampled_from(_KEYS + ["image[]", "images[]", "x"]), _PART_VALUES, max_size=6),
       files=st.lists(st.tuples(st.sampled_from(["image", "image[]", "mask", "other"]), st.binary(max_size=300),
                                st.sampled_from(["image/png", "image/jpeg", "text/plain", "application/zip"])),
                      max_size=3),
       endpoint=st.sampled_from(["generations", "edits"]))
def test_any_multipart_form_is_an_api_error(room, values, files, endpoint):
    _sent(room, f"/v1/images/{endpoint}", data=values,
          files=[(name, (f"{name}.png", data, ctype)) for name, data, ctype in files] or {"x": ("x", b"", "a/b")})


@given(garbage=st.binary(max_size=500))
def test_a_broken_multipart_body_is_an_api_error(room, garbage):
    body = b"--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n" + garbage
    _sent(room, "/v1/images/edits", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})


# -- paths and methods -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/v1/chat/completions", 404), ("POST", "/v1/responses", 404), ("GET", "/v1/files", 404),
    ("POST", "/v1/files", 404), ("POST", "/v1/images/variations", 404), ("POST", "/v1/batches", 404),
    ("GET", "/", 404), ("GET", "/admin", 404), ("GET", "/_simulator/stats", 404), ("POST", "/_simulator/reset", 404),
    ("GET", "/v1/images/generations", 405), ("PUT", "/v1/images/edits", 405), ("DELETE", "/v1/models", 405),
    ("POST", "/v1/models", 405), ("GET", "/v1/images/generations/../../../etc/passwd", 404),
    ("GET", "/v1/%2e%2e/%2e%2e/etc/passwd", 404), ("GET", "/v1//images/generations", 404),
])
def test_only_the_image_routes_exist(room, method, path, status):
    response = room.client.request(method, path, headers=room.auth())
    error = _api_error(response, status)
    assert room.token not in response.text and "Traceback" not in error["message"]


@pytest.mark.parametrize("target", [b"/../../etc/passwd", b"/v1/images/../../../etc/passwd", b"*",
                                    b"/v1/models/..%2f..%2f..%2fetc%2fpasswd", b"http://evil.example/v1/images/edits"])
def test_path_traversal_on_the_wire(room, target):
    answer = _raw(room, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + room.token.encode()
                  + b"\r\nConnection: close\r\n\r\n")
    status, _ = _status_and_error(answer) if answer.split(b" ", 2)[1] != b"400" else (400, {})
    assert status in (400, 404), answer[:200]
    assert b"root:" not in answer


def test_a_model_id_of_any_shape_is_a_404(room):
    for model_id in ("../../etc/passwd", "dall-e-3%00", "x" * 5000, "gpt-image-2/../../admin", "🙂"):
        response = room.client.get(f"/v1/models/{model_id}", headers=room.auth())
        assert response.status_code in (200, 404, 414), model_id
        if response.status_code == 404:
            _api_error(response, 404)


# -- size and time limits --------------------------------------------------------------------------------------


def test_a_declared_huge_body_is_refused_unread(room):
    head = (f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {room.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {10**12}\r\n\r\n").encode()
    started = time.monotonic()
    status, error = _status_and_error(_raw(room, head + b'{"prompt": "'))  # nothing more is ever sent
    assert status == 413 and error["code"] == "request_too_large" and time.monotonic() - started < BODY_TIMEOUT


def test_a_chunked_body_past_the_limit_is_refused(room):
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(MAX_BODY // 1000 + 10):
            yield b"a" * 1000
        yield b'"}'

    before = room.reached()
    response = room.client.post("/v1/images/generations", content=chunks(),
                                headers=room.auth(**{"Content-Type": "application/json"}))
    assert _api_error(response, 413)["code"] == "request_too_large" and room.reached() == before


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", "99999999999999999999999999"])
def test_a_nonsense_content_length_is_refused(room, length):
    head = (f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {room.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").encode()
    answer = _raw(room, head + b'{"prompt": "x"}')
    assert int(answer.split(b" ", 2)[1]) in (400, 413), answer[:200]


def test_a_slow_body_is_cut_off_with_408(room):
    before = room.reached()
    head = (f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {room.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n").encode()
    started = time.monotonic()
    status, error = _status_and_error(_raw(room, head + b'{"prompt": "a sl', read_timeout=BODY_TIMEOUT * 10))
    took = time.monotonic() - started
    assert status == 408 and error["code"] == "request_timeout"
    assert BODY_TIMEOUT * 0.8 < took < BODY_TIMEOUT * 4
    assert room.reached() == before
    chunked = (f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {room.token}\r\n"
               f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"pro\r\n").encode()
    status, _ = _status_and_error(_raw(room, chunked, read_timeout=BODY_TIMEOUT * 10))
    assert status == 408


# -- crafted files ---------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG header declaring ``width`` x ``height`` pixels, with a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 1000, 9))
            + _chunk(b"IEND", b""))


def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("image.png", b"\0" * 100_000)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "data", "ctype"), [
    ("bomb", _png_bomb(), "image/png"),
    ("wide bomb", _png_bomb(65_536 * 4, 1), "image/png"),
    ("truncated", _png()[:60], "image/png"),
    ("cut in its data", _png((512, 512))[: len(_png((512, 512))) // 2], "image/png"),
    ("text", b"this is not an image at all", "image/png"),
    ("zip", _zip(), "image/png"),
    ("zip as zip", _zip(), "application/zip"),
    ("svg", b"<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>", "image/svg+xml"),
    ("empty", b"", "image/png"),
])
def test_a_crafted_file_never_reaches_the_backend(room, name, data, ctype):
    before = room.reached()
    for field, extra in (("image", {}), ("mask", {"image": ("ok.png", _png(), "image/png")})):
        response = room.client.post("/v1/images/edits", headers=room.auth(),
                                    data={"prompt": "make it blue", **LOW},
                                    files={field: (f"{name}.png", data, ctype), **extra})
        _api_error(response, 400, 413)
    assert room.reached() == before
    ledger = room.proxy.ledger.totals()
    assert ledger["reserved"] == 0


def test_a_data_url_bomb_in_json_never_reaches_the_backend(room):
    import base64

    before = room.reached()
    url = "data:image/png;base64," + base64.b64encode(_png_bomb()).decode()
    response = room.client.post("/v1/images/edits", headers=room.auth(),
                                json={"prompt": "x", "images": [{"image_url": url}], **LOW})
    _api_error(response, 400)
    response = room.client.post("/v1/images/edits", headers=room.auth(),
                                json={"prompt": "x", "images": [{"file_id": "file-123"}], **LOW})
    assert "Files API" in _api_error(response, 400)["message"]
    assert room.reached() == before


# -- a crowd -------------------------------------------------------------------------------------------------------


def test_many_connections_at_once_do_not_crash_it(room):
    count = 150
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        kind = i % 3
        if kind == 0:  # a half-open connection that says nothing
            with socket.create_connection(room.address, timeout=10) as sock:
                time.sleep(0.2)
                sock.close()
            return
        token = room.token if kind == 1 else "dkp_wrong"
        body = json.dumps({"prompt": "x", "size": "13x7", "model": "gpt-image-2"}).encode()
        request = (f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                   ).encode() + body
        answer = _raw(room, request)
        with lock:
            statuses.append(int(answer.split(b" ", 2)[1]))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(set(statuses)) == [400, 401] and len(statuses) == count - count // 3
    assert room.client.get("/v1/models", headers=room.auth()).status_code == 200  # still serving
