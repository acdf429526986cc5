"""The shared mock plumbing: fault injection, request log, reset, streaming, dropped connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.common.app import MockApp
from mocks.common.http import HttpServer, Request, Response, json_response


class EchoApp(MockApp):
    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, Any] = {}
        self.released = threading.Event()

    def handle(self, request: Request) -> Response:
        if request.path == "/stream":
            return Response(200, headers={"Content-Type": "application/json"}, stream=self._stream())
        if request.method == "PUT":
            self.objects[request.path] = request.json()
            return json_response(201, {"stored": request.path})
        if request.path in self.objects:
            return json_response(200, self.objects[request.path])
        return self.error(404, f"{request.path} not found")

    def _stream(self) -> Iterator[bytes]:
        for index in range(3):
            yield b'{"n": %d}\n' % index

    def reset_state(self) -> None:
        self.objects.clear()


@pytest.fixture()
def server() -> Iterator[tuple[EchoApp, httpx.Client]]:
    app = EchoApp()
    with HttpServer(app) as srv, httpx.Client(base_url=srv.url, timeout=5) as client:
        yield app, client


def test_requests_are_served_and_logged(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    assert client.put("/a/b%20c", json={"x": 1}).status_code == 201
    assert client.get("/a/b c").json() == {"x": 1}
    log = client.get("/_mock/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("PUT", "/a/b c", 201), ("GET", "/a/b c", 200)]
    assert log[0]["body"] == {"x": 1}
    since = log[0]["seq"]
    assert len(client.get("/_mock/requests", params={"since": since}).json()["requests"]) == 1


def test_status_fault_applies_n_times_then_clears(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    client.post("/_mock/faults", json={"status": 503, "times": 2, "retryAfter": 1})
    first = client.get("/anything")
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert client.get("/anything").status_code == 503
    assert client.get("/anything").status_code == 404
    assert client.get("/_mock/faults").json() == {"faults": []}


def test_fault_filters_by_method_and_path(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    client.post("/_mock/faults", json={"status": 500, "method": "PUT", "path": "/only"})
    assert client.put("/other", json={}).status_code == 201
    assert client.get("/only").status_code == 404
    assert client.put("/only/x", json={}).status_code == 500


def test_timed_fault_expires(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    client.post("/_mock/faults", json={"status": 503, "seconds": 0.2})
    assert client.get("/x").status_code == 503
    deadline = time.monotonic() + 5
    while client.get("/x").status_code == 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_latency_fault_delays(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    client.post("/_mock/faults", json={"latencyMs": 150, "times": 1})
    started = time.monotonic()
    client.get("/x")
    assert time.monotonic() - started >= 0.15
    assert client.get("/_mock/faults").json() == {"faults": []}


def test_dropped_connections(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    client.post("/_mock/faults", json={"dropConnections": 2})
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            client.get("/x")
    assert client.get("/x").status_code == 404


def test_invalid_fault_is_refused(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    answer = client.post("/_mock/faults", json={"bogus": 1})
    assert answer.status_code == 400 and "bogus" in answer.json()["error"]
    assert client.post("/_mock/faults", json={"times": 1}).status_code == 400


def test_reset_clears_state_log_and_faults(server: tuple[EchoApp, httpx.Client]) -> None:
    app, client = server
    client.put("/k", json=1)
    client.post("/_mock/faults", json={"latencyMs": 1})
    client.post("/_mock/reset")
    assert app.objects == {}
    assert client.get("/_mock/faults").json() == {"faults": []}
    assert [e["path"] for e in client.get("/_mock/requests").json()["requests"]] == []


def test_streaming_response_is_chunked(server: tuple[EchoApp, httpx.Client]) -> None:
    _, client = server
    with client.stream("GET", "/stream") as response:
        assert response.headers["transfer-encoding"] == "chunked"
        lines = [line for line in response.iter_lines() if line]
    assert lines == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
