"""`POST /_mock/traffic` on the BIG-IP mock with a staged firewall policy on the virtual server
(`policyFirewallStaged`, where the connector puts `mode: Audit` rules): the staged policy's first
matching rule is reported and logged as its own AFM line (`acl_policy_type="Staged"`) after the
enforced decision's line, and never changes the enforced decision."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.flows.parsers import PARSERS, StagedMatch
from connector.flows.syslog import parse_syslog
from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer
from tests.mocks.bigip.test_traffic import (
    DECLARE,
    Device,
    declaration,
    declared_device,
    parse_rfc5424,
    rule,
    use,
)

STAGED_POLICY = "/T1/Shared/audit_policy"


def staged_declaration() -> dict[str, Any]:
    """`declaration()` of test_traffic with a staged policy on `egress_vs`: `audit_rules` holds
    `audit_pay` (reject 10.244.1.0/24 to dst_pay), `audit_pay_too` (the same flows, after it: never
    the first match) and `audit_quiet` (reject 10.244.9.0/24 to anything, not logging; the profile
    does not log rejects)."""
    adc = copy.deepcopy(declaration())
    shared = adc["T1"]["Shared"]
    shared["audit_rules"] = {"class": "Firewall_Rule_List", "rules": [
        rule("audit_pay", "reject", log=True, source={"addresses": ["10.244.1.0/24"]},
             destination={"addressLists": use("dst_pay")}),
        rule("audit_pay_too", "drop", log=True, source={"addresses": ["10.244.1.0/24"]},
             destination={"addressLists": use("dst_pay")}),
        rule("audit_quiet", "reject", source={"addresses": ["10.244.9.0/24"]}),
    ]}
    shared["audit_policy"] = {"class": "Firewall_Policy", "rules": use("audit_rules")}
    shared["egress_vs"]["policyFirewallStaged"] = {"use": "audit_policy"}
    return adc


@pytest.fixture
def staged() -> Iterator[Device]:
    with declared_device(staged_declaration()) as found:
        yield found


def enforced_only(flow: dict[str, Any]) -> dict[str, Any]:
    """The answer of a mock holding the same declaration without the staged policy."""
    app = BigIpApp(processing_ms=0)
    with HttpServer(app) as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
        assert api.post(DECLARE, json=declaration()).status_code == 200
        answer = api.post("/_mock/traffic", json={"srcPort": 40000, "protocol": "TCP", **flow}).json()
    return dict(answer)


def test_a_staged_match_is_sent_after_the_enforced_line_and_decides_nothing(staged: Device) -> None:
    flow = {"src": "10.244.1.5", "srcPort": 51000, "dst": "203.0.113.9", "dstPort": 443,
            "time": "2026-03-01T10:11:12Z", "count": 2}
    answer = staged.traffic(**flow)
    without = enforced_only(flow)
    assert (answer["action"], answer["rule"], answer["policy"]) == \
        (without["action"], without["rule"], without["policy"]) == \
        ("accept-decisively", "allow_web", "/T1/Shared/egress_policy"), "the enforced decision is unchanged"
    assert without["staged"] is None
    assert answer["staged"] == {"action": "reject", "rule": "audit_pay", "policy": STAGED_POLICY}, \
        "the staged policy's first match (audit_pay_too matches too, later)"
    assert answer["logged"] == 4, "per flow: the enforced line and the staged line"
    lines = staged.syslog.lines(4)
    assert len(lines) == 4 and lines[0:2] == lines[2:4], "each flow logs the same two lines, in order"
    enforced, staged_line = (parse_rfc5424(line)[0] for line in lines[:2])
    keys = ("acl_policy_name", "acl_policy_type", "acl_rule_name", "action", "drop_reason", "context_name",
            "context_type", "source_ip", "dest_ip", "dest_port", "date_time")
    assert {k: enforced[k] for k in keys} == {
        "acl_policy_name": "/T1/Shared/egress_policy", "acl_policy_type": "Enforced",
        "acl_rule_name": "allow_web", "action": "Accept Decisively", "drop_reason": "",
        "context_name": "/T1/Shared/egress_vs", "context_type": "Virtual Server", "source_ip": "10.244.1.5",
        "dest_ip": "203.0.113.9", "dest_port": "443", "date_time": "Mar 01 2026 10:11:12"}
    assert {k: staged_line[k] for k in keys} == {
        "acl_policy_name": STAGED_POLICY, "acl_policy_type": "Staged", "acl_rule_name": "audit_pay",
        "action": "Reject", "drop_reason": "", "context_name": "/T1/Shared/egress_vs",
        "context_type": "Virtual Server", "source_ip": "10.244.1.5", "dest_ip": "203.0.113.9",
        "dest_port": "443", "date_time": "Mar 01 2026 10:11:12"}


@pytest.mark.parametrize("fmt", ["rfc5424", "splunk"])
def test_the_connector_reads_the_staged_line_as_a_staged_match(staged: Device, fmt: str) -> None:
    assert staged.api.post("/_mock/syslog", json={"format": fmt}).status_code == 200
    staged.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443, time="2026-03-01T10:11:12Z")
    first, second = staged.syslog.lines(2)
    message = parse_syslog(first)
    line = PARSERS["bigip-afm"](message.body, "bigip1", message.time)
    assert (line.action, line.device_rule) == ("Allow", "allow_web")
    message = parse_syslog(second)
    with pytest.raises(StagedMatch):
        PARSERS["bigip-afm"](message.body, "bigip1", message.time)


def test_a_staged_match_logs_by_the_same_conditions_as_an_enforced_one(staged: Device) -> None:
    quiet = staged.traffic(src="10.244.9.2", dst="198.51.100.1", dstPort=22)
    assert quiet["staged"] == {"action": "reject", "rule": "audit_quiet", "policy": STAGED_POLICY}
    assert (quiet["action"], quiet["rule"], quiet["logged"]) == ("drop", "drop_rest", 1), \
        "the enforced drop logs (the profile logs drops), the staged reject not (no flag, no loggingEnabled)"
    none = staged.traffic(src="10.48.1.1", dst="198.51.100.1", dstPort=22)
    assert none["staged"] is None, "no staged rule matches"
    assert (none["action"], none["logged"]) == ("drop", 1)
    parsed = [parse_rfc5424(line)[0] for line in staged.syslog.lines(2)]
    assert [(p["acl_policy_type"], p["acl_rule_name"], p["source_ip"]) for p in parsed] == [
        ("Enforced", "drop_rest", "10.244.9.2"), ("Enforced", "drop_lab", "10.48.1.1")]


def test_no_staged_evaluation_when_an_earlier_context_decides(staged: Device) -> None:
    rules = staged.app.tenants["Common"]["Shared"]["rd_policy"]["rules"]
    rules.insert(0, rule("rd_drop_pay", "drop", log=True, source={"addresses": ["10.244.1.0/24"]}))
    answer = staged.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443)
    assert (answer["action"], answer["rule"], answer["context"], answer["staged"], answer["logged"]) == \
        ("drop", "rd_drop_pay", "/Common/0", None, 1), "dropped in the route domain: never at the virtual"


def test_a_listener_with_only_a_staged_policy(staged: Device) -> None:
    del staged.app.tenants["T1"]["Shared"]["egress_vs"]["policyFirewallEnforced"]
    answer = staged.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443)
    assert (answer["action"], answer["rule"]) == ("accept", None), "ADC mode: nothing enforced"
    assert answer["staged"]["rule"] == "audit_pay" and answer["logged"] == 1
    assert parse_rfc5424(staged.syslog.lines(1)[0])[0]["acl_policy_type"] == "Staged"
