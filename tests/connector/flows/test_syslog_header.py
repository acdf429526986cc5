"""Syslog header parsing: RFC 5424, RFC 3164 and the variants firewalls and relays send."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.flows.syslog import parse_syslog
from tests.connector.flows import samples

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def test_rfc5424_with_structured_data_and_bom() -> None:
    line = ('<165>1 2026-12-06T15:59:58.123456789+01:00 fw1.example app 42 ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Appl\\]ication"][x@1 a="b \\"c\\""] \ufeffhello world')
    message = parse_syslog(line, now=NOW)
    assert message.priority == 165
    assert message.time == datetime(2026, 12, 6, 14, 59, 58, 123456, tzinfo=UTC)
    assert (message.hostname, message.app) == ("fw1.example", "app")
    assert message.structured_data == ('[exampleSDID@32473 iut="3" eventSource="Appl\\]ication"]'
                                       '[x@1 a="b \\"c\\""]')
    assert message.message == "hello world"
    assert message.body == message.structured_data + " hello world"


def test_rfc5424_nil_fields_and_no_message() -> None:
    message = parse_syslog("<14>1 - - - - - -", now=NOW)
    assert (message.priority, message.time, message.hostname, message.app) == (14, None, None, None)
    assert (message.structured_data, message.message, message.body) == (None, "", "")


def test_rfc5424_structured_data_without_message() -> None:
    message = parse_syslog('<14>1 2026-01-01T00:00:00Z h a - - [id k="v"]', now=NOW)
    assert (message.structured_data, message.message, message.body) == ('[id k="v"]', "", '[id k="v"]')


def test_rfc5424_with_unterminated_structured_data_is_all_message() -> None:
    message = parse_syslog('<14>1 2026-01-01T00:00:00Z h a - - [id k="v', now=NOW)
    assert message.time is None
    assert message.message == '1 2026-01-01T00:00:00Z h a - - [id k="v'


def test_rfc3164_without_year_takes_the_year_before_now() -> None:
    message = parse_syslog("<34>Oct  1 22:14:15 mymachine su[230]: 'su root' failed", now=NOW)
    assert message.priority == 34
    assert message.time == datetime(2026, 10, 1, 22, 14, 15, tzinfo=UTC)
    assert (message.hostname, message.app, message.message) == ("mymachine", "su", "'su root' failed")
    late = parse_syslog("<34>Dec 31 23:59:59 host app: x", now=datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert late.time == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    early = parse_syslog("<34>Jan  1 00:00:01 host app: x", now=datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert early.time == datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_rfc3164_with_year_and_fraction() -> None:
    message = parse_syslog("<134>Mar 14 2026 20:24:33.250 bigip1 tmm1[1234]: body text", now=NOW)
    assert message.time == datetime(2026, 3, 14, 20, 24, 33, 250000, tzinfo=UTC)
    assert (message.hostname, message.app, message.message) == ("bigip1", "tmm1", "body text")


def test_rfc3164_without_host_or_tag() -> None:
    tagged = parse_syslog("<13>Dec  6 12:00:00 app: message", now=NOW)
    assert (tagged.hostname, tagged.app, tagged.message) == (None, "app", "message")
    pairs = parse_syslog('<189>Dec  6 12:00:00 fgt1 date=2026-12-06 srcip=10.0.0.1', now=NOW)
    assert (pairs.hostname, pairs.app, pairs.message) == ("fgt1", None, "date=2026-12-06 srcip=10.0.0.1")
    ipv6 = parse_syslog("<13>Dec  6 12:00:00 fe80::1 kv=1", now=NOW)
    assert (ipv6.hostname, ipv6.message) == ("fe80::1", "kv=1")


def test_a_cef_message_is_not_taken_for_a_tag() -> None:
    message = parse_syslog(samples.FORTIOS_CEF, now=NOW)
    assert (message.hostname, message.app) == ("FGT-A-LOG", None)
    assert message.message.startswith("CEF: 0|Fortinet|")


def test_fortios_default_format_has_no_header() -> None:
    message = parse_syslog(samples.FORTIOS_DENY + "\r\n", now=NOW)
    assert (message.priority, message.time, message.hostname) == (189, None, None)
    assert message.message == samples.FORTIOS_DENY.removeprefix("<189>")


def test_relay_iso_prefix() -> None:
    message = parse_syslog("2026-04-03T00:31:09.976660+00:00 192.168.2.1 date=2026-04-03 srcip=x", now=NOW)
    assert message.time == datetime(2026, 4, 3, 0, 31, 9, 976660, tzinfo=UTC)
    assert (message.hostname, message.message) == ("192.168.2.1", "date=2026-04-03 srcip=x")


def test_relay_bsd_prefix_before_rfc5424_keeps_the_inner_header() -> None:
    message = parse_syslog(samples.AFM_RFC5424, now=NOW)
    assert message.time == datetime(2026, 3, 15, 3, 24, 34, tzinfo=UTC)
    assert (message.hostname, message.app) == ("bigip-dc1.example", "tmm")
    assert message.structured_data is not None and message.structured_data.startswith("[F5@12276 ")
    assert message.message == "203.0.113.251,10.30.5.239,5353,5353"
    relayed = parse_syslog("Dec  6 15:00:00 relay <14>1 2026-12-06T14:00:00Z dev app - - - hi", now=NOW)
    assert (relayed.priority, relayed.hostname, relayed.message) == (14, "dev", "hi")


@pytest.mark.parametrize("line", ["", "plain text", "<999>x", "<12", "Foo  1 00:00:00 x", "<1>1 bad"])
def test_anything_else_is_message(line: str) -> None:
    message = parse_syslog(line, now=NOW)
    assert message.time is None
    assert line.endswith(message.message)
