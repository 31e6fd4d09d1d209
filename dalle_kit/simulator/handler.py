"""The HTTP machinery of ``dalle-kit serve``: a thread per connection (at most ``max_connections``) and the handler
that reads one request within its limits (:mod:`.http_limits`), asks the :class:`~.app.Core` and writes the answer.

Every refusal, even of a request that is not HTTP at all, is the API's JSON error body with a fitting status; a
client's mistake never prints a traceback (a simulator bug still does, on stderr). The log line per request shows
time, method, path without query, status and milliseconds, escaped; never headers, so never a key.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import Core, Reply
from .forms import ApiError
from .http_limits import (
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT,
    DeadlineReader,
    check_length,
    error_body,
    linger,
    read_body,
)
from .ratelimit import HEADER_NAMES

__all__ = ["REQUEST_QUEUE_SIZE", "Handler", "Server", "Server6", "address"]

#: The listen backlog: room for a whole class connecting at the same moment.
REQUEST_QUEUE_SIZE = 256
_EXPOSED = ("x-request-id", "retry-after", "retry-after-ms", "openai-processing-ms", "openai-version", *HEADER_NAMES)
_CORS = {"access-control-allow-origin": "*", "access-control-expose-headers": ", ".join(_EXPOSED)}


_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(32), 127]}


def _printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line: control and non-ASCII characters escaped, at most ``limit`` characters."""
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii").translate(_CONTROLS)


_OVERLOADED = error_body(ApiError(503, "The server is overloaded or not ready yet.", type="server_error"))


class Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` of them; beyond, 503 from the accepting thread."""

    daemon_threads = True
    request_queue_size = REQUEST_QUEUE_SIZE
    core: Core
    quiet: bool
    nodelay: bool = True
    max_connections: int = MAX_CONNECTIONS
    request_timeout: float = REQUEST_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    linger: float = 1.0  # seconds to read what a refused client still sends before closing

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = 0  # connections being served now
        self._count_lock = threading.Lock()

    def log(self, line: str) -> None:
        if not self.quiet:
            print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    def load(self) -> dict[str, Any]:
        """What the server holds now (``GET /_simulator/stats`` over HTTP shows it as ``server``)."""
        return {"threads": threading.active_count(), "connections": self.connections,
                "max_connections": self.max_connections, "request_timeout": self.request_timeout,
                "idle_timeout": self.idle_timeout}

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            admitted = self.connections < self.max_connections
            self.connections += admitted
        if not admitted:
            self._overloaded(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the place back (socketserver closes the socket)
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._count_lock:
            self.connections -= 1

    def _overloaded(self, request: socket.socket) -> None:
        """503 without reading the request: the accepting thread must not wait for anybody."""
        head = (f"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                f"content-length: {len(_OVERLOADED)}\r\nretry-after: 1\r\nconnection: close\r\n"
                f"access-control-allow-origin: *\r\n\r\n").encode()
        try:
            request.setblocking(False)
            request.send(head + _OVERLOADED)  # a fresh socket's send buffer takes it whole
            request.shutdown(socket.SHUT_WR)
            request.recv(65536)  # whatever already arrived, so closing sends no reset
        except OSError:
            pass
        finally:
            request.close()
        self.log(f"- - 503 overloaded ({self.max_connections} connections open)")

    def shutdown_request(self, request: Any) -> None:
        linger(request, self.linger)
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (OSError, ApiError)):  # the client went away or stalled: not our mistake
            return
        super().handle_error(request, client_address)  # a server mistake: traceback on stderr


class Server6(Server):
    address_family = socket.AF_INET6


#: Short API-style messages for the requests the stdlib's parser refuses (it passes its own reason along).
_REFUSALS = {
    400: "Invalid HTTP request: {reason}.",
    414: "Request line too long: it may be at most 65,536 bytes.",
    431: "Request header fields too large ({reason}): at most 100 headers of at most 65,536 bytes each.",
    505: "HTTP version not supported ({reason}): use HTTP/1.1.",
}
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_STATS = re.compile(r"/_simulator/stats/?$")


class Handler(BaseHTTPRequestHandler):
    """One connection: requests read within the limits, answered by ``server.core``, refusals as API errors."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a request line without a version gets a status line back
    server: Server
    server_version = "dalle_kit-simulator"
    timeout = IDLE_TIMEOUT  # the server's idle_timeout replaces it in setup()
    reader: DeadlineReader
    _answered = False
    _started = 0.0

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)
        if self.server.nodelay:  # answers leave at once, not after the client's delayed ACK of the headers
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile.close()  # the plain reader, replaced by one that keeps the request's deadline
        self.reader = DeadlineReader(self.connection, self.server.idle_timeout, self.server.request_timeout)
        self.rfile = io.BufferedReader(self.reader, 65536)

    def log_message(self, format: str, *args: Any) -> None:  # silence the default access log
        pass

    def _log(self, status: str) -> None:
        if not self.server.quiet:
            ms = (time.perf_counter() - self._started) * 1000
            path = _printable((self.path or "").split("?", 1)[0])
            self.server.log(f"{_printable(self.command or '-', 32)} {path or '-'} {status} {ms:.0f}ms")

    def handle_one_request(self) -> None:
        """The stdlib's, plus: any method token goes to the simulator, every refusal is an API error body, a late
        request is a 408, and no client mistake ends in a traceback."""
        self._answered, self.command, self.path, self.requestline = False, "", "", ""
        self.request_version = self.default_request_version
        self._started = time.perf_counter()
        try:
            self.raw_requestline = self.rfile.readline(65537)
            self._started = time.perf_counter()
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if not _METHOD.fullmatch(self.command):
                self.send_error(400, f"bad method {self.command[:40]!r}")
                return
            self._serve()
            self.wfile.flush()
        except TimeoutError:  # silent between requests, or an answer the client would not take: just close
            self.close_connection = True
        except ApiError as err:  # only reading raises it (the core answers its own): late (408) or unreadable
            self._refuse(err)
        except OSError:  # the client went away
            self.close_connection = True

    def parse_request(self) -> bool:
        try:
            parsed = super().parse_request()
        except (OSError, ApiError):
            raise
        except Exception as exc:  # whatever else the header parser trips on is the request's fault
            self.send_error(400, f"unreadable headers ({type(exc).__name__})")
            return False
        if self.request_version == "HTTP/0.9":  # would suppress our status line and headers
            self.request_version = "HTTP/1.0"
        return parsed

    def handle_expect_100(self) -> bool:
        try:  # refuse a body we would not read before the client sends it
            check_length(self.headers.get("content-length"))
        except ApiError as err:
            self._refuse(err)
            return False
        return super().handle_expect_100()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        reason = (message or self.responses.get(code, ("error",))[0])[:200]
        template = _REFUSALS.get(code, "{reason}.")
        self._refuse(ApiError(code, template.format(reason=reason.rstrip("."))))

    def _refuse(self, err: ApiError) -> None:
        """Answer ``err`` as the API's error body and close the connection (the rest of the request is unread)."""
        self.close_connection = True
        if self._answered:
            return
        self.reader.request_done()  # a sane timeout for the write
        payload = error_body(err)
        self.send_response(err.status)  # the standard reason phrase, never the client's text
        for key, value in {**_CORS, "content-type": "application/json", "content-length": str(len(payload)),
                           "connection": "close"}.items():
            self.send_header(key, value)
        self._log(str(err.status))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _preflight(self) -> None:  # CORS preflight for browsers
        self.send_response(204)
        for key, value in {**_CORS, "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
                           "access-control-allow-headers": "*", "access-control-max-age": "600",
                           "content-length": "0"}.items():
            self.send_header(key, value)
        self.end_headers()
        self._log("204")

    def _serve(self) -> None:
        try:
            body = read_body(self.rfile, self.headers.get("content-length"), self.headers.get("transfer-encoding"))
        except ApiError as err:
            self._refuse(err)
            return
        except OSError:
            raise
        except Exception as exc:  # any other trouble reading a body is the body's fault
            self._refuse(ApiError(400, f"Unreadable request body ({type(exc).__name__})."))
            return
        self.reader.request_done()
        if self.command == "OPTIONS":
            self._preflight()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = self.headers.get("host") or "{}:{}".format(*address(self.server))
        reply = self.server.core.handle(self.command, self.path, headers, body, f"http://{host}")
        if reply.status == 200 and self.command == "GET" and _STATS.search(self.path.split("?", 1)[0]):
            reply.body = json.dumps({**json.loads(reply.body), "server": self.server.load()}).encode()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            self._log("dropped")
            return
        try:
            self._answer(reply)
        except OSError:  # gone, reset, or too slow to take the answer
            self.close_connection = True
            self._log(f"{reply.status} client went away")

    def _answer(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in {**_CORS, **reply.headers}.items():
            self.send_header(key, value)
        if reply.events is None:
            self.send_header("content-length", str(len(reply.body)))
            self._log(str(reply.status))  # before the body leaves: once a client has its answer, the log has it
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
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
        self._log(f"{reply.status} stream({count} events)")


def address(server: Server) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return (host.decode() if isinstance(host, (bytes, bytearray)) else host), int(port)
