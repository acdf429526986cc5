"""The served demo's metrics port: the one asked for (8080 by default, as `run`), or a free one
when it is taken."""

from __future__ import annotations

import socket
from typing import Any

from connector.demo.live import PORT, health_server


def _port_of(probes: Any, port: int) -> int:
    server = health_server(probes, "127.0.0.1", port).start()
    try:
        return server.address[1]
    finally:
        server.stop()


def test_the_default_is_run_s_port() -> None:
    assert PORT == 8080


def test_a_free_port_is_used_as_asked() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _port_of(object(), port) == port


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _port_of(object(), port) not in (port, 0)
