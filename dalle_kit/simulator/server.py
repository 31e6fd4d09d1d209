"""The simulator as a loopback HTTP server (stdlib ``ThreadingHTTPServer``): ``dalle-kit serve`` / ``python -m
dalle_kit.simulator``.

It binds 127.0.0.1 unless told otherwise (and warns loudly on stderr for any non-loopback address, since it
accepts every key), prints one line per request (time, method, path without query, status, milliseconds; never
headers or keys), streams server-sent events by writing and flushing each one, and stops on Ctrl+C.

Built for a class at once: a listen backlog of 256 (socketserver's default of 5 makes the 6th simultaneous client's
connection attempt wait about a second for a retransmit) and ``TCP_NODELAY`` on every accepted socket (otherwise
Nagle's algorithm and the client's delayed ACK hold the body of a keep-alive answer back about 40 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .account import ACCOUNTS
from .app import Core
from .faults import parse_fail
from .models import shutdown_date
from .ratelimit import HEADER_NAMES
from .transport import Simulator

__all__ = ["REQUEST_QUEUE_SIZE", "build_parser", "make_server", "serve_main"]

#: The listen backlog: room for a whole class connecting at the same moment.
REQUEST_QUEUE_SIZE = 256
_EXPOSED = ("x-request-id", "retry-after", "retry-after-ms", "openai-processing-ms", "openai-version", *HEADER_NAMES)
_CORS = {"access-control-allow-origin": "*", "access-control-expose-headers": ", ".join(_EXPOSED)}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = REQUEST_QUEUE_SIZE
    core: Core
    quiet: bool
    nodelay: bool = True


class _Server6(_Server):
    address_family = socket.AF_INET6


#: The largest body the API could take: 16 images of 50 MB, a 4 MB mask, and room for the form around them.
MAX_BODY = 16 * 50 * 1024 * 1024 + 4 * 1024 * 1024 + 1024 * 1024


class _BadBody(Exception):
    """A body the server will not read: an answer status and the API-style message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "dalle_kit-simulator"
    timeout = 60  # seconds a client may stay silent mid-request before its connection is closed

    def setup(self) -> None:
        super().setup()
        if self.server.nodelay:  # answers leave at once, not after the client's delayed ACK of the headers
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # silence the default access log
        pass

    def _log(self, status: str, started: float) -> None:
        if not self.server.quiet:
            ms = (time.perf_counter() - started) * 1000
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp} {self.command} {self.path.split('?', 1)[0]} {status} {ms:.0f}ms", flush=True)

    def _body(self) -> bytes:
        """The request body, at most ``MAX_BODY`` bytes; ``_BadBody`` for a size that cannot be read."""
        too_large = _BadBody(413, f"Request too large: the body may be at most {MAX_BODY:,} bytes.")
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                try:
                    size = int(self.rfile.readline(64).split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadBody(400, "Malformed chunked body.") from None
                if size < 0 or total + size > MAX_BODY:
                    raise too_large if size >= 0 else _BadBody(400, "Malformed chunked body.")
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                total += size
                self.rfile.readline(64)
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise _BadBody(400, "Invalid Content-Length header.") from None
        if length < 0:
            raise _BadBody(400, "Invalid Content-Length header.")
        if length > MAX_BODY:
            raise too_large
        return self.rfile.read(length) if length else b""

    def _refuse_body(self, err: _BadBody, started: float) -> None:
        payload = json.dumps({"error": {"message": str(err), "type": "invalid_request_error", "param": None,
                                        "code": None}}).encode()
        self.close_connection = True
        self.send_response(err.status)
        for key, value in {**_CORS, "content-type": "application/json", "content-length": str(len(payload)),
                           "connection": "close"}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self._log(str(err.status), started)

    def do_OPTIONS(self) -> None:  # CORS preflight for browsers
        self.send_response(204)
        for key, value in {**_CORS, "access-control-allow-methods": "GET, POST, OPTIONS",
                           "access-control-allow-headers": "*", "access-control-max-age": "600",
                           "content-length": "0"}.items():
            self.send_header(key, value)
        self.end_headers()

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._body()
        except _BadBody as err:
            self._refuse_body(err, started)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = self.headers.get("host") or "{}:{}".format(*_address(self.server))
        reply = self.server.core.handle(self.command, self.path, headers, body, f"http://{host}")
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            self._log("dropped", started)
            return
        try:
            self.send_response(reply.status)
            for key, value in {**_CORS, **reply.headers}.items():
                self.send_header(key, value)
            if reply.events is None:
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                self._log(str(reply.status), started)
                return
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            count = 0
            for delay, chunk in reply.events:
                if delay:
                    time.sleep(delay)
                self.wfile.write(chunk)
                self.wfile.flush()
                count += 1
            self._log(f"{reply.status} stream({count} events)", started)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self._log(f"{reply.status} client went away", started)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _address(server: _Server) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return (host.decode() if isinstance(host, (bytes, bytearray)) else host), int(port)


def make_server(core: Core, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False,
                backlog: int = REQUEST_QUEUE_SIZE, nodelay: bool = True) -> _Server:
    """A bound, listening (not yet serving) server; ``port=0`` picks a free port (see ``server.server_address``).

    ``backlog`` and ``nodelay`` exist for benchmarks (``benchmarks/served_class.py``) to show what they buy.
    """
    cls = _Server6 if ":" in host else _Server
    server = cls((host.strip("[]"), port), _Handler, bind_and_activate=False)
    server.request_queue_size = backlog
    server.nodelay = nodelay
    try:
        server.server_bind()
        server.server_activate()
    except BaseException:
        server.server_close()
        raise
    server.core = core
    server.quiet = quiet
    return server


def _latency(text: str) -> float | tuple[float, float]:
    lo, sep, hi = text.partition(":")
    try:
        return (float(lo), float(hi)) if sep else float(lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (0.5) or a range (0.2:1.5), got {text!r}") from None


def _fail(text: str) -> dict[int | str, float]:
    try:
        return parse_fail(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shutdown(text: str) -> tuple[str, str | None]:
    model, sep, date = text.partition("=")
    problem = argparse.ArgumentTypeError(f"expected MODEL=YYYY-MM-DD or MODEL=none, got {text!r}")
    if not sep or not model.strip():
        raise problem
    try:
        value = shutdown_date(date)
    except ValueError:
        raise problem from None
    return model.strip(), value.isoformat() if value else None


def build_parser(prog: str = "dalle-kit serve") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Serve the offline OpenAI Images API simulator over HTTP. "
                                "Point any OpenAI client at http://HOST:PORT/v1 with any API key.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others are warned about)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--latency", type=_latency, default=0.0, metavar="S",
                   help="seconds before each image answer, or a uniform range LOW:HIGH")
    p.add_argument("--rate-limit", type=int, default=None, metavar="IPM", help="images per minute before 429")
    p.add_argument("--tpm", type=int, default=None, metavar="TPM",
                   help="tokens per minute before 429 (a request costs its usage.total_tokens)")
    p.add_argument("--account", choices=ACCOUNTS, default="ok",
                   help="refuse image requests as an account in this state would (default ok)")
    p.add_argument("--shutdown-date", type=_shutdown, action="append", default=[], metavar="MODEL=DATE",
                   help="report this shutdown_date for MODEL in /v1/models (DATE 'none': not announced); repeatable")
    p.add_argument("--unlisted", action="append", default=[], metavar="MODEL",
                   help="leave MODEL out of /v1/models but still serve it; repeatable")
    p.add_argument("--fail", type=_fail, default=None, metavar="SPEC",
                   help="injected faults per request, e.g. 429:0.25,500:0.05,drop:0.1")
    p.add_argument("--seed", type=int, default=0, help="seed for pictures, faults and latency (default 0)")
    p.add_argument("--legacy", action="store_true", help="also serve dall-e-2/dall-e-3 with their old rules")
    p.add_argument("--partial-delay", type=float, default=0.0, metavar="S", help="seconds before each stream event")
    p.add_argument("--today", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="pretend it is this date when deciding which models are retired")
    p.add_argument("--quiet", action="store_true", help="do not print a line per request")
    return p


def serve_main(argv: list[str] | None = None) -> int:
    """Parse the serve options, bind, print the address and serve until interrupted. Returns an exit code."""
    args = build_parser().parse_args(argv)
    for flag, value in (("--rate-limit", args.rate_limit), ("--tpm", args.tpm)):
        if value is not None and value < 1:
            print(f"error: {flag} must be at least 1", file=sys.stderr)
            return 2
    try:
        sim = Simulator(seed=args.seed, latency=args.latency, rate_limit=args.rate_limit, tpm=args.tpm,
                        fail=args.fail, legacy=args.legacy, partial_delay=args.partial_delay, today=args.today,
                        account=args.account, shutdown_dates=dict(args.shutdown_date), unlisted=args.unlisted)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        bar = "!" * 78
        print(f"{bar}\nWARNING: binding {args.host}, not a loopback address. The simulator accepts ANY API key and has "
              f"no access control:\nanyone who can reach this address can use it. Use --host 127.0.0.1 unless you "
              f"mean it.\n{bar}", file=sys.stderr, flush=True)
    try:
        server = make_server(sim, args.host, args.port, quiet=args.quiet)
    except OSError as exc:
        print(f"error: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = _address(server)
    shown = f"[{host}]" if ":" in str(host) else host
    extras = [f"seed {args.seed}"] + (["legacy"] if args.legacy else []) + ([f"fail {args.fail}"] if args.fail else [])
    extras += ([f"rate limit {args.rate_limit}/min"] if args.rate_limit else []) + \
        ([f"{args.tpm} tokens/min"] if args.tpm else []) + ([f"account {args.account}"] if args.account != "ok" else [])
    print(f"dalle_kit simulator (SIMULATED images, {', '.join(extras)}) on http://{shown}:{port}/v1 "
          f"- stats at http://{shown}:{port}/_simulator/stats - Ctrl+C to stop", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0
