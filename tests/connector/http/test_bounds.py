"""The HTTP listener is bounded: idle or slow connections are closed after the read timeout and
hold no thread while they wait; requests are served by a fixed number of threads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.http import HealthServer

WORKERS = 4


class Probes:
    def alive(self) -> bool:
        return True

    def readiness(self) -> dict[str, Any]:
        return {"ready": True}

    def render_metrics(self) -> bytes:
        return b""


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[HealthServer]:
    """A server with a short read timeout (or the one given by indirect parametrization)."""
    served = HealthServer(Probes(), "127.0.0.1", 0, read_timeout=getattr(request, "param", 1.0),
                          max_workers=WORKERS, max_idle=64).start()
    yield served
    served.stop()


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (waits for it, at most 30 s)."""
    sock.settimeout(30)
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def _server_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("http"))


def test_300_idle_connections_hold_a_bounded_number_of_threads(server: HealthServer) -> None:
    host, port = server.address
    idle = [socket.create_connection((host, port)) for _ in range(300)]
    try:
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
        assert _server_threads() <= WORKERS + 2  # the accept loop, the idle waiter, the workers
        assert all(_closed_by_server(sock) for sock in idle)
    finally:
        for sock in idle:
            sock.close()
    assert _server_threads() <= WORKERS + 2


def test_a_request_that_stops_half_way_is_closed(server: HealthServer) -> None:
    host, port = server.address
    with socket.create_connection((host, port)) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no end of headers, ever
        assert _closed_by_server(slow)
    assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200


# a long read timeout: clients slowed down by the test's own load are not cut off
@pytest.mark.parametrize("server", [60.0], indirect=True)
def test_many_requests_at_once_are_all_answered(server: HealthServer) -> None:
    results: list[int] = []

    def get() -> None:
        results.append(httpx.get(f"{server.url}/healthz", timeout=30).status_code)

    clients = [threading.Thread(target=get) for _ in range(40)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    assert results == [200] * 40


def test_a_port_in_use_is_an_os_error_naming_the_address() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            HealthServer(Probes(), "127.0.0.1", port).start()
    finally:
        taken.close()
