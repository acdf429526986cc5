"""The BIG-IP mock's TCP syslog connection, closed by the receiver (as the connector's receiver does
with an idle connection): the next line goes out on a new connection instead of being lost on the
closed one."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer
from mocks.common.syslog import SyslogTarget
from tests.mocks.bigip.test_traffic import DECLARE, declaration


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        sock.settimeout(10)
        yield sock


def read_frame(conn: socket.socket) -> bytes:
    """One RFC 6587 octet-counted frame."""
    head = b""
    while not head.endswith(b" "):
        head += conn.recv(1)
        assert head, "the connection ended"
    size, body = int(head), b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        assert chunk, "the connection ended in a frame"
        body += chunk
    return body


def test_a_line_after_the_receiver_closed_the_connection_goes_on_a_new_one(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    app = BigIpApp(processing_ms=0, syslog=SyslogTarget.parse(f"tcp://127.0.0.1:{port}"))
    try:
        with HttpServer(app) as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
            assert api.post(DECLARE, json=declaration()).status_code == 200

            def drop(src: str) -> None:
                answer = api.post("/_mock/traffic", json={"src": src, "srcPort": 40000, "dst": "198.51.100.1",
                                                          "dstPort": 22, "protocol": "TCP"}).json()
                assert (answer["rule"], answer["logged"]) == ("drop_lab", 1)

            drop("10.48.0.1")
            first, _ = listener.accept()
            with first:
                first.settimeout(10)
                assert b'source_ip="10.48.0.1"' in read_frame(first)
            # the receiver closed the connection; the sender still holds it
            drop("10.48.0.2")
            second, _ = listener.accept()
            with second:
                second.settimeout(10)
                assert b'source_ip="10.48.0.2"' in read_frame(second), "the line was not lost"
            assert app.syslog.sender is not None
            assert app.syslog.sender.stats()["dropped"] == 0
    finally:
        app.syslog.close()
