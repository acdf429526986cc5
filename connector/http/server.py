"""A small threaded HTTP server for probes and Prometheus scrapes.

Contract: `GET /healthz` → 200 `{"status": "ok"}` while `Probes.alive()` is true, else 500;
`GET /readyz` → 200 or 503 with the JSON of `Probes.readiness()` (its `ready` key decides);
`GET /metrics` → the Prometheus text exposition of `Probes.render_metrics()`; `GET /report` → the
compliance report when the probes object is a `connector.reports.ReportProbe` (docs/report.md).
Anything else is 404.
Handlers only call these cheap functions; they never touch devices or the API server.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from connector.reports.serve import ReportProbe

log = logging.getLogger(__name__)


class Probes(Protocol):
    def alive(self) -> bool: ...

    def readiness(self) -> dict[str, Any]: ...

    def render_metrics(self) -> bytes: ...


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) → (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class HealthServer:
    """Serves `probes` on (host, port); port 0 picks a free port (see `address`)."""

    def __init__(self, probes: Probes, host: str, port: int) -> None:
        handler = _handler(probes)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

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


def _handler(probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fusion-connector"

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
