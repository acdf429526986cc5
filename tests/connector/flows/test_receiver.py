"""SyslogReceiver over real sockets: UDP and TCP on one port, allow-list, counting, shedding, stop."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from connector.flows.receiver import Sender, SyslogReceiver
from connector.flows.record import FlowLine
from tests.connector.flows import samples

LISTED = "127.0.0.1"
UNLISTED = "127.0.0.2"  # Linux routes all of 127/8 to the loopback interface
FGT = Sender(device="fgt-edge", addresses=(LISTED,), format="fortios")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Collector:
    """A sink and a count callback that remember what they were given."""

    def __init__(self) -> None:
        self.lines: list[FlowLine] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def sink(self, lines: list[FlowLine]) -> None:
        self.calls.append(threading.current_thread().name)
        self.gate.wait(10)
        self.lines.extend(lines)

    def count(self, device: str, result: str, n: int) -> None:
        self.calls.append(threading.current_thread().name)
        self.counts[(device, result)] = self.counts.get((device, result), 0) + n

    def counted(self, device: str, result: str) -> int:
        return self.counts.get((device, result), 0)


@contextmanager
def running(collector: Collector, senders: tuple[Sender, ...] = (FGT,),
            **options: Any) -> Iterator[SyslogReceiver]:
    receiver = SyslogReceiver(("127.0.0.1", 0), senders, collector.sink, count=collector.count,
                              **options)
    receiver.start()
    try:
        yield receiver
    finally:
        collector.gate.set()
        receiver.stop()


def udp_send(receiver: SyslogReceiver, payloads: list[bytes], source: str = LISTED) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for payload in payloads:
            sock.sendto(payload, receiver.address)


def tcp_connect(receiver: SyslogReceiver, source: str = LISTED) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.connect(receiver.address)
    return sock


def test_udp_lines_are_parsed_in_the_senders_format() -> None:
    collector = Collector()
    with running(collector) as receiver:
        assert receiver.address[1] != 0
        udp_send(receiver, [samples.FORTIOS_DENY.encode(), (samples.FORTIOS_NAMED + "\n").encode(),
                            f"{samples.FORTIOS_CLOSE}\n{samples.FORTIOS_RFC5424}\n".encode()])
        wait_for(lambda: len(collector.lines) == 4, "4 lines")
    assert sorted(line.src for line in collector.lines) == [
        "10.20.0.6", "10.20.1.11", "10.20.2.10", "10.20.3.4"]
    assert {line.device for line in collector.lines} == {"fgt-edge"}


def test_tcp_on_the_same_port_with_mixed_framing_split_across_writes() -> None:
    collector = Collector()
    afm = Sender(device="bigip-dc1", addresses=(LISTED,), format="bigip-afm")
    with running(collector, (afm,)) as receiver:
        first = samples.AFM_RFC5424.encode()
        stream = b"%d %s%s\n%s\n" % (len(first), first, samples.AFM_SPLUNK.encode(),
                                     samples.AFM_RFC3164.encode())
        with tcp_connect(receiver) as sock:
            for start in range(0, len(stream), 97):
                sock.sendall(stream[start:start + 97])
                time.sleep(0.001)
            wait_for(lambda: len(collector.lines) == 3, "3 lines")
    assert [line.device_rule for line in collector.lines] == [
        "fc_shop_deny_all", "fc_shop_allow_payments", "fc_shop_allow_payments"]


def test_unlisted_senders_are_rejected_over_udp_and_tcp() -> None:
    collector = Collector()
    with running(collector) as receiver:
        udp_send(receiver, [samples.FORTIOS_DENY.encode()] * 3, source=UNLISTED)
        with tcp_connect(receiver, source=UNLISTED) as sock:
            sock.settimeout(5)
            with pytest.raises(ConnectionError):  # closed at once: reset, or EOF on the first read
                for _ in range(50):
                    sock.sendall(samples.FORTIOS_DENY.encode() + b"\n")
                    if sock.recv(1) == b"":
                        raise ConnectionResetError
        udp_send(receiver, [samples.FORTIOS_DENY.encode()])  # a listed one, to know the others went by
        wait_for(lambda: collector.counted("unknown", "rejected") == 4 and len(collector.lines) == 1,
                 "rejections counted")
    assert [line.src for line in collector.lines] == ["10.20.0.6"]


def test_malformed_and_oversized_lines_are_counted_and_the_connection_goes_on() -> None:
    collector = Collector()
    with running(collector, max_line_bytes=2048) as receiver:
        with tcp_connect(receiver) as sock:
            sock.sendall(b"not a flow at all\n")
            sock.sendall(b"<189>" + b"x" * 5000 + b"\n")  # oversized newline frame
            sock.sendall(b"9999 " + b"y" * 9999)  # oversized octet-counted frame
            sock.sendall(b"\x00\xff\xfe garbage \xc3\x28\n")
            sock.sendall(samples.FORTIOS_DENY.encode() + b"\n")
            wait_for(lambda: len(collector.lines) == 1, "the good line after the bad ones")
        udp_send(receiver, [b"<189>" + b"z" * 3000, samples.FORTIOS_UTM.encode()])
        wait_for(lambda: collector.counted("fgt-edge", "malformed") == 6, "6 malformed")
        udp_send(receiver, [samples.FORTIOS_CLOSE.encode()])
        wait_for(lambda: len(collector.lines) == 2, "UDP still served")


def test_lines_are_shed_when_the_sink_is_slow_and_counted() -> None:
    collector = Collector()
    collector.gate.clear()  # the sink blocks until the gate opens
    total = 300
    with running(collector, max_pending_lines=10, batch_size=1) as receiver:
        with tcp_connect(receiver) as sock:
            sock.sendall(b"".join(samples.FORTIOS_DENY.encode() + b"\n" for _ in range(total)))
        # the sink holds a batch (so the connection was accepted), then the stream's end is read
        wait_for(lambda: len(collector.calls) == 1 and receiver.open_connections == 0,
                 "the stream read to its end")
        assert receiver.pending_lines in (9, 10)  # full; the worker may have taken its line after
        collector.gate.set()
        wait_for(lambda: len(collector.lines) + collector.counted("fgt-edge", "shed") == total,
                 "every line delivered or shed")
        shed = collector.counted("fgt-edge", "shed")
    assert shed >= total - 11
    assert len(collector.lines) <= 11


def test_a_flood_over_udp_never_grows_the_queue_past_its_bound() -> None:
    collector = Collector()
    collector.gate.clear()
    high_water = 0
    with running(collector, max_pending_lines=50) as receiver:
        for _ in range(10):
            udp_send(receiver, [samples.FORTIOS_DENY.encode()] * 50)
            high_water = max(high_water, receiver.pending_lines)
            time.sleep(0.002)
        udp_send(receiver, [b"marker"], source=UNLISTED)  # read after the flood
        collector.gate.set()
        wait_for(lambda: collector.counted("unknown", "rejected") == 1, "the marker datagram")
        wait_for(lambda: receiver.pending_lines == 0, "the queue drained")
        time.sleep(0.05)
    shed = collector.counted("fgt-edge", "shed")
    assert high_water <= 50
    assert shed > 0
    assert len(collector.lines) + shed <= 500  # the kernel may have dropped some datagrams too


def test_tcp_connections_are_bounded() -> None:
    collector = Collector()
    with running(collector, max_connections=2) as receiver:
        first, second = tcp_connect(receiver), tcp_connect(receiver)
        wait_for(lambda: receiver.open_connections == 2, "two connections")
        with first, second, tcp_connect(receiver) as third:
            third.settimeout(5)
            try:
                closed = third.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed
            second.sendall(samples.FORTIOS_DENY.encode() + b"\n")
            wait_for(lambda: len(collector.lines) == 1, "a line on an accepted connection")


def test_unknown_format_is_counted_malformed_and_sink_errors_do_not_stop_it() -> None:
    collector = Collector()
    odd = Sender(device="odd", addresses=("127.0.0.3",), format="netflow")
    failures = {"left": 1}

    def flaky(lines: list[FlowLine]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("store down")
        collector.sink(lines)

    receiver = SyslogReceiver(("127.0.0.1", 0), (FGT, odd), flaky, count=collector.count)
    receiver.start()
    try:
        udp_send(receiver, [b"anything"], source="127.0.0.3")
        wait_for(lambda: collector.counted("odd", "malformed") == 1, "the unknown format counted")
        udp_send(receiver, [samples.FORTIOS_DENY.encode()])
        wait_for(lambda: receiver.pending_lines == 0, "the failing batch taken")
        time.sleep(0.05)
        udp_send(receiver, [samples.FORTIOS_CLOSE.encode()])
        wait_for(lambda: len(collector.lines) == 1, "the next batch after a sink failure")
    finally:
        receiver.stop()


def test_sink_and_count_run_on_the_worker_thread_only() -> None:
    collector = Collector()
    with running(collector) as receiver:
        udp_send(receiver, [samples.FORTIOS_DENY.encode(), b"bad"])
        wait_for(lambda: collector.counted("fgt-edge", "malformed") == 1 and len(collector.lines) == 1,
                 "a line and a count")
    assert set(collector.calls) == {"flows-syslog-worker"}


def test_raw_lines_are_never_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    collector = Collector()
    secret = "SECRET-PAYLOAD-" + "q" * 400
    with caplog.at_level(logging.DEBUG, logger="connector.flows"), running(collector) as receiver:
        udp_send(receiver, [f'type="traffic" srcip=10.0.0.1 note="{secret}"'.encode()])
        wait_for(lambda: collector.counted("fgt-edge", "malformed") == 1, "the bad line counted")
    for record in caplog.records:
        text = record.getMessage()
        if record.levelno >= logging.INFO:
            assert "SECRET-PAYLOAD" not in text
        assert "q" * 300 not in text
    assert any("SECRET-PAYLOAD" in record.getMessage() for record in caplog.records
               if record.levelno == logging.DEBUG)


def test_stop_joins_counts_what_waited_and_releases_the_port() -> None:
    collector = Collector()
    collector.gate.clear()
    receiver = SyslogReceiver(("127.0.0.1", 0), (FGT,), collector.sink, count=collector.count,
                              batch_size=1)
    receiver.start()
    host, port = receiver.address
    udp_send(receiver, [samples.FORTIOS_DENY.encode()] * 5)
    wait_for(lambda: len(collector.calls) == 1 and receiver.pending_lines == 4,
             "one line in the sink, four waiting")
    threading.Timer(0.2, collector.gate.set).start()
    receiver.stop()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("flows-syslog")]
    assert len(collector.lines) + collector.counted("fgt-edge", "shed") == 5
    receiver.stop()  # a second stop does nothing
    again = SyslogReceiver((host, port), (FGT,), collector.sink, count=collector.count)
    again.start()
    assert again.address == (host, port)
    again.stop()


def test_bad_configuration_is_refused() -> None:
    collector = Collector()
    with pytest.raises(ValueError, match=r"fgt.*not-an-ip"):
        SyslogReceiver(("127.0.0.1", 0), (Sender("fgt", ("not-an-ip",), "fortios"),), collector.sink,
                       count=collector.count)
    with pytest.raises(RuntimeError):
        _ = SyslogReceiver(("127.0.0.1", 0), (), collector.sink, count=collector.count).address


def test_networks_and_ipv4_mapped_addresses_in_the_allow_list() -> None:
    collector = Collector()
    subnet = Sender(device="fgt-net", addresses=("127.0.0.0/29",), format="fortios")
    with running(collector, (subnet,)) as receiver:
        udp_send(receiver, [samples.FORTIOS_DENY.encode()], source="127.0.0.5")
        udp_send(receiver, [samples.FORTIOS_DENY.encode()], source="127.0.0.9")
        wait_for(lambda: len(collector.lines) == 1 and collector.counted("unknown", "rejected") == 1,
                 "one accepted, one rejected")
    assert collector.lines[0].device == "fgt-net"


def test_fortigate_reliable_mode_octet_counted_rfc5424_and_cef() -> None:
    collector = Collector()
    cef = Sender(device="fgt-cef", addresses=("127.0.0.4",), format="cef")
    with running(collector, (FGT, cef)) as receiver:
        frames = [samples.FORTIOS_RFC5424.encode(), samples.FORTIOS_NAMED.encode()]
        with tcp_connect(receiver) as sock:
            sock.sendall(b"".join(b"%d %s" % (len(frame), frame) for frame in frames))
        with tcp_connect(receiver, source="127.0.0.4") as sock:
            frame = samples.FORTIOS_CEF_56.encode()
            sock.sendall(b"%d %s" % (len(frame), frame))
        wait_for(lambda: len(collector.lines) == 3, "3 lines")
    assert sorted((line.device, line.src) for line in collector.lines) == [
        ("fgt-cef", "10.20.4.4"), ("fgt-edge", "10.20.2.10"), ("fgt-edge", "10.20.3.4")]


def test_ipv6_listener() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    collector = Collector()
    sender = Sender(device="fgt6", addresses=("::1",), format="fortios")
    receiver = SyslogReceiver(("::1", 0), (sender,), collector.sink, count=collector.count)
    receiver.start()
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.sendto(samples.FORTIOS_DENY.encode(), receiver.address)
        with socket.create_connection(receiver.address) as conn:
            conn.sendall(samples.FORTIOS_CLOSE.encode() + b"\n")
        wait_for(lambda: len(collector.lines) == 2, "a line over UDP and one over TCP")
    finally:
        receiver.stop()
    assert {line.device for line in collector.lines} == {"fgt6"}
