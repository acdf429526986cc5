"""CEF flow event parsing: FortiOS CEF (7.x and 5.6), escaping, rule labels, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.flows.parsers import PARSERS, MalformedLine
from connector.flows.parsers.cef import parse_cef
from connector.flows.record import FlowLine
from connector.flows.syslog import parse_syslog
from tests.connector.flows import samples

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def parse(line: str) -> FlowLine:
    message = parse_syslog(line, now=NOW)
    return PARSERS["cef"](message.body, "fgt-edge", message.time)


def test_fortios_cef_with_a_bsd_header() -> None:
    line = parse(samples.FORTIOS_CEF)
    assert line == FlowLine(
        time=datetime(2025, 12, 27, 19, 7, 55, tzinfo=UTC), device="fgt-edge", action="Allow",
        src="10.20.1.11", dst="198.51.100.235", protocol="TCP", src_port=54190, dst_port=443,
        device_rule="1", device_rule_id="1")


def test_fortios_56_cef_policy_id_in_cs5_and_rt_in_milliseconds() -> None:
    line = parse(samples.FORTIOS_CEF_56)
    assert (line.action, line.device_rule, line.device_rule_id, line.dst_port) == ("Deny", "9", "9", 22)
    assert line.time == datetime(2025, 12, 27, 19, 7, 55, tzinfo=UTC)


def test_afm_style_cef_with_rule_label_escapes_and_bsd_rt() -> None:
    body = ('CEF:0|F5|Advanced Firewall Module|17.1.0|23003137|Network Event|8|'
            'rt=Mar 14 2026 20:24:33 src=10.0.0.1 spt=40000 dst=192.0.2.2 dpt=443 proto=TCP act=Drop '
            'cs1=/Common/rule\\=x y cs1Label=Rule Name cnt=3 msg=two words a\\\\b\\nnext')
    line = parse_cef(body, "bigip", None)
    assert line.device_rule == "/Common/rule=x y"
    assert (line.action, line.count, line.protocol) == ("Deny", 3, "TCP")
    assert line.time == datetime(2026, 3, 14, 20, 24, 33, tzinfo=UTC)
    # no zone in rt: the header's time when there is one
    assert parse_cef(body, "bigip", NOW).time == NOW


def test_rt_with_a_zone_and_escaped_pipes_in_the_header() -> None:
    body = ('CEF:0|Ven\\|dor|Pro\\\\duct|1|sig|name|5|rt=Jan 02 2026 03:04:05.250 +01:00 src=10.0.0.1 '
            'dst=10.0.0.2 proto=17 act=accept')
    line = parse_cef(body, "dev", None)
    assert line.time == datetime(2026, 1, 2, 2, 4, 5, 250000, tzinfo=UTC)
    assert (line.protocol, line.src_port, line.device_rule) == ("UDP", None, None)


def test_ipv6_addresses_from_c6a2_c6a3() -> None:
    body = 'CEF:0|V|P|1|s|n|1|c6a2=2001:db8::1 c6a3=2001:db8::2 proto=58 act=deny rt=1767326645000'
    line = parse_cef(body, "dev", None)
    assert (line.src, line.dst, line.protocol) == ("2001:db8::1", "2001:db8::2", "ICMP")


@pytest.mark.parametrize(("body", "field"), [
    ("no cef here", "CEF header"),
    ("CEF:0|V|P|1|s|n", "truncated"),
    ("CEF:x|V|P|1|s|n|1|src=10.0.0.1", "version"),
    ("CEF:0|V|P|1|s|n|1|dst=10.0.0.2 proto=6 act=deny", "src"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 proto=6 act=deny", "dst"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 act=deny", "proto"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 proto=6", "act"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 proto=6 act=deny cnt=0", "cnt"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 proto=6 act=deny spt=-1", "spt"),
    ("CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 proto=6 act=deny rt=yesterday", "rt"),
])
def test_malformed_events_name_the_field(body: str, field: str) -> None:
    with pytest.raises(MalformedLine, match=field):
        parse_cef(body, "dev", NOW)


def test_no_time_needs_the_header() -> None:
    body = "CEF:0|V|P|1|s|n|1|src=10.0.0.1 dst=10.0.0.2 proto=6 act=deny"
    assert parse_cef(body, "dev", NOW).time == NOW
    with pytest.raises(MalformedLine, match="rt"):
        parse_cef(body, "dev", None)
