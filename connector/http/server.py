"""A small threaded HTTP server for probes and Prometheus scrapes.

Contract: `GET /healthz` → 200 `{"status": "ok"}` while `Probes.alive()` is true, else 500;
`GET /readyz` → 200 or 503 with the JSON of `Probes.readiness()` (its `ready` key decides);
`GET /metrics` → the Prometheus text exposition of `Probes.render_metrics()`; `GET /report` → the
compliance report when the probes object is a `connector.reports.ReportProbe` (docs/report.md);
`POST /v1/flows` → flow records pushed by REST devices when the probes object is a `FlowsProbe`
(its `flows_answer` checks the token and the size before reading the body).
Anything else is 404.
Handlers only call these cheap functions; they never touch devices or the API server.

Bounded: a connection waits for its request without a thread (one selector thread watches them
all), and is closed when no complete request arrived within `read_timeout` seconds; requests are
served by at most `max_workers` threads; at most `max_idle` connections wait at once (the oldest
is closed to make room). So idle or slow clients cost a socket each, never a thread, and cannot
hold the probes hostage for longer than the read timeout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol, runtime_checkable

from prometheus_client import CONTENT_TYPE_LATEST

from connector.reports.serve import HttpAnswer, ReportProbe

log = logging.getLogger(__name__)


class Probes(Protocol):
    def alive(self) -> bool: ...

    def readiness(self) -> dict[str, Any]: ...

    def render_metrics(self) -> bytes: ...


@runtime_checkable
class FlowsProbe(Protocol):
    """What the HTTP server needs to serve `POST /v1/flows`: `read(n)` reads n bytes of the body,
    called at most once and only when the request is accepted so far."""

    def flows_answer(self, query: str, authorization: str | None, content_type: str | None,
                     content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer: ...


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) → (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


READ_TIMEOUT = 10.0
MAX_WORKERS = 8
MAX_IDLE = 256
STOP_POLL = 0.05  # seconds: how soon the accept loop notices `stop()` (the standard library waits 0.5)


class _BoundedServer(HTTPServer):
    """An HTTPServer whose accepted connections wait for data in one selector thread, then are
    handled by a fixed pool of worker threads (see the module docstring)."""

    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 read_timeout: float, max_workers: int, max_idle: int) -> None:
        # everything `server_close` releases exists before the base class binds (a bind that fails
        # calls `server_close`, and the caller must see the OSError, not an AttributeError)
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="http-worker")
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._arrived: list[tuple[socket.socket, Any, float]] = []
        self._waiting: dict[socket.socket, tuple[Any, float]] = {}  # in arrival order
        self._stopping = threading.Event()
        self._waiter = threading.Thread(target=self._wait_for_requests, name="http-idle", daemon=True)
        super().__init__(address, handler)
        self._waiter.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Called by the accept loop: hand the connection to the selector thread."""
        with self._lock:
            self._arrived.append((request, client_address, time.monotonic() + self.read_timeout))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full buffer: the selector thread is awake anyway
            self._wake_write.send(b"\0")

    def _wait_for_requests(self) -> None:
        while not self._stopping.is_set():
            timeout = 1.0
            if self._waiting:
                oldest = min(deadline for _, deadline in self._waiting.values())
                timeout = max(0.0, min(timeout, oldest - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._wake_read:
                    self._drain_wake()
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                self._selector.unregister(sock)
                client_address, _ = self._waiting.pop(sock)
                self._pool.submit(self._serve, sock, client_address)
            self._admit()
            self._expire()
        for sock in list(self._waiting):
            self._close(sock)

    def _drain_wake(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _admit(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for sock, client_address, deadline in arrived:
            if self._stopping.is_set():
                self.shutdown_request(sock)
                continue
            while len(self._waiting) >= self.max_idle:
                self._close(next(iter(self._waiting)))  # the oldest idle connection makes room
            self._waiting[sock] = (client_address, deadline)
            self._selector.register(sock, selectors.EVENT_READ)

    def _expire(self) -> None:
        now = time.monotonic()
        for sock in [s for s, (_, deadline) in self._waiting.items() if deadline <= now]:
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        self._waiting.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        self.shutdown_request(sock)

    def _serve(self, sock: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(sock, client_address)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            self.shutdown_request(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("HTTP connection from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        super().server_close()
        self._stopping.set()
        self._wake()
        if self._waiter.is_alive():
            self._waiter.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


class HealthServer:
    """Serves `probes` on (host, port); port 0 picks a free port (see `address`). A connection
    gets `read_timeout` seconds to send its request; `max_workers` threads serve requests; at
    most `max_idle` connections wait for theirs."""

    def __init__(self, probes: Probes, host: str, port: int, *, read_timeout: float = READ_TIMEOUT,
                 max_workers: int = MAX_WORKERS, max_idle: int = MAX_IDLE) -> None:
        handler = _handler(probes, read_timeout)
        self._server = _BoundedServer((host, port), handler, read_timeout=read_timeout,
                                      max_workers=max_workers, max_idle=max_idle)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(STOP_POLL,), name="http",
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("serving /healthz, /readyz and /metrics on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(probes: Probes, read_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fusion-connector"
        timeout = read_timeout  # every read and write of the connection

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            try:
                if path == "/healthz":
                    ok = probes.alive()
                    self._json(200 if ok else 500, {"status": "ok" if ok else "wedged"})
                elif path == "/readyz":
                    body = probes.readiness()
                    self._json(200 if body.get("ready") else 503, body)
                elif path == "/metrics":
                    self._send(200, probes.render_metrics(), CONTENT_TYPE_LATEST)
                elif path == "/report" and isinstance(probes, ReportProbe):
                    query = self.path.partition("?")[2]
                    answer = probes.report_answer(query, self.headers.get("Authorization"))
                    self._send(answer.status, answer.body, answer.content_type, answer.headers)
                else:
                    self._json(404, {"error": f"no such endpoint {path}"})
            except Exception:  # a probe failing must answer 500, not drop the connection
                log.exception("HTTP %s failed", path)
                self._json(500, {"error": "internal error"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            try:
                if path == "/v1/flows" and isinstance(probes, FlowsProbe):
                    length_text = self.headers.get("Content-Length")
                    length = int(length_text) if length_text and length_text.isdigit() else None
                    if self.headers.get("Transfer-Encoding"):
                        length = None  # chunked bodies are not read: 411
                    answer = probes.flows_answer(self.path.partition("?")[2],
                                                 self.headers.get("Authorization"),
                                                 self.headers.get("Content-Type"), length, self.rfile.read)
                    self._send(answer.status, answer.body, answer.content_type, answer.headers)
                else:
                    self._json(404, {"error": f"no such endpoint POST {path}"})
            except Exception:
                log.exception("HTTP POST %s failed", path)
                self._json(500, {"error": "internal error"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, (json.dumps(body, sort_keys=True) + "\n").encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
