"""SyslogReceiver's TCP limits over real sockets: a connection silent for `idle_timeout` is closed
and counted (`idle`), one beyond `max_connections` is refused and counted (`limit`), and neither
disturbs the other senders' connections. Also the configuration keys behind them
(`flows.syslog.idleTimeout`, `flows.syslog.maxConnections`) and their metric."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from connector.config import FlowsConfig, SyslogConfig
from connector.flows.metrics import FlowMetrics
from connector.flows.receiver import IDLE_TIMEOUT, MAX_CONNECTIONS, Sender, SyslogReceiver
from tests.connector.flows import samples
from tests.connector.flows.test_receiver import FGT, LISTED, Collector, tcp_connect, udp_send, wait_for

OTHER = "127.0.0.4"
AFM = Sender(device="bigip-dc1", addresses=(OTHER,), format="bigip-afm")
LINE = samples.FORTIOS_DENY.encode()


class Closures(Collector):
    """A Collector that also remembers the connections the receiver closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closures: dict[tuple[str, str], int] = {}

    def closed(self, device: str, reason: str, n: int) -> None:
        self.closures[(device, reason)] = self.closures.get((device, reason), 0) + n


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the receiver closed `sock` (waits up to 5 s for it)."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def limits(collector: Closures, senders: tuple[Sender, ...] = (FGT, AFM),
           **options: Any) -> Iterator[SyslogReceiver]:
    """A started receiver counting its closures in `collector` (test_receiver.running with `closed`)."""
    receiver = SyslogReceiver(("127.0.0.1", 0), senders, collector.sink, count=collector.count,
                              closed=collector.closed, **options)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def test_an_idle_connection_is_closed_and_counted_after_delivering_what_it_sent() -> None:
    collector = Closures()
    with limits(collector, idle_timeout=0.2) as receiver, tcp_connect(receiver) as sock:
        sock.sendall(LINE + b"\n" + LINE)  # the second line lacks its LF, as when a peer closes
        wait_for(lambda: receiver.open_connections == 0, "the idle connection closed")
        assert closed_by_peer(sock)
        wait_for(lambda: collector.closures.get(("fgt-edge", "idle")) == 1, "the idle close counted")
        wait_for(lambda: len(collector.lines) == 2, "both lines, the unterminated one at the close")
    assert collector.closures == {("fgt-edge", "idle"): 1}
    assert collector.counted("fgt-edge", "malformed") == 0


def test_an_idle_connection_frees_its_slot() -> None:
    collector = Closures()
    with limits(collector, idle_timeout=0.2, max_connections=1) as receiver:
        with tcp_connect(receiver) as silent:
            assert closed_by_peer(silent), "a silent sender does not hold the only slot"
        with tcp_connect(receiver) as sock:
            sock.sendall(LINE + b"\n")
            wait_for(lambda: len(collector.lines) == 1, "a line on the next connection")
    assert collector.closures.get(("fgt-edge", "limit"), 0) == 0


def test_other_senders_are_not_disturbed_by_an_idle_connection() -> None:
    collector = Closures()
    with limits(collector, idle_timeout=1.0) as receiver, tcp_connect(receiver) as active, \
            tcp_connect(receiver, OTHER) as silent:
        wait_for(lambda: receiver.open_connections == 2, "two connections")
        sent = 0
        while receiver.open_connections == 2:  # the active sender speaks well within the timeout
            active.sendall(LINE + b"\n")
            sent += 1
            time.sleep(0.05)
            assert sent < 1000, "the silent connection is never closed"
        assert closed_by_peer(silent)
        udp_send(receiver, [LINE])
        active.sendall(LINE + b"\n")
        wait_for(lambda: len(collector.lines) == sent + 2, "every line of the active sender, and UDP")
        assert receiver.open_connections == 1
        wait_for(lambda: ("bigip-dc1", "idle") in collector.closures, "the idle close counted")
    assert collector.closures == {("bigip-dc1", "idle"): 1}


def test_connections_beyond_the_cap_are_refused_and_counted_and_the_open_ones_go_on() -> None:
    collector = Closures()
    with limits(collector, max_connections=2) as receiver:
        first, second = tcp_connect(receiver), tcp_connect(receiver)
        wait_for(lambda: receiver.open_connections == 2, "two connections")
        with first, second, tcp_connect(receiver, OTHER) as third:
            assert closed_by_peer(third)
            wait_for(lambda: collector.closures.get(("bigip-dc1", "limit")) == 1, "the refusal counted")
            first.sendall(LINE + b"\n")
            second.sendall(LINE + b"\n")
            wait_for(lambda: len(collector.lines) == 2, "lines on both open connections")
            first.close()
            wait_for(lambda: receiver.open_connections == 1, "a slot freed")
            with tcp_connect(receiver, OTHER) as fourth:
                fourth.sendall(samples.AFM_RFC5424.encode() + b"\n")
                wait_for(lambda: len(collector.lines) == 3, "a line on the connection in the freed slot")
    assert collector.closures == {("bigip-dc1", "limit"): 1}, "no idle close with the default timeout"


def test_no_idle_timeout_and_bad_limits() -> None:
    collector = Closures()
    with limits(collector, idle_timeout=None) as receiver, tcp_connect(receiver) as sock:
        wait_for(lambda: receiver.open_connections == 1, "the connection")
        sock.sendall(LINE + b"\n")
        wait_for(lambda: len(collector.lines) == 1, "a line")
        assert receiver.open_connections == 1
    for bad in ({"idle_timeout": 0}, {"idle_timeout": -1.0}, {"max_connections": 0}):
        with pytest.raises(ValueError):
            SyslogReceiver(("127.0.0.1", 0), (FGT,), collector.sink, count=collector.count, **bad)
    assert (IDLE_TIMEOUT, MAX_CONNECTIONS) == (300.0, 256)
    assert LISTED in FGT.addresses


def test_the_configuration_keys() -> None:
    default = SyslogConfig.model_validate({"listen": "0.0.0.0:5514"})
    assert (default.idle_timeout, default.max_connections) == (IDLE_TIMEOUT, MAX_CONNECTIONS)
    given = SyslogConfig.model_validate({"listen": "0.0.0.0:5514", "idleTimeout": "2m", "maxConnections": 32})
    assert (given.idle_timeout, given.max_connections) == (120.0, 32)
    assert SyslogConfig.model_validate({"listen": "0.0.0.0:5514", "idleTimeout": 0}).idle_timeout == 0
    for bad, where in (({"idleTimeout": "500ms"}, "idleTimeout"), ({"idleTimeout": "soon"}, "idleTimeout"),
                       ({"maxConnections": 0}, "maxConnections"),
                       ({"maxConnections": 100_000}, "maxConnections"), ({"idle": "5m"}, "idle")):
        with pytest.raises(ValidationError, match=where):
            FlowsConfig.model_validate({"syslog": {"listen": "0.0.0.0:5514", **bad}})


def test_the_metric() -> None:
    registry = CollectorRegistry()
    metrics = FlowMetrics(registry)
    metrics.connection_closed("bigip-dc1", "idle", 2)
    metrics.connection_closed("bigip-dc1", "limit")
    metrics.connection_closed("bigip-dc1", "limit", 0)
    name = "fusion_connector_flow_connections_closed_total"
    assert registry.get_sample_value(name, {"device": "bigip-dc1", "reason": "idle"}) == 2
    assert registry.get_sample_value(name, {"device": "bigip-dc1", "reason": "limit"}) == 1
