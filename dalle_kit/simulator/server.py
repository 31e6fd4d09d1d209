"""The simulator as a loopback HTTP server (stdlib ``ThreadingHTTPServer``): ``dalle-kit serve`` / ``python -m
dalle_kit.simulator``.

It binds 127.0.0.1 unless told otherwise (and warns loudly on stderr for any non-loopback address, since it
accepts every key), prints one line per request (time, method, path without query, status, milliseconds; never
headers or keys), streams server-sent events by writing and flushing each one, and stops on Ctrl+C.

Built for a class at once: a listen backlog of 256 (socketserver's default of 5 makes the 6th simultaneous client's
connection attempt wait about a second for a retransmit) and ``TCP_NODELAY`` on every accepted socket (otherwise
Nagle's algorithm and the client's delayed ACK hold the body of a keep-alive answer back about 40 ms).

Built to survive any one client (:mod:`.http_limits`, :mod:`.handler`): a request must arrive within 30 s of its
first byte (408), an idle connection is closed after 60 s, bodies over the API's maximum are refused unread (413),
at most 256 connections are served at once (503 beyond), and every malformed request gets the API's JSON error body
(400, 413, 414, 431, 505), never a traceback. ``--request-timeout``, ``--idle-timeout`` and ``--max-connections``
change the limits. ``GET /_simulator/stats`` also reports ``server``: live ``threads`` and ``connections``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from ..hosts import is_loopback, port_type
from .account import ACCOUNTS
from .app import Core
from .faults import parse_fail
from .handler import REQUEST_QUEUE_SIZE, Handler, Server, Server6, address
from .http_limits import IDLE_TIMEOUT, MAX_BODY, MAX_CONNECTIONS, REQUEST_TIMEOUT
from .models import shutdown_date
from .transport import Simulator

__all__ = ["MAX_BODY", "REQUEST_QUEUE_SIZE", "build_parser", "make_server", "serve_main"]




def make_server(core: Core, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False,
                backlog: int = REQUEST_QUEUE_SIZE, nodelay: bool = True, max_connections: int = MAX_CONNECTIONS,
                request_timeout: float = REQUEST_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT) -> Server:
    """A bound, listening (not yet serving) server; ``port=0`` picks a free port (see ``server.server_address``).

    ``backlog`` and ``nodelay`` exist for benchmarks (``benchmarks/served_class.py``) to show what they buy; the
    limits are described in :mod:`.http_limits`.
    """
    cls = Server6 if ":" in host else Server
    server = cls((host.strip("[]"), port), Handler, bind_and_activate=False)
    server.request_queue_size = backlog
    server.nodelay = nodelay
    server.max_connections = max_connections
    server.request_timeout = request_timeout
    server.idle_timeout = idle_timeout
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


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def build_parser(prog: str = "dalle-kit serve") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Serve the offline OpenAI Images API simulator over HTTP. "
                                "Point any OpenAI client at http://HOST:PORT/v1 with any API key.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others are warned about)")
    p.add_argument("--port", type=port_type(free=True), default=8000, help="port (default 8000; 0 picks a free one)")
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
    p.add_argument("--batch-seconds-per-line", type=float, default=0.01, metavar="S",
                   help="seconds each batch step (validating, one line, finalizing) takes (default 0.01)")
    p.add_argument("--batch-fail-line", action="append", default=[], metavar="ID",
                   help="fail this batch line with a 500 (a custom_id, or a 1-based line number); repeatable")
    p.add_argument("--batch-fail-rate", type=float, default=0.0, metavar="P",
                   help="fail this share of batch lines with a 500 (seeded; default 0)")
    p.add_argument("--file-max-bytes", type=_positive(int), default=200 * 1024 * 1024, metavar="N",
                   help="largest upload to /v1/files, in bytes (default 200 MB; beyond, 413)")
    p.add_argument("--quiet", action="store_true", help="do not print a line per request")
    p.add_argument("--request-timeout", type=_positive(float), default=REQUEST_TIMEOUT, metavar="S",
                   help=f"seconds a request may take to arrive, from its first byte (default {REQUEST_TIMEOUT:g}; 408)")
    p.add_argument("--idle-timeout", type=_positive(float), default=IDLE_TIMEOUT, metavar="S",
                   help=f"seconds of silence before an idle connection is closed (default {IDLE_TIMEOUT:g})")
    p.add_argument("--max-connections", type=_positive(int), default=MAX_CONNECTIONS, metavar="N",
                   help=f"connections served at once; beyond, 503 (default {MAX_CONNECTIONS})")
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
                        account=args.account, shutdown_dates=dict(args.shutdown_date), unlisted=args.unlisted,
                        batch_seconds_per_line=args.batch_seconds_per_line,
                        batch_fail_lines={int(x) if x.isdigit() else x for x in args.batch_fail_line},
                        batch_fail_rate=args.batch_fail_rate, file_max_bytes=args.file_max_bytes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        bar = "!" * 78
        print(f"{bar}\nWARNING: binding {args.host}, not a loopback address. The simulator accepts ANY API key and has "
              f"no access control:\nanyone who can reach this address can use it. Use --host 127.0.0.1 unless you "
              f"mean it.\n{bar}", file=sys.stderr, flush=True)
    try:
        server = make_server(sim, args.host, args.port, quiet=args.quiet, max_connections=args.max_connections,
                             request_timeout=args.request_timeout, idle_timeout=args.idle_timeout)
    except OSError as exc:
        print(f"error: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = address(server)
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
