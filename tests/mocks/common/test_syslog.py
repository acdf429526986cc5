"""The mocks' syslog sender: UDP datagrams, RFC 6587 octet counting over TCP with reconnection,
the bounded queue, and the `/_mock/syslog` endpoint's settings."""

from __future__ import annotations

import json
import re

import pytest

from mocks.common.http import Request
from mocks.common.syslog import SyslogEndpoint, SyslogSender, SyslogTarget, octet_counted
from tests.mocks.common.listeners import free_port, tcp_listener, udp_listener


def post(endpoint: SyslogEndpoint, body: object) -> tuple[int, dict[str, object]]:
    request = Request("POST", "/_mock/syslog", "/_mock/syslog", {}, None,  # type: ignore[arg-type]
                      json.dumps(body).encode())
    response = endpoint.route(request)
    assert response is not None
    return response.status, json.loads(response.body)


@pytest.mark.parametrize(("text", "parsed"), [
    ("udp://127.0.0.1:514", SyslogTarget("udp", "127.0.0.1", 514)),
    ("tcp://collector.example:6514", SyslogTarget("tcp", "collector.example", 6514)),
    ("tcp://[::1]:601", SyslogTarget("tcp", "::1", 601)),
])
def test_targets_parse(text: str, parsed: SyslogTarget) -> None:
    assert SyslogTarget.parse(text) == parsed
    assert SyslogTarget.parse(parsed.url) == parsed


@pytest.mark.parametrize(("text", "message"), [
    ("http://127.0.0.1:514", "must start with udp:// or tcp://"),
    ("udp://127.0.0.1", "needs HOST:PORT"),
    ("tcp://127.0.0.1:99999", "invalid port"),
    ("udp://127.0.0.1:514/x", "must be just udp://HOST:PORT"),
    ("udp://127.0.0.1:514?source=fgt", "'fgt' is not an IP address"),
    ("udp://127.0.0.1:514?via=127.0.0.2", "HOST:PORT[?source=IP]"),
])
def test_bad_targets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        SyslogTarget.parse(text)


def test_udp_sends_one_datagram_per_line() -> None:
    with udp_listener() as listener:
        sender = SyslogSender(SyslogTarget.parse(listener.url))
        try:
            assert sender.send(["<189>first line", "<189>second ünïcode"]) == 2
            assert sender.flush()
            assert sorted(listener.lines(2)) == ["<189>first line", "<189>second ünïcode"]
            assert sender.stats()["sent"] == 2
        finally:
            sender.close()


def test_tcp_frames_by_octet_counting_in_bytes() -> None:
    assert octet_counted("é".encode()) == b"2 \xc3\xa9"
    with tcp_listener() as listener:
        sender = SyslogSender(SyslogTarget.parse(listener.url))
        try:
            lines = [f"<134>line {i} with spaces and ünïcode" for i in range(50)]
            sender.send(lines)
            assert listener.lines(50) == lines, "in order, one frame per line"
            assert listener.errors == []
            assert listener.connections == 1, "one connection kept open"
        finally:
            sender.close()


def test_tcp_reconnects_and_loses_nothing_queued_while_the_receiver_is_down() -> None:
    port = free_port()
    sender = SyslogSender(SyslogTarget("tcp", "127.0.0.1", port))
    try:
        sender.send(["<189>while down 1", "<189>while down 2"])
        assert not sender.flush(timeout=0.3), "nothing can be sent yet"
        with tcp_listener(port) as listener:
            assert listener.lines(2) == ["<189>while down 1", "<189>while down 2"]
            assert sender.flush()
            stats = sender.stats()
            assert stats["sent"] == 2 and stats["errors"] >= 1 and stats["dropped"] == 0
    finally:
        sender.close()


def test_the_queue_is_bounded_and_drops_are_counted() -> None:
    sender = SyslogSender(SyslogTarget("tcp", "127.0.0.1", free_port()), max_pending=2)
    try:
        queued = sender.send([f"line {i}" for i in range(6)])
        stats = sender.stats()
        assert 2 <= queued <= 3, "two wait, at most one more is being tried"
        assert stats["dropped"] == 6 - queued
    finally:
        sender.close()
    assert sender.stats()["dropped"] == 6, "closing drops what was still queued"


def test_endpoint_sets_clears_and_resets_the_target() -> None:
    start = SyslogTarget.parse("udp://127.0.0.1:5140")
    endpoint = SyslogEndpoint(start, ("default", "rfc5424"), options={"fwpolicyImplicitLog": False})
    try:
        status, body = post(endpoint, {"target": "tcp://127.0.0.1:6514", "format": "rfc5424",
                                       "fwpolicyImplicitLog": True})
        assert status == 200
        assert (body["target"], body["format"], body["fwpolicyImplicitLog"]) == \
            ("tcp://127.0.0.1:6514", "rfc5424", True)
        status, body = post(endpoint, {"target": None})
        assert (status, body["target"], body["format"]) == (200, None, "rfc5424")
        assert endpoint.emit(["dropped: no target"]) == 0
        for bad, field in (({"target": "ftp://x:1"}, "udp:// or tcp://"), ({"format": "cef"}, "format"),
                           ({"fwpolicyImplicitLog": "yes"}, "fwpolicyImplicitLog"), ({"colour": 1}, "colour"),
                           ([], "JSON object")):
            status, body = post(endpoint, bad)
            assert status == 400 and field in str(body["error"]), bad
        endpoint.reset()
        shown = endpoint.describe()
        assert (shown["target"], shown["format"], shown["fwpolicyImplicitLog"]) == \
            ("udp://127.0.0.1:5140", "default", False)
    finally:
        endpoint.close()
