"""BIG-IP AFM lines of a staged (audit) policy's matches: not enforced decisions. The parser
raises StagedMatch for them in every shape (RFC 5424 structured data, Splunk pairs, the field
list); the receiver counts them `staged` and hands only the enforced lines on. Lines are built by
the BIG-IP mock's own log-line code (which writes `acl_policy_type="Enforced"`; a staged match is
the same line with the type AFM gives it, `Staged`)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from connector.flows.parsers import PARSERS, MalformedLine, NotAFlow, StagedMatch
from connector.flows.parsers.bigip_afm import FIELD_ORDER
from connector.flows.receiver import Sender
from connector.flows.syslog import parse_syslog
from mocks.bigip.logline import afm_line
from mocks.bigip.traffic import ContextHit
from mocks.common.traffic import Flow
from tests.connector.flows.test_receiver import Collector, running, udp_send, wait_for

WHEN = datetime(2026, 12, 6, 16, 20, 1, tzinfo=UTC)
FLOW = Flow(src=ipaddress.ip_address("10.244.1.7"), dst=ipaddress.ip_address("203.0.113.10"),
            protocol="TCP", src_port=40000, dst_port=443, count=1, time=WHEN)
ENFORCED = ContextHit("Virtual Server", "/fc_c1/egress/vs", "fc_c1", "/fc_c1/egress/fc_policy",
                      "fc_shop_pay", "accept", True, "/Common/0")
STAGED = ContextHit("Virtual Server", "/fc_c1/egress/vs", "fc_c1", "/fc_c1/egress/audit_policy",
                    "fc_shop_audit", "drop", True, "/Common/0")


def mock_line(hit: ContextHit, fmt: str, *, staged: bool) -> str:
    line = afm_line(hit, FLOW, hostname="bigip1.example", mgmt_ip="192.0.2.5", version="17.1.0",
                    fmt=fmt)
    assert 'acl_policy_type="Enforced"' in line  # what the mock writes for every match
    return line.replace('acl_policy_type="Enforced"', 'acl_policy_type="Staged"') if staged else line


def parse(line: str) -> object:
    message = parse_syslog(line)
    return PARSERS["bigip-afm"](message.body, "bigip1", message.time)


@pytest.mark.parametrize("fmt", ["rfc5424", "splunk"])
def test_a_staged_match_is_not_a_flow_and_an_enforced_one_is(fmt: str) -> None:
    enforced = parse(mock_line(ENFORCED, fmt, staged=False))
    assert getattr(enforced, "device_rule", None) == "fc_shop_pay"
    with pytest.raises(StagedMatch, match="acl_policy_type 'Staged'") as raised:
        parse(mock_line(STAGED, fmt, staged=True))
    assert isinstance(raised.value, NotAFlow) and isinstance(raised.value, MalformedLine)


def test_a_staged_match_in_the_field_list_and_in_any_case() -> None:
    values = {"acl_policy_name": "/fc_c1/egress/audit_policy", "acl_policy_type": "staged",
              "acl_rule_name": "fc_shop_audit", "action": "Drop", "date_time": "Dec 06 2026 16:20:01",
              "dest_ip": "203.0.113.10", "dest_port": "443", "ip_protocol": "TCP",
              "source_ip": "10.244.1.7", "source_port": "40000"}
    with pytest.raises(StagedMatch):
        PARSERS["bigip-afm"](",".join(values.get(name, "") for name in FIELD_ORDER), "bigip1", WHEN)
    values["acl_policy_type"] = "Enforced"
    line = PARSERS["bigip-afm"](",".join(values.get(name, "") for name in FIELD_ORDER), "bigip1", WHEN)
    assert (line.action, line.device_rule) == ("Deny", "fc_shop_audit")


def test_the_receiver_counts_staged_lines_and_passes_only_enforced_ones() -> None:
    collector = Collector()
    sender = Sender(device="bigip1", addresses=("127.0.0.1",), format="bigip-afm")
    lines = [mock_line(ENFORCED, "rfc5424", staged=False), mock_line(STAGED, "rfc5424", staged=True),
             mock_line(STAGED, "splunk", staged=True), mock_line(ENFORCED, "splunk", staged=False)]
    with running(collector, (sender,)) as receiver:
        udp_send(receiver, [line.encode() for line in lines])
        wait_for(lambda: collector.counted("bigip1", "staged") == 2 and len(collector.lines) == 2,
                 "the staged count and the enforced lines")
    assert [line.device_rule for line in collector.lines] == ["fc_shop_pay", "fc_shop_pay"]
    assert collector.counted("bigip1", "malformed") == 0
