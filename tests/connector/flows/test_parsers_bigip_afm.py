"""BIG-IP AFM network firewall log parsing: structured data, Splunk pairs, the field list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.flows.parsers import PARSERS, MalformedLine
from connector.flows.parsers.bigip_afm import FIELD_ORDER, field_list_parser, parse_bigip_afm
from connector.flows.record import FlowLine
from connector.flows.syslog import parse_syslog
from tests.connector.flows import samples

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def parse(line: str) -> FlowLine:
    message = parse_syslog(line, now=NOW)
    return PARSERS["bigip-afm"](message.body, "bigip-dc1", message.time)


def test_rfc5424_structured_data_behind_a_relay_prefix() -> None:
    line = parse(samples.AFM_RFC5424)
    # date_time has no zone: the RFC 5424 header's time (-07:00) is the flow's time
    assert line == FlowLine(
        time=datetime(2026, 3, 15, 3, 24, 34, tzinfo=UTC), device="bigip-dc1", action="Deny",
        src="10.30.5.239", dst="203.0.113.251", protocol="UDP", src_port=5353, dst_port=5353,
        device_rule="fc_shop_deny_all")


def test_splunk_pairs_with_iso_time_and_route_domain() -> None:
    line = parse(samples.AFM_SPLUNK)
    assert line.time == datetime(2026, 12, 18, 3, 37, 19, tzinfo=UTC)
    assert (line.action, line.src, line.src_port, line.dst, line.dst_port, line.protocol) == (
        "Allow", "10.30.10.210", 9607, "198.51.100.140", 80, "TCP")
    assert line.device_rule == "fc_shop_allow_payments"


def test_rfc3164_header_with_tmm_tag() -> None:
    message = parse_syslog(samples.AFM_RFC3164, now=NOW)
    assert (message.hostname, message.app) == ("bigip-dc1", "tmm")
    assert parse(samples.AFM_RFC3164) == parse(samples.AFM_SPLUNK)


def test_field_list_in_the_documented_order() -> None:
    line = parse(samples.AFM_FIELD_LIST)
    assert line == FlowLine(
        time=datetime(2026, 12, 17, 22, 46, 4, tzinfo=UTC), device="bigip-dc1", action="Deny",
        src="10.30.82.144", dst="10.0.2.101", protocol="TCP", src_port=62204, dst_port=80,
        device_rule="ping")


def test_unquoted_field_list_and_a_custom_order() -> None:
    values = dict.fromkeys(FIELD_ORDER, "")
    values.update(action="Accept Decisively", source_ip="10.1.1.1", dest_ip="10.2.2.2",
                  ip_protocol="UDP", dest_port="53", acl_rule_name="dns",
                  date_time="Jan  5 2026 01:02:03")
    unquoted = ",".join(values[name] for name in FIELD_ORDER)
    line = parse_bigip_afm(unquoted, "bigip", None)
    assert (line.action, line.src, line.dst, line.dst_port, line.src_port, line.device_rule) == (
        "Allow", "10.1.1.1", "10.2.2.2", 53, None, "dns")
    assert line.time == datetime(2026, 1, 5, 1, 2, 3, tzinfo=UTC)
    custom = field_list_parser(("source_ip", "dest_ip", "dest_port", "ip_protocol", "action"))
    line = custom("10.1.1.1,10.2.2.2,443,TCP,Drop", "bigip", NOW)
    assert (line.src, line.dst, line.dst_port, line.action, line.time) == (
        "10.1.1.1", "10.2.2.2", 443, "Deny", NOW)
    with pytest.raises(ValueError, match="action"):
        field_list_parser(("source_ip", "dest_ip", "ip_protocol"))


@pytest.mark.parametrize(("word", "expected"), [
    ("Accept", "Allow"), ("Accept Decisively", "Allow"), ("Allow", "Allow"), ("Drop", "Deny"),
    ("Reject", "Deny")])
def test_actions(word: str, expected: str) -> None:
    body = f'action="{word}",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP"'
    assert parse_bigip_afm(body, "bigip", NOW).action == expected


def test_dos_event_with_its_protocol_cut_names_ip_protocol() -> None:
    with pytest.raises(MalformedLine, match="ip_protocol"):
        parse(samples.AFM_DOS_TRUNCATED)


def test_empty_rule_name_is_no_rule_and_no_time_takes_the_header() -> None:
    body = 'acl_rule_name="",action="Drop",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="ICMP"'
    line = parse_bigip_afm(body, "bigip", NOW)
    assert (line.device_rule, line.protocol, line.time, line.src_port) == (None, "ICMP", NOW, None)
    with pytest.raises(MalformedLine, match="date_time"):
        parse_bigip_afm(body, "bigip", None)


@pytest.mark.parametrize(("body", "field"), [
    ('action="Drop",dest_ip="10.0.0.2",ip_protocol="TCP"', "source_ip"),
    ('action="Drop",source_ip="10.0.0.1",ip_protocol="TCP"', "dest_ip"),
    ('source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP"', "action"),
    ('action="Shrug",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP"', "action"),
    ('action="Drop",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP",dest_port="http"',
     "dest_port"),
    ('action="Drop",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP",date_time="Foo 1 2026 1"',
     "date_time"),
    ('action="Drop",source_ip="10.0.0.1",dest_ip="10.0.0.2",ip_protocol="TCP",date_time="Feb 30 2026 '
     '01:02:03"', "date_time"),
    ('"/Common/app","Enforced","ping","Drop","host"', "field list"),
])
def test_malformed_lines_name_the_field(body: str, field: str) -> None:
    with pytest.raises(MalformedLine, match=field):
        parse_bigip_afm(body, "bigip", None)


def test_truncated_structured_data() -> None:
    cut = samples.AFM_RFC5424[:samples.AFM_RFC5424.index("source_ip=") + 14]
    with pytest.raises(MalformedLine, match="source_ip"):
        parse(cut)
