"""A syslog target's `?source=IP`: lines leave from that local address (UDP and TCP), so that
several mocks on one host reach a receiver as distinct senders."""

from __future__ import annotations

import socket

import pytest

from mocks.common.syslog import SyslogSender, SyslogTarget


def test_the_source_is_part_of_the_target() -> None:
    target = SyslogTarget.parse("udp://127.0.0.1:5514?source=127.0.0.2")
    assert (target.host, target.port, target.source) == ("127.0.0.1", 5514, "127.0.0.2")
    assert SyslogTarget.parse(target.url) == target
    assert SyslogTarget.parse("tcp://127.0.0.1:5514").source is None
    with pytest.raises(ValueError, match=r"\?source=IP"):
        SyslogTarget.parse("udp://127.0.0.1:5514?via=127.0.0.2")


def test_udp_lines_leave_from_the_source() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        sender = SyslogSender(SyslogTarget("udp", "127.0.0.1", receiver.getsockname()[1], "127.0.0.2"))
        try:
            sender.send(["<189>hello"])
            data, peer = receiver.recvfrom(100)
        finally:
            sender.close()
    assert data == b"<189>hello" and peer[0] == "127.0.0.2"


def test_tcp_connections_come_from_the_source() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(10)
        sender = SyslogSender(SyslogTarget("tcp", "127.0.0.1", listener.getsockname()[1], "127.0.0.3"))
        try:
            sender.send(["<189>hello"])
            connection, peer = listener.accept()
            with connection:
                connection.settimeout(10)
                data = connection.recv(100)
        finally:
            sender.close()
    assert peer[0] == "127.0.0.3" and data == b"10 <189>hello"
