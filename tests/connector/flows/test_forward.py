"""Forwarding records to a SIEM: JSON lines and CEF over TCP, bounded, reconnecting, never blocking."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import replace

import pytest

from connector.flows.forward import Forwarder, encode_cef, encode_json
from connector.flows.record import FlowRecord
from tests.connector.flows.fakes import attribute, line


class Siem:
    """A TCP listener on loopback collecting newline-framed lines, one connection at a time."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.address = self.server.getsockname()[:2]
        self.lines: list[bytes] = []
        self.connections = 0
        self.conn: socket.socket | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._changed:
                self.connections += 1
                self.conn = conn
                self._changed.notify_all()
            with conn:
                buffer = b""
                while True:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    buffer += data
                    *done, buffer = buffer.split(b"\n")
                    with self._changed:
                        self.lines.extend(done)
                        self._changed.notify_all()

    def wait_lines(self, n: int, timeout: float = 10.0) -> list[bytes]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.lines) >= n, timeout), self.lines
            return list(self.lines)

    def close(self) -> None:
        """Stop listening and close the connection being served."""
        self.server.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)


def records(n: int) -> list[FlowRecord]:
    return attribute([line(dst_port=port) for port in range(1, n + 1)])


def test_json_lines_carry_the_public_record() -> None:
    siem = Siem()
    forwarder = Forwarder(siem.address, encode_json).start()
    try:
        sent = records(3)
        forwarder.send(sent)
        got = siem.wait_lines(3)
    finally:
        forwarder.stop()
        siem.close()
    assert [json.loads(item) for item in got] == [record.to_json() for record in sent]
    assert forwarder.sent == 3 and forwarder.dropped == 0


def _cef_fields(text: str) -> tuple[list[str], dict[str, str]]:
    parts = re.split(r"(?<!\\)\|", text, maxsplit=7)
    extension = parts[7]
    fields = {}
    for match in re.finditer(r"(\w+)=((?:\\.|[^\\])*?)(?=\s\w+=|$)", extension):
        fields[match.group(1)] = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), match.group(2))
    return parts[:7], fields


def test_cef_names_the_identity_and_the_rule_and_escapes_values() -> None:
    record = attribute([line(count=3)])[0]
    record = replace(record, line=replace(record.line, device_rule="a=b\\c|d"))
    encoded = encode_cef(record)
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1
    header, fields = _cef_fields(encoded.decode().rstrip("\n"))
    assert header[:3] == ["CEF:0", "fusion-connector", "fusion-connector"]
    assert header[4:6] == ["flow-allow", "Egress allowed"]
    assert fields["src"] == "10.0.0.5" and fields["dst"] == "203.0.113.9"
    assert (fields["spt"], fields["dpt"], fields["proto"], fields["act"]) == ("40000", "443", "6", "allow")
    assert (fields["dvchost"], fields["cnt"]) == ("fgt", "3")
    assert (fields["cs1Label"], fields["cs1"], fields["cs2"], fields["cs3"]) == (
        "namespace", "shop", "api-1", "api")
    assert fields["cs4"] == "NamespaceEgressRule/shop/allow-bank"
    assert fields["cs5"] == "a=b\\c|d"
    assert int(fields["rt"]) == int(record.line.time.timestamp() * 1000)


def test_cef_of_an_unattributed_ipv6_denial() -> None:
    record = attribute([line("2001:db8::7", action="Deny", dst="2001:db8::1", rule=None, dst_port=None)])[0]
    header, fields = _cef_fields(encode_cef(record).decode().rstrip("\n"))
    assert header[4:6] == ["flow-deny", "Egress denied"]
    assert (fields["c6a2"], fields["c6a3"], fields["act"]) == ("2001:db8::7", "2001:db8::1", "deny")
    assert "cs1" not in fields and "cs4" not in fields and "dpt" not in fields


def test_a_siem_that_is_down_costs_a_bounded_buffer_and_records_are_dropped_and_counted() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    address = probe.getsockname()[:2]
    probe.close()  # nothing listens there now
    dropped: list[int] = []
    forwarder = Forwarder(address, encode_json, max_buffered=5, backoff_base=0.05, backoff_cap=0.1,
                          on_dropped=dropped.append).start()
    try:
        for _ in range(4):
            forwarder.send(records(3))  # returns at once although nothing can be sent
        assert forwarder.buffered == 5
        assert sum(dropped) == forwarder.dropped == 7
        siem = Siem(address[1])  # the SIEM comes back: the newest five records are delivered
        try:
            got = siem.wait_lines(5)
        finally:
            siem.close()
    finally:
        forwarder.stop()
    assert [json.loads(item)["dstPort"] for item in got] == [2, 3, 1, 2, 3]


def test_the_forwarder_reconnects_after_the_siem_closes_the_connection() -> None:
    siem = Siem()
    forwarder = Forwarder(siem.address, encode_json, backoff_base=0.05, backoff_cap=0.1).start()
    try:
        forwarder.send(records(1))
        siem.wait_lines(1)
        siem.close()  # the listener goes; its port is taken again by a new one
        port = siem.address[1]
        deadline = time.monotonic() + 10
        while True:
            try:
                again = Siem(port)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        try:
            for _ in range(200):  # until a connection to the new listener carries one
                forwarder.send(records(1))
                with again._changed:
                    if again._changed.wait_for(lambda: again.lines, 0.1):
                        break
            assert again.lines
        finally:
            again.close()
    finally:
        forwarder.stop()


def test_send_after_stop_is_ignored() -> None:
    forwarder = Forwarder(("127.0.0.1", 9), encode_json, backoff_base=0.05).start()
    forwarder.stop()
    forwarder.send(records(2))
    assert forwarder.buffered == 0


@pytest.mark.parametrize("encode", [encode_json, encode_cef])
def test_every_encoding_is_one_line(encode: object) -> None:
    record = attribute([line()])[0]
    out = encode(record)  # type: ignore[operator]
    assert out.count(b"\n") == 1 and out.endswith(b"\n")
