"""FortiOS traffic log parsing: real-shaped lines through the syslog header, and bad ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.flows.parsers import PARSERS, MalformedLine, NotAFlow
from connector.flows.parsers.fortios import parse_fortios
from connector.flows.record import FlowLine
from connector.flows.syslog import parse_syslog
from tests.connector.flows import samples

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def parse(line: str) -> FlowLine:
    message = parse_syslog(line, now=NOW)
    return PARSERS["fortios"](message.body, "fgt-edge", message.time)


def test_implicit_deny_line() -> None:
    line = parse(samples.FORTIOS_DENY)
    assert line == FlowLine(
        time=datetime(2026, 5, 2, 6, 31, 47, 143815, tzinfo=UTC), device="fgt-edge", action="Deny",
        src="10.20.0.6", dst="203.0.113.18", protocol="TCP", src_port=61031, dst_port=7680,
        device_rule="0", device_rule_id="0")


def test_close_without_tz_takes_eventtime_in_nanoseconds() -> None:
    line = parse(samples.FORTIOS_CLOSE)
    assert line.action == "Allow"
    assert line.time == datetime(2026, 5, 10, 18, 37, 47, 369913, tzinfo=UTC)
    assert (line.src, line.src_port, line.dst, line.dst_port) == ("10.20.1.11", 58012, "198.51.100.35", 80)
    assert (line.device_rule, line.device_rule_id) == ("1", "1")


def test_named_policy_is_the_device_rule_and_the_id_is_kept() -> None:
    line = parse(samples.FORTIOS_NAMED)
    assert (line.device_rule, line.device_rule_id) == ("fc.prod-eu1.shop.allow-dns", "3426")
    assert line.protocol == "UDP"
    assert line.time == datetime(2026, 4, 23, 17, 11, 51, 390385, tzinfo=UTC)


def test_rfc5424_format_body_without_date() -> None:
    line = parse(samples.FORTIOS_RFC5424)
    assert line.time == datetime(2026, 11, 14, 6, 54, 3, 120000, tzinfo=UTC)
    assert line.action == "Allow"  # timeout: the policy let the session through
    assert line.dst_port == 443


def test_utm_log_is_not_a_flow() -> None:
    with pytest.raises(NotAFlow, match="utm"):
        parse(samples.FORTIOS_UTM)


@pytest.mark.parametrize(("word", "expected"), [
    ("accept", "Allow"), ("close", "Allow"), ("timeout", "Allow"), ("server-rst", "Allow"),
    ("client-rst", "Allow"), ("start", "Allow"), ("deny", "Deny"), ("blocked", "Deny")])
def test_actions(word: str, expected: str) -> None:
    body = f'type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=17 action="{word}" policyid=5'
    assert parse_fortios(body, "fgt", NOW).action == expected


def test_date_time_with_tz_is_converted_and_wins_over_a_shifted_eventtime() -> None:
    body = ('date=2026-01-02 time=03:04:05 eventtime=1767326645000000000 tz="+0100" type="traffic" '
            'srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"')  # eventtime one hour off
    assert parse_fortios(body, "fgt", None).time == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_wall_clock_without_zone_uses_header_time_else_utc() -> None:
    body = 'date=2026-01-02 time=03:04:05 type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"'
    assert parse_fortios(body, "fgt", None).time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    header = datetime(2026, 1, 2, 2, 4, 6, tzinfo=UTC)
    assert parse_fortios(body, "fgt", header).time == header


@pytest.mark.parametrize(("eventtime", "expected"), [
    ("1767326645", datetime(2026, 1, 2, 4, 4, 5, tzinfo=UTC)),
    ("1767326645250", datetime(2026, 1, 2, 4, 4, 5, 250000, tzinfo=UTC)),
    ("1767326645250123", datetime(2026, 1, 2, 4, 4, 5, 250123, tzinfo=UTC)),
    ("1767326645250123999", datetime(2026, 1, 2, 4, 4, 5, 250123, tzinfo=UTC))])
def test_eventtime_units_by_digits(eventtime: str, expected: datetime) -> None:
    body = f'eventtime={eventtime} srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"'
    assert parse_fortios(body, "fgt", None).time == expected


def test_csv_format_and_ipv6_and_protocol_from_service() -> None:
    body = ('date=2026-01-02,time=03:04:05,tz="+0000",type="traffic",srcip=2001:db8:0:0::10,'
            'srcport=5000,dstip=2001:db8::20,dstport=53,action="accept",policyid=2,service="udp/53"')
    line = parse_fortios(body, "fgt", None)
    assert (line.src, line.dst, line.protocol, line.dst_port) == ("2001:db8::10", "2001:db8::20", "UDP", 53)


def test_a_key_inside_a_quoted_value_is_not_a_field() -> None:
    body = ('type="traffic" srcname="laptop srcip=192.0.2.99 dstip=192.0.2.98" srcip=10.0.0.1 '
            'dstip=10.0.0.2 proto=6 action="deny" msg="x action=accept"')
    line = parse_fortios(body, "fgt", NOW)
    assert (line.src, line.dst, line.action) == ("10.0.0.1", "10.0.0.2", "Deny")


def test_escaped_quotes_in_values() -> None:
    body = ('type="traffic" srcname="say \\"srcip=192.0.2.99\\"" srcip=10.0.0.1 dstip=10.0.0.2 '
            'proto=6 action="deny" policyname="a \\"quoted\\" name"')
    line = parse_fortios(body, "fgt", NOW)
    assert (line.src, line.device_rule) == ("10.0.0.1", 'a "quoted" name')


@pytest.mark.parametrize(("body", "field"), [
    ('type="traffic" dstip=10.0.0.2 proto=6 action="deny"', "srcip"),
    ('type="traffic" srcip=10.0.0.1 proto=6 action="deny"', "dstip"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6', "action"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 action="deny"', "proto"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 action="deny" service="HTTP"', "proto"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="wave"', "action"),
    ('type="traffic" srcip=10.0.0.1 dstip=nowhere proto=6 action="deny"', "dstip"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 dstport=99999 proto=6 action="deny"', "dstport"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny" date=2026-13-40 time=1:2',
     "date"),
    ('type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny" policyname="cut', "policyname"),
])
def test_malformed_lines_name_the_field(body: str, field: str) -> None:
    with pytest.raises(MalformedLine, match=field) as caught:
        parse_fortios(body, "fgt", NOW)
    assert body not in str(caught.value)


def test_no_time_at_all_needs_a_header_time() -> None:
    body = 'type="traffic" srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"'
    assert parse_fortios(body, "fgt", NOW).time == NOW
    with pytest.raises(MalformedLine, match="eventtime"):
        parse_fortios(body, "fgt", None)


def test_truncated_real_line() -> None:
    cut = samples.FORTIOS_NAMED[:samples.FORTIOS_NAMED.index("dstip=")]
    with pytest.raises(MalformedLine, match="dstip"):
        parse(cut)


def test_the_error_never_holds_the_whole_line() -> None:
    long_value = "x" * 500
    body = f'type="traffic" srcip={long_value} dstip=10.0.0.2 proto=6 action="deny"'
    with pytest.raises(MalformedLine) as caught:
        parse_fortios(body, "fgt", NOW)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(("eventtime", "expected"), [
    ("1767319445999999000", datetime(2026, 1, 2, 2, 4, 5, 999999, tzinfo=UTC)),  # within a second
    ("1767319444000001000", datetime(2026, 1, 2, 2, 4, 4, 1, tzinfo=UTC)),
    ("1767319446000000000", datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)),  # a second off: the wall clock
    ("1767319444000000000", datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)),
])
def test_eventtime_refines_a_zoned_wall_clock_within_a_second(eventtime: str, expected: datetime) -> None:
    body = (f'date=2026-01-02 time=03:04:05 eventtime={eventtime} tz="+0100" type="traffic" '
            'srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"')
    for _ in range(2):  # the second time from the remembered wall clock
        assert parse_fortios(body, "fgt", None).time == expected


@pytest.mark.parametrize(("eventtime", "message"), [("99" * 20, "out of range"), ("12x", "not a Unix time")])
def test_a_bad_eventtime_is_refused_beside_a_zoned_wall_clock(eventtime: str, message: str) -> None:
    body = (f'date=2026-01-02 time=03:04:05 eventtime={eventtime} tz="+0100" type="traffic" '
            'srcip=10.0.0.1 dstip=10.0.0.2 proto=6 action="deny"')
    with pytest.raises(MalformedLine, match=message):
        parse_fortios(body, "fgt", None)
