"""Minimal HTTP plumbing shared by every mock: request/response types and the threaded server.

Contract: an app receives a fully read `Request` and returns a `Response`. A response either has a
body (sent with Content-Length) or a `stream` iterator of byte chunks (sent with chunked
transfer-encoding, flushed per chunk; the iterator is closed when the client goes away). The
server speaks HTTP/1.1 with keep-alive, optionally over TLS.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    """One HTTP request as the app sees it. `path` is percent-decoded; `raw_path` is not."""

    method: str
    raw_path: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON (ValueError when it is not JSON)."""
        if not self.body:
            return None
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return value if value is not None else default


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    close_connection: bool = False


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None,
                  content_type: str = "application/json") -> Response:
    """A JSON response with compact encoding."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    merged = {"Content-Type": content_type}
    if headers:
        merged.update(headers)
    return Response(status=status, body=body, headers=merged)


def settings_endpoint(request: Request, path: str, configure: Callable[[Any], None],
                      describe: Callable[[], Any]) -> Response | None:
    """Serve a mock's settings at `path`: GET describes them, POST hands the JSON body to
    `configure` (a ValueError becomes 400 with its message) and describes the result; another
    method is 405. None for other paths."""
    if request.path.rstrip("/") != path:
        return None
    if request.method == "POST":
        try:
            configure(request.json())
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
    elif request.method != "GET":
        return json_response(405, {"error": f"{request.method} is not allowed on {path}"})
    return json_response(200, describe())


class DropConnection(Exception):
    """Raised by an app to close the client connection without answering."""


class App(Protocol):
    def dispatch(self, request: Request) -> Response: ...


def parse_request_target(target: str) -> tuple[str, str, dict[str, list[str]]]:
    """Split a request target into (raw path, decoded path, query)."""
    parts = urlsplit(target)
    raw = parts.path or "/"
    return raw, unquote(raw), parse_qs(parts.query, keep_blank_values=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle + delayed ACK add ~40 ms
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw, path, query = parse_request_target(self.path)
        request = Request(self.command, raw, path, query, self.headers, body, self.client_address[0])
        try:
            response = self.server.app.dispatch(request)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            if response.close_connection:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        stream = response.stream
        try:
            for chunk in stream:
                if not chunk:
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, _Handler)


class HttpServer:
    """A threaded HTTP(S) server around an app; usable in-process (`start`) or blocking (`serve`)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0,
                 certfile: str | None = None, keyfile: str | None = None) -> None:
        self._server = _Server((host, port), app)
        self.scheme = "http"
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        """Serve in a daemon thread and return self."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"mock-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
