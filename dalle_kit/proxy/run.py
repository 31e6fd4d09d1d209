"""Opening a room (ledger, participants, backend) and serving it with uvicorn: in the foreground for
``dalle-kit proxy``, or in a background thread for a notebook or a test (:func:`start_proxy`)."""

from __future__ import annotations

import collections
import os
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import uvicorn

from ..errors import DalleKitError, InvalidArgument
from ..kit_support import clean_key
from ..pacing import Pacer
from ..simulator.http_limits import MAX_BODY
from .app import Room, make_app
from .backends import Backend, ReplayBackend, SdkBackend, simulator_backend
from .gate import FairGate
from .ledger import Ledger, Standing
from .timely import TimelyH11Protocol
from .tokens import default_names, new_token, read_names, token_hash, write_tokens

__all__ = ["DEFAULT_PORT", "Proxy", "make_backend", "open_room", "start_proxy"]

DEFAULT_PORT = 8765




def make_backend(kind: str, *, replay: str | os.PathLike[str] | None = None, strict: bool = False,
                 upstream: str | None = None, api_key: str | None = None, simulator: Any = None,
                 timeout: float = 300.0) -> tuple[Backend, str]:
    """The backend named ``kind`` ("openai", "simulator", "replay") and the secret to scrub (the key, or "")."""
    if kind == "simulator":
        return simulator_backend(simulator), ""
    if kind == "replay":
        from ..replay import Pack

        if replay is None:
            raise InvalidArgument("--replay needs the path of a pack (dalle-kit pack record, or kit.export_pack)")
        return ReplayBackend(Pack.load(replay), None if strict else simulator_backend(simulator)), ""
    if kind != "openai":
        raise InvalidArgument(f"backend {kind!r} is not one of openai, simulator, replay")
    key = clean_key(api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"), "OPENAI_API_KEY")
    if key is None:
        raise InvalidArgument("the proxy forwards with the teacher's key: set OPENAI_API_KEY in the proxy's "
                              "environment, or rehearse with --simulator or --replay PACK")
    client = openai.AsyncOpenAI(api_key=key, base_url=upstream or os.environ.get("OPENAI_BASE_URL") or None,
                                max_retries=2, timeout=timeout)
    return SdkBackend(client, kind="openai", secret=key), key


def _roster(names: Iterable[str] | None, students: int | None, names_file: str | os.PathLike[str] | None) -> list[str]:
    if names is not None:
        return list(names)
    if names_file is not None:
        return read_names(names_file)
    return default_names(students) if students else []


def open_room(ledger_path: str | os.PathLike[str], *, students: int | None = None,
              names: Iterable[str] | None = None, names_file: str | os.PathLike[str] | None = None,
              budget_each: float | None = None, tokens_path: str | os.PathLike[str] | None = None,
              ) -> tuple[Ledger, dict[str, str]]:
    """The room's ledger with every participant asked for, and the tokens of those new to it (name -> token).

    Participants already in the ledger keep their tokens and caps (change caps with ``dalle-kit proxy cap``). New
    tokens are written to ``tokens_path`` (mode 0600) when given; the ledger keeps only their hashes."""
    ledger = Ledger(ledger_path)
    try:
        wanted = _roster(names, students, names_file)
        known = set(ledger.names())
        new = [n for n in wanted if n not in known]
        tokens: dict[str, str] = {}
        if new:
            if budget_each is None:
                raise InvalidArgument("new participants need a budget: --budget-each USD")
            tokens = {n: new_token() for n in new}
            if tokens_path is not None:
                write_tokens(tokens_path, tokens.items())
            ledger.add({n: token_hash(t) for n, t in tokens.items()}, budget_each)
        if not len(ledger):
            raise InvalidArgument("the room has no participants: give --students N or --names FILE")
        if ledger.meta("room") is None:
            ledger.set_meta("room", uuid.uuid4().hex)
        ledger.recover()
    except BaseException:
        ledger.close()
        raise
    return ledger, tokens


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def make_room(ledger: Ledger, backend: Backend, *, secret: str = "", concurrency: int = 8, per_person: int = 2,
              images_per_minute: float | None = None, tokens_per_minute: float | None = None,
              max_body: int = MAX_BODY, body_timeout: float = 30.0, log: Callable[[str], None] = _stderr) -> Room:
    """The room served: ``concurrency`` requests in flight to the backend, ``per_person`` of them for one
    participant; bodies of at most ``max_body`` bytes arriving within ``body_timeout`` seconds."""
    return Room(ledger=ledger, backend=backend, room_id=ledger.meta("room") or "room",
                gate=FairGate(slots=concurrency, per_person=per_person),
                pacer=Pacer(images_per_minute=images_per_minute, tokens_per_minute=tokens_per_minute),
                max_body=max_body, body_timeout=body_timeout, log=log, secret=secret)


def uvicorn_config(room: Room, host: str, port: int | None = None) -> uvicorn.Config:
    """uvicorn as the proxy runs it: no access log (the proxy logs by participant), bounded connections."""
    return uvicorn.Config(make_app(room), host=host, port=port or DEFAULT_PORT, log_level="warning",
                          access_log=False, limit_concurrency=512, backlog=512, timeout_keep_alive=30,
                          h11_max_incomplete_event_size=64 * 1024, server_header=False, date_header=True,
                          http=TimelyH11Protocol,
                          lifespan="on")


@dataclass
class Proxy:
    """A proxy serving in a background thread. ``url`` is the participants' ``base_url``."""

    url: str
    ledger: Ledger
    backend: Backend
    room: Room
    _server: uvicorn.Server
    _thread: threading.Thread
    _tokens: dict[str, str]
    _socket: socket.socket
    lines: collections.deque[str]
    _scratch: tempfile.TemporaryDirectory[str] | None = None

    def __repr__(self) -> str:
        return f"Proxy(url={self.url!r}, participants={len(self.ledger)}, backend={self.backend.kind!r})"

    def token(self, name: str) -> str:
        """The token of a participant added when this proxy started (tokens are not kept anywhere else)."""
        return self._tokens[name]

    @property
    def names(self) -> list[str]:
        return self.ledger.names()

    def standings(self) -> list[Standing]:
        return self.ledger.standings()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        self.ledger.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(ledger: str | os.PathLike[str] | None = None, *, students: int | None = None,
                names: Iterable[str] | None = None,
                budget_each: float | None = None, backend: str = "simulator", host: str = "127.0.0.1",
                port: int = 0, tokens_path: str | os.PathLike[str] | None = None,
                log: Callable[[str], None] | None = None, **options: Any) -> Proxy:
    """Start a proxy in a background thread (``port=0``: a free port) and wait until it answers.

    ``ledger=None`` keeps the ledger in a temporary folder, removed at ``stop()`` (a rehearsal). Log lines go to
    ``log``, else to ``proxy.lines`` (the last 500).

    ``options`` go to :func:`make_backend` (``replay``, ``strict``, ``upstream``, ``api_key``, ``simulator``) and
    to :func:`make_room` (``concurrency``, ``per_person``, ``images_per_minute``, ``tokens_per_minute``)."""
    backend_options = {k: options.pop(k) for k in ("replay", "strict", "upstream", "api_key", "simulator")
                       if k in options}
    scratch = None
    if ledger is None:
        scratch = tempfile.TemporaryDirectory(prefix="dalle-kit-room-")
        ledger = Path(scratch.name) / "ledger.sqlite"
    lines: collections.deque[str] = collections.deque(maxlen=500)
    book, tokens = open_room(ledger, students=students, names=names, budget_each=budget_each,
                             tokens_path=tokens_path)
    try:
        served, secret = make_backend(backend, **backend_options)
        room = make_room(book, served, secret=secret, log=log or lines.append, **options)
    except BaseException:
        book.close()
        raise
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (with proto 0, Nagle and
    # the client's delayed ACK hold each answer on a kept-alive connection back ~40 ms)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host.strip("[]"), port))
    server = uvicorn.Server(uvicorn_config(room, host, sock.getsockname()[1]))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="dalle-kit-proxy", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            book.close()
            raise DalleKitError("the proxy did not start (see the log above)")
        threading.Event().wait(0.01)
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return Proxy(f"http://{shown}:{sock.getsockname()[1]}/v1", book, served, room, server, thread, tokens, sock,
                 lines, scratch)


def tokens_of(path: str | os.PathLike[str]) -> dict[str, str]:
    """The tokens file the proxy wrote (name -> token), for a teacher's notebook or a test."""
    from .tokens import read_tokens

    return read_tokens(Path(path))
