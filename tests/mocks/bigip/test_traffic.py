"""`POST /_mock/traffic` on the BIG-IP mock: AFM's decision over the declared tenants (route-domain
then virtual-server context, rule lists in order, accept vs accept-decisively, ADC-mode default)
and the AFM log lines it sends to a real syslog socket."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer
from mocks.common.syslog import SyslogTarget
from tests.mocks.common.listeners import UdpListener, tcp_listener, udp_listener

DECLARE = "/mgmt/shared/appsvcs/declare"
RFC5424_LINE = re.compile(r'^<134>1 (?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00) bigip1\.mock\.local tmm '
                          r'(?P<pid>\d+) 23003137 \[F5@12276 (?P<sd>(?:[a-z_]+="(?:[^"\\\]]|\\.)*" ?)+)\]'
                          r'(?: (?P<msg>.*))?$')
SD_PAIR = re.compile(r'([a-z_]+)="((?:[^"\\\]]|\\.)*)"')
SPLUNK_LINE = re.compile(r'^(?:[a-z_]+="[^"]*",)*[a-z_]+="[^"]*"$')
PROFILE_FIELDS = ["date-time", "acl-rule-name", "action", "src-ip", "src-port", "dest-ip", "dest-port",
                  "protocol", "route-domain"]


def rule(name: str, action: str, protocol: str = "any", log: bool = False, **sides: Any) -> dict[str, Any]:
    return {"name": name, "action": action, "protocol": protocol, "loggingEnabled": log, **sides}


def use(name: str) -> list[dict[str, str]]:
    return [{"use": name}]


def declaration() -> dict[str, Any]:
    """Tenant T1: a forwarding virtual server enforcing `egress_policy` (rule lists rules_a then
    rules_b) with a log profile logging drops; Common: a route-domain policy on /Common/0."""
    shared = {
        "class": "Application", "template": "shared",
        "src_inner": {"class": "Firewall_Address_List", "addresses": ["10.244.1.0/24"]},
        "src_outer": {"class": "Firewall_Address_List", "addresses": ["10.244.9.1-10.244.9.5"],
                      "addressLists": use("src_inner")},
        "dst_pay": {"class": "Firewall_Address_List", "addresses": ["203.0.113.0/24"],
                    "fqdns": ["api.example.com"]},
        "ports_web": {"class": "Firewall_Port_List", "ports": [443, "8000-8080"]},
        "rules_a": {"class": "Firewall_Rule_List", "rules": [
            rule("allow_web", "accept-decisively", "tcp", log=True,
                 source={"addressLists": use("src_outer")},
                 destination={"addressLists": use("/T1/Shared/dst_pay"), "portLists": use("ports_web")}),
            rule("deny_pay", "reject", source={"addressLists": use("src_outer")},
                 destination={"addressLists": use("dst_pay")}),
        ]},
        "rules_b": {"class": "Firewall_Rule_List", "rules": [
            rule("drop_rest", "drop", source={"addressLists": use("src_outer")}),
            rule("drop_lab", "drop", source={"addresses": ["10.48.0.0/12"]}),
            rule("accept_plain", "accept"),
        ]},
        "egress_policy": {"class": "Firewall_Policy", "rules": [{"use": "rules_a"}, {"use": "rules_b"}]},
        "egress_log": {"class": "Security_Log_Profile", "network": {
            "publisher": {"bigip": "/Common/local-db-publisher"}, "logRuleMatchAccepts": False,
            "logRuleMatchDrops": True, "logRuleMatchRejects": False,
            "storageFormat": {"fields": PROFILE_FIELDS}}},
        "egress_vs": {"class": "Service_L4", "virtualAddresses": ["0.0.0.0"], "virtualPort": 0,
                      "layer4": "any", "policyFirewallEnforced": {"use": "egress_policy"},
                      "securityLogProfiles": [{"use": "egress_log"}]},
    }
    common = {"class": "Application", "template": "shared", "rd_policy": {
        "class": "Firewall_Policy", "routeDomainEnforcement": [{"bigip": "/Common/0"}], "rules": [
            rule("rd_accept", "accept", log=True, source={"addresses": ["10.50.0.0/16"]}),
            rule("rd_decisive", "accept-decisively", source={"addresses": ["10.51.0.0/16"]}),
            rule("rd_drop", "drop", log=True, source={"addresses": ["10.52.0.0/16"]}),
        ]}}
    return {"class": "ADC", "schemaVersion": "3.56.0",
            "T1": {"class": "Tenant", "Shared": shared},
            "Common": {"class": "Tenant", "Shared": common}}


class Device:
    def __init__(self, app: BigIpApp, api: httpx.Client, syslog: UdpListener) -> None:
        self.app, self.api, self.syslog = app, api, syslog

    def traffic(self, **flow: Any) -> dict[str, Any]:
        body = {"srcPort": 40000, "protocol": "TCP", **flow}
        response = self.api.post("/_mock/traffic", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def decided(self, src: str, dst: str, port: int, **extra: Any) -> tuple[str, str | None]:
        answer = self.traffic(src=src, dst=dst, dstPort=port, **extra)
        return answer["action"], answer["rule"]


@contextlib.contextmanager
def declared_device(document: dict[str, Any]) -> Iterator[Device]:
    """A served mock holding `document`, logging to a UDP listener."""
    with udp_listener() as syslog:
        app = BigIpApp(processing_ms=0, syslog=SyslogTarget.parse(syslog.url))
        with HttpServer(app) as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
            response = api.post(DECLARE, json=document)
            assert response.status_code == 200, response.text
            yield Device(app, api, syslog)
        app.syslog.close()


@pytest.fixture
def device() -> Iterator[Device]:
    with declared_device(declaration()) as found:
        yield found


def parse_rfc5424(line: str) -> tuple[dict[str, str], str | None]:
    match = RFC5424_LINE.match(line)
    assert match, line
    pairs = {k: v.replace('\\"', '"').replace("\\]", "]") for k, v in SD_PAIR.findall(match["sd"])}
    return pairs, match["msg"]


def test_first_match_over_rule_lists_in_policy_order(device: Device) -> None:
    d = device
    assert d.decided("10.244.1.5", "203.0.113.9", 443) == ("accept-decisively", "allow_web"), "nested list"
    assert d.decided("10.244.9.5", "203.0.113.9", 8080) == ("accept-decisively", "allow_web"), "range ends"
    assert d.decided("10.244.9.6", "203.0.113.9", 443) == ("accept", "accept_plain"), "outside the range"
    assert d.decided("10.244.1.5", "203.0.113.9", 8081) == ("reject", "deny_pay"), "port outside the list"
    assert d.decided("10.244.1.5", "203.0.113.9", 443, protocol="UDP") == ("reject", "deny_pay"), \
        "allow_web is tcp only"
    assert d.decided("10.244.1.5", "198.51.100.1", 443) == ("drop", "drop_rest"), "second rule list"
    assert d.decided("10.7.0.1", "198.51.100.1", 22) == ("accept", "accept_plain")
    answer = d.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443)
    assert (answer["policy"], answer["context"]) == ("/T1/Shared/egress_policy", "/T1/Shared/egress_vs")


def test_fqdns_match_a_destination_resolved_from_that_name(device: Device) -> None:
    assert device.decided("10.244.1.5", "192.0.2.9", 443) == ("drop", "drop_rest")
    assert device.decided("10.244.1.5", "192.0.2.9", 443, dstName="api.EXAMPLE.com") == \
        ("accept-decisively", "allow_web")


def test_route_domain_context_comes_first_and_accept_decisively_ends_the_evaluation(device: Device) -> None:
    d = device
    assert d.decided("10.50.1.1", "198.51.100.1", 22) == ("drop", "drop_lab"), \
        "accept hands the flow on to the virtual server, whose policy drops it"
    assert d.decided("10.51.1.1", "198.51.100.1", 22) == ("accept-decisively", "rd_decisive"), \
        "accept-decisively skips the virtual server's policy"
    assert d.decided("10.52.1.1", "198.51.100.1", 22) == ("drop", "rd_drop")
    assert d.decided("10.51.1.1", "198.51.100.1", 22, routeDomain="0") == ("accept-decisively", "rd_decisive")
    assert d.decided("10.51.1.1", "198.51.100.1", 22, routeDomain="/Common/7") == ("drop", "drop_lab"), \
        "no policy enforced on route domain 7"


def test_no_matching_rule_is_adc_mode_accept(device: Device) -> None:
    answer = device.traffic(src="fd00::1", dst="2001:db8::1", dstPort=443)
    assert (answer["action"], answer["rule"], answer["context"], answer["logged"]) == \
        ("accept", None, None, 0), "no IPv6 listener, no route-domain rule: the default"


def test_virtual_servers_are_chosen_by_specificity(device: Device) -> None:
    tenant = declaration()["T1"]
    shared = tenant["Shared"]
    shared["rules_c"] = {"class": "Firewall_Rule_List", "rules": [rule("web_only", "reject")]}
    shared["web_policy"] = {"class": "Firewall_Policy", "rules": [{"use": "rules_c"}]}
    shared["web_vs"] = {"class": "Service_L4", "virtualAddresses": ["198.51.100.0/24"], "virtualPort": 443,
                        "layer4": "tcp", "policyFirewallEnforced": {"use": "web_policy"}}
    assert device.api.post(f"{DECLARE}/T1", json={"class": "ADC", "schemaVersion": "3.56.0",
                                                  "T1": tenant}).status_code == 200
    assert device.decided("10.7.0.1", "198.51.100.1", 443) == ("reject", "web_only")
    assert device.decided("10.7.0.1", "198.51.100.1", 80) == ("accept", "accept_plain"), "port 80: wildcard"
    assert device.decided("10.7.0.1", "198.51.100.1", 443, protocol="UDP") == ("accept", "accept_plain")


def test_logged_matches_are_sent_as_afm_rfc5424_lines(device: Device) -> None:
    d = device
    answer = d.traffic(src="10.244.1.5", srcPort=51000, dst="203.0.113.9", dstPort=443,
                       time="2026-03-01T10:11:12+01:00", count=2)
    assert answer["logged"] == 2, "allow_web has loggingEnabled"
    lines = d.syslog.lines(2)
    assert len(lines) == 2 and lines[0] == lines[1], "one line per flow"
    sd, message = parse_rfc5424(lines[0])
    assert RFC5424_LINE.match(lines[0])["stamp"] == "2026-03-01T09:11:12+00:00"  # type: ignore[index]
    keys = ("acl_policy_name", "acl_policy_type", "acl_rule_name", "action", "context_name", "context_type",
            "date_time", "dest_ip", "dest_port", "source_ip", "source_port", "ip_protocol", "partition_name",
            "route_domain", "drop_reason", "errdefs_msgno", "device_product", "hostname")
    assert {k: sd[k] for k in keys} == {
        "acl_policy_name": "/T1/Shared/egress_policy", "acl_policy_type": "Enforced",
        "acl_rule_name": "allow_web", "action": "Accept Decisively", "context_name": "/T1/Shared/egress_vs",
        "context_type": "Virtual Server", "date_time": "Mar 01 2026 09:11:12", "dest_ip": "203.0.113.9",
        "dest_port": "443", "source_ip": "10.244.1.5", "source_port": "51000", "ip_protocol": "TCP",
        "partition_name": "T1", "route_domain": "0", "drop_reason": "", "errdefs_msgno": "23003137",
        "device_product": "Advanced Firewall Module", "hostname": "bigip1.mock.local"}
    assert message == ("Mar 01 2026 09:11:12,allow_web,Accept Decisively,10.244.1.5,51000,203.0.113.9,443,"
                       "TCP,0"), "the log profile's storage format fields"


def test_what_logs_follows_the_rule_and_the_profile(device: Device) -> None:
    d = device
    assert d.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=22)["logged"] == 0, \
        "reject without loggingEnabled and the profile does not log rejects"
    assert d.traffic(src="10.7.0.1", dst="198.51.100.1", dstPort=22)["logged"] == 0, "accepts not logged"
    assert d.traffic(src="10.244.1.5", dst="198.51.100.1", dstPort=22)["logged"] == 1, \
        "the profile logs drops"
    assert d.traffic(src="10.50.1.1", dst="198.51.100.1", dstPort=22)["logged"] == 2, \
        "route-domain rule logs, then the virtual server's drop"
    lines = d.syslog.lines(3)
    assert len(lines) == 3
    parsed = [parse_rfc5424(line)[0] for line in lines]
    assert [(p["acl_rule_name"], p["action"], p["context_type"]) for p in parsed] == [
        ("drop_rest", "Drop", "Virtual Server"), ("rd_accept", "Accept", "Route Domain"),
        ("drop_lab", "Drop", "Virtual Server")]
    assert (parsed[0]["drop_reason"], parsed[1]["acl_policy_name"], parsed[1]["context_name"],
            parsed[1]["partition_name"]) == ("Policy", "/Common/Shared/rd_policy", "/Common/0", "Common")
    assert parse_rfc5424(lines[1])[1] is None, "no log profile in the route-domain context: no message"


def test_splunk_format_and_tcp_target(device: Device) -> None:
    with tcp_listener() as listener:
        shown = device.api.post("/_mock/syslog", json={"target": listener.url, "format": "splunk"}).json()
        assert (shown["target"], shown["format"]) == (listener.url, "splunk")
        device.traffic(src="10.52.1.1", dst="198.51.100.1", dstPort=53, protocol="UDP")
        line = listener.lines(1)[0]
        assert SPLUNK_LINE.match(line), line
        pairs = dict(re.findall(r'([a-z_]+)="([^"]*)"', line))
        assert (pairs["acl_rule_name"], pairs["action"], pairs["ip_protocol"], pairs["dest_port"]) == \
            ("rd_drop", "Drop", "UDP", "53")
    device.api.post("/_mock/reset")
    assert device.api.get("/_mock/syslog").json()["format"] == "rfc5424", "reset restores the start settings"


def test_bad_requests_name_the_field(device: Device) -> None:
    response = device.api.post("/_mock/traffic", json={"src": "10.0.0.1", "dst": "10.0.0.2", "dstPort": 1,
                                                       "protocol": "TCP", "srcPort": 1, "routeDomain": 5})
    assert response.status_code == 400 and "routeDomain" in response.json()["error"]
    response = device.api.post("/_mock/traffic", content=b"not json")
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


@pytest.mark.parametrize("fmt", ["rfc5424", "splunk"])
def test_the_connector_parses_the_lines_back(device: Device, fmt: str) -> None:
    from connector.flows.parsers import PARSERS
    from connector.flows.syslog import parse_syslog

    assert device.api.post("/_mock/syslog", json={"format": fmt}).status_code == 200
    device.traffic(src="10.244.1.5", srcPort=51000, dst="203.0.113.9", dstPort=443,
                   time="2026-03-01T10:11:12Z")
    device.traffic(src="10.52.1.1", srcPort=51001, dst="198.51.100.1", dstPort=53, protocol="UDP",
                   time="2026-03-01T10:11:13Z")
    parsed = []
    for line in device.syslog.lines(2):
        message = parse_syslog(line)
        parsed.append(PARSERS["bigip-afm"](message.body, "bigip1", message.time))
    accepted, dropped = parsed
    assert (accepted.time.isoformat(), accepted.action, accepted.src, accepted.src_port, accepted.dst,
            accepted.dst_port, accepted.protocol, accepted.device_rule) == (
        "2026-03-01T10:11:12+00:00", "Allow", "10.244.1.5", 51000, "203.0.113.9", 443, "TCP", "allow_web")
    assert (dropped.action, dropped.protocol, dropped.device_rule, dropped.src) == \
        ("Deny", "UDP", "rd_drop", "10.52.1.1")
