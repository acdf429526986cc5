"""`POST /_mock/traffic` on the FortiGate mock: first match over the policies it holds, with
FortiOS's semantics, and the FortiOS traffic log lines it sends to a real UDP/TCP socket."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.common.syslog import SyslogTarget
from mocks.fortigate import FortigateMock
from tests.mocks.common.listeners import UdpListener, tcp_listener, udp_listener

TOKEN = "t0ken"
CMDB = "/api/v2/cmdb"
# <189> directly followed by the body (format default): date and time bare, then devname and devid
DEFAULT_LINE = re.compile(r'^<189>date=(?P<date>\d{4}-\d\d-\d\d) time=(?P<time>\d\d:\d\d:\d\d) '
                          r'devname="FGVM-MOCK" devid="FGVM02TM24000001" eventtime=(?P<eventtime>\d{19}) '
                          r'tz="\+0000" logid="0000000013" type="traffic" subtype="forward" level="notice" '
                          r'(?P<rest>.*)$')
RFC5424_LINE = re.compile(r'^<189>1 (?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) FGVM-MOCK - - - - '
                          r'eventtime=\d{19} tz="\+0000" logid="0000000013" (?P<rest>.*)$')
PAIR = re.compile(r'(?P<key>[a-z_]+)=(?P<value>"(?:[^"\\]|\\.)*"|[^ "]+)(?: |$)')


def fields(text: str) -> dict[str, str]:
    """key=value pairs, quotes removed; fails on anything that is not a pair."""
    out: dict[str, str] = {}
    position = 0
    for match in PAIR.finditer(text):
        assert match.start() == position, f"unparsed text at {text[position:position + 30]!r}"
        value = match["value"]
        out[match["key"]] = (value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                             if value.startswith('"') else value)
        position = match.end()
    assert position == len(text)
    return out


def parse_default(line: str) -> dict[str, str]:
    match = DEFAULT_LINE.match(line)
    assert match, line
    return {"date": match["date"], "time": match["time"], "eventtime": match["eventtime"],
            **fields(match["rest"])}


def policy(name: str, src: list[str], dst: list[str], service: list[str], action: str = "accept",
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "srcintf": [{"name": "any"}], "dstintf": [{"name": "any"}],
            "srcaddr": [{"name": n} for n in src], "dstaddr": [{"name": n} for n in dst],
            "service": [{"name": n} for n in service], "action": action, "schedule": "always", **extra}


class Device:
    def __init__(self, app: FortigateMock, api: httpx.Client, syslog: UdpListener) -> None:
        self.app, self.api, self.syslog = app, api, syslog

    def make(self, table: str, body: dict[str, Any]) -> Any:
        response = self.api.post(f"{CMDB}/{table}", json=body)
        assert response.status_code == 200, response.text
        return response.json()["mkey"]

    def traffic(self, **flow: Any) -> dict[str, Any]:
        body = {"srcPort": 40000, "protocol": "TCP", **flow}
        response = self.api.post("/_mock/traffic", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def decided(self, src: str, dst: str, port: int, **extra: Any) -> tuple[str, int]:
        answer = self.traffic(src=src, dst=dst, dstPort=port, **extra)
        return answer["action"], answer["rule"]


@pytest.fixture
def device() -> Iterator[Device]:
    with udp_listener() as syslog:
        app = FortigateMock(token=TOKEN, syslog=SyslogTarget.parse(syslog.url))
        with HttpServer(app) as server, httpx.Client(base_url=server.url,
                                                     headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            yield Device(app, api, syslog)
        app.syslog.close()


@pytest.fixture
def rulebase(device: Device) -> Device:
    """pods-a ⊂ grp-inner ⊂ grp-outer; web ports 443 and 8000-8080; policies in order."""
    device.make("firewall/address", {"name": "pods-a", "subnet": "10.244.1.0/24"})
    device.make("firewall/address", {"name": "pods-b", "type": "iprange", "start-ip": "10.244.2.10",
                                     "end-ip": "10.244.2.20"})
    device.make("firewall/address", {"name": "payments", "subnet": "203.0.113.0 255.255.255.0"})
    device.make("firewall/address", {"name": "api-host", "type": "fqdn", "fqdn": "api.example.com"})
    device.make("firewall/addrgrp", {"name": "grp-inner", "member": [{"name": "pods-a"}]})
    device.make("firewall/addrgrp", {"name": "grp-outer", "member": [{"name": "grp-inner"},
                                                                      {"name": "pods-b"}]})
    device.make("firewall.service/custom", {"name": "web", "tcp-portrange": "443 8000-8080"})
    device.make("firewall.service/custom", {"name": "dns-udp", "udp-portrange": "53"})
    device.make("firewall/policy", policy("off", ["all"], ["all"], ["ALL"], status="disable"))
    device.make("firewall/policy", policy("web-out", ["grp-outer"], ["payments"], ["web"],
                                          logtraffic="all"))
    device.make("firewall/policy", policy("api-out", ["grp-outer"], ["api-host"], ["HTTPS"],
                                          logtraffic="all"))
    device.make("firewall/policy", policy("block-b", ["pods-b"], ["all"], ["ALL"], action="deny",
                                          logtraffic="all"))
    device.make("firewall/policy", policy("dns", ["all"], ["all"], ["dns-udp"], logtraffic="utm"))
    return device


def test_first_match_in_policy_order_with_nested_groups_and_port_ranges(rulebase: Device) -> None:
    d = rulebase
    assert d.decided("10.244.1.5", "203.0.113.9", 443) == ("accept", 2), "pods-a through two groups"
    assert d.decided("10.244.2.10", "203.0.113.9", 8000) == ("accept", 2), "range start, iprange start"
    assert d.decided("10.244.2.20", "203.0.113.9", 8080) == ("accept", 2), "range end, iprange end"
    assert d.decided("10.244.2.15", "203.0.113.9", 8081) == ("deny", 4), "past the range: block-b"
    assert d.decided("10.244.2.21", "203.0.113.9", 443) == ("deny", 0), "outside every source: implicit deny"
    assert d.decided("10.244.1.5", "198.51.100.1", 443) == ("deny", 0)
    assert d.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443)["policyname"] == "web-out"
    assert d.traffic(src="10.9.9.9", dst="1.1.1.1", dstPort=53, protocol="UDP")["rule"] == 5
    assert d.traffic(src="10.9.9.9", dst="1.1.1.1", dstPort=53, protocol="TCP")["rule"] == 0
    assert d.decided("fd00::5", "2001:db8::1", 53, protocol="UDP") == ("deny", 0), "no IPv6 pair: not matched"


def test_order_changes_with_a_move_and_disabled_policies_are_skipped(rulebase: Device) -> None:
    d = rulebase
    assert d.decided("10.244.2.12", "203.0.113.9", 443) == ("accept", 2)
    response = d.api.put(f"{CMDB}/firewall/policy/4", params={"action": "move", "before": "2"})
    assert response.status_code == 200
    assert d.decided("10.244.2.12", "203.0.113.9", 443) == ("deny", 4), "block-b now comes first"
    assert d.api.put(f"{CMDB}/firewall/policy/1", json={"status": "enable"}).status_code == 200
    assert d.decided("10.244.2.12", "203.0.113.9", 443) == ("accept", 1), "policy 1 enabled and first"
    assert d.api.put(f"{CMDB}/firewall/policy/1", json={"schedule": "none"}).status_code == 200
    assert d.decided("10.244.2.12", "203.0.113.9", 443) == ("deny", 4), "schedule none never matches"


def test_fqdn_addresses_match_only_a_destination_resolved_from_that_name(rulebase: Device) -> None:
    d = rulebase
    assert d.decided("10.244.1.5", "192.0.2.50", 443) == ("deny", 0), "no DNS in the mock"
    assert d.decided("10.244.1.5", "192.0.2.50", 443, dstName="API.example.com.") == ("accept", 3)
    assert d.decided("10.244.1.5", "192.0.2.50", 443, dstName="other.example.com") == ("deny", 0)


def test_interfaces_are_matched_only_when_the_flow_names_them(device: Device) -> None:
    device.make("firewall/policy", {**policy("lan-only", ["all"], ["all"], ["ALL"]),
                                    "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}]})
    assert device.decided("10.0.0.1", "10.1.0.1", 22) == ("accept", 1)
    assert device.decided("10.0.0.1", "10.1.0.1", 22, srcintf="port2", dstintf="port1") == ("accept", 1)
    assert device.decided("10.0.0.1", "10.1.0.1", 22, srcintf="port3", dstintf="port1") == ("deny", 0)


def test_logged_sessions_are_sent_as_fortios_traffic_lines(rulebase: Device) -> None:
    d = rulebase
    answer = d.traffic(src="10.244.1.5", srcPort=51000, dst="203.0.113.9", dstPort=8080,
                       time="2026-03-01T10:11:12.5+02:00", count=3)
    assert (answer["action"], answer["rule"], answer["logged"]) == ("accept", 2, 3)
    lines = d.syslog.lines(3)
    assert len(lines) == 3
    parsed = [parse_default(line) for line in lines]
    first = parsed[0]
    assert (first["date"], first["time"]) == ("2026-03-01", "08:11:12"), "device local time (UTC)"
    assert first["eventtime"] == "1772352672500000000", "nanoseconds"
    assert {k: first[k] for k in ("vd", "srcip", "srcport", "srcintf", "dstip", "dstport", "dstintf",
                                  "proto", "action", "policyid", "policytype", "policyname", "service")} == {
        "vd": "root", "srcip": "10.244.1.5", "srcport": "51000", "srcintf": "unknown-0",
        "dstip": "203.0.113.9", "dstport": "8080", "dstintf": "unknown-0", "proto": "6", "action": "close",
        "policyid": "2", "policytype": "policy", "policyname": "web-out", "service": "web"}
    assert re.fullmatch(r"[0-9a-f-]{36}", first["poluuid"])
    assert len({p["sessionid"] for p in parsed}) == 3, "one session per flow"
    assert ' srcip=10.244.1.5 ' in lines[0] and ' policyname="web-out" ' in lines[0], "IPs bare, names quoted"


def test_denied_sessions_and_the_implicit_deny(rulebase: Device) -> None:
    d = rulebase
    assert d.traffic(src="10.244.2.12", dst="198.51.100.7", dstPort=25)["logged"] == 1
    denied = parse_default(d.syslog.lines(1)[0])
    assert (denied["action"], denied["policyid"], denied["policyname"], denied["service"]) == \
        ("deny", "4", "block-b", "tcp/25")
    assert (denied["sentbyte"], denied["rcvdbyte"]) == ("0", "0")
    implicit = d.traffic(src="172.16.0.1", dst="198.51.100.7", dstPort=25)
    assert (implicit["action"], implicit["rule"], implicit["logged"]) == ("deny", 0, 0), \
        "fwpolicy-implicit-log is disabled by default"
    assert d.api.post("/_mock/syslog", json={"fwpolicyImplicitLog": True}).status_code == 200
    assert d.traffic(src="172.16.0.2", dst="198.51.100.7", dstPort=25)["logged"] == 1
    lines = d.syslog.lines(2)
    assert len(lines) == 2, "the first implicit deny sent nothing"
    second = parse_default(lines[1])
    assert (second["srcip"], second["policyid"], second["action"]) == ("172.16.0.2", "0", "deny")
    assert "policyname" not in second and "poluuid" not in second


def test_only_logtraffic_all_logs(rulebase: Device) -> None:
    d = rulebase
    assert d.traffic(src="10.9.9.9", dst="1.1.1.1", dstPort=53, protocol="UDP")["logged"] == 0, "utm"
    assert d.api.put(f"{CMDB}/firewall/policy/2", json={"logtraffic": "disable"}).status_code == 200
    assert d.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443)["logged"] == 0
    assert d.api.put(f"{CMDB}/firewall/policy/5", json={"logtraffic": "all"}).status_code == 200
    assert d.traffic(src="10.9.9.9", dst="1.1.1.1", dstPort=53, protocol="UDP")["logged"] == 1
    lines = d.syslog.lines(1)
    assert len(lines) == 1, "nothing from the utm and disabled policies"
    line = parse_default(lines[0])
    assert (line["proto"], line["action"], line["policyid"]) == ("17", "accept", "5"), \
        "a UDP session ends with accept"


def test_rfc5424_format_drops_date_time_devname_and_devid(rulebase: Device) -> None:
    d = rulebase
    assert d.api.post("/_mock/syslog", json={"format": "rfc5424"}).json()["format"] == "rfc5424"
    d.traffic(src="10.244.1.5", dst="203.0.113.9", dstPort=443, time="2026-03-01T10:11:12Z")
    line = d.syslog.lines(1)[0]
    match = RFC5424_LINE.match(line)
    assert match, line
    assert match["stamp"] == "2026-03-01T10:11:12Z"
    body = fields(match["rest"])
    assert not {"date", "time", "devname", "devid"} & set(body)
    assert (body["srcip"], body["policyid"]) == ("10.244.1.5", "2")


def test_tcp_target_gets_octet_counted_lines(device: Device) -> None:
    device.make("firewall/policy", policy("all-logged", ["all"], ["all"], ["ALL"], logtraffic="all"))
    with tcp_listener() as listener:
        assert device.api.post("/_mock/syslog", json={"target": listener.url}).status_code == 200
        assert device.traffic(src="10.0.0.1", dst="10.1.0.1", dstPort=22, count=5)["logged"] == 5
        lines = listener.lines(5)
        assert len(lines) == 5 and listener.errors == []
        assert all(parse_default(line)["policyname"] == "all-logged" for line in lines)
    assert device.api.post("/_mock/syslog", json={"target": None}).json()["target"] is None
    assert device.traffic(src="10.0.0.1", dst="10.1.0.1", dstPort=22)["logged"] == 0, "no target"


@pytest.mark.parametrize(("body", "field"), [
    ({"dst": "10.1.0.1", "dstPort": 1, "protocol": "TCP", "srcPort": 1}, "src"),
    ({"src": "10.0.0.300", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP"}, "src"),
    ({"src": "10.0.0.1", "dst": "::1", "dstPort": 1, "srcPort": 1, "protocol": "TCP"}, "same IP version"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "GRE"}, "protocol"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "srcPort": 1, "protocol": "TCP"}, "dstPort"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 70000, "srcPort": 1, "protocol": "TCP"}, "dstPort"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "protocol": "ICMP"}, "dstPort"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP", "count": 0},
     "count"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP", "count": 10_001},
     "count"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP", "time": "now"},
     "time"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP", "colour": 1},
     "colour"),
    ({"src": "10.0.0.1", "dst": "10.1.0.1", "dstPort": 1, "srcPort": 1, "protocol": "TCP", "vdom": "dmz"},
     "vdom 'dmz'"),
])
def test_bad_traffic_requests_get_400_naming_the_field(device: Device, body: dict[str, Any],
                                                        field: str) -> None:
    response = device.api.post("/_mock/traffic", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_icmp_and_the_all_service(device: Device) -> None:
    device.make("firewall/policy", policy("any", ["all"], ["all"], ["ALL"], logtraffic="all"))
    answer = device.traffic(src="10.0.0.1", dst="10.1.0.1", protocol="ICMP", srcPort=None)
    assert (answer["action"], answer["rule"]) == ("accept", 1)
    line = parse_default(device.syslog.lines(1)[0])
    assert (line["proto"], line["service"], line["action"]) == ("1", "icmp", "accept")
    assert "srcport" not in line and "dstport" not in line


def test_the_command_line_takes_syslog_options() -> None:
    with udp_listener() as listener:
        process = subprocess.Popen([sys.executable, "-m", "mocks", "fortigate", "--port", "0", "--token", "T",
                                    "--syslog", listener.url, "--implicit-deny-log"],
                                   stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            flow = {"src": "10.0.0.1", "srcPort": 1, "dst": "10.1.0.1", "dstPort": 22, "protocol": "TCP"}
            answer = httpx.post(f"{url}/_mock/traffic", json=flow).json()
            assert (answer["action"], answer["rule"], answer["logged"]) == ("deny", 0, 1)
            assert parse_default(listener.lines(1)[0])["policyid"] == "0"
        finally:
            process.terminate()
            process.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "mocks", "fortigate", "--syslog", "udp://nowhere"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "needs HOST:PORT" in bad.stderr


@pytest.mark.parametrize("fmt", ["default", "rfc5424"])
def test_the_connector_parses_the_lines_back(rulebase: Device, fmt: str) -> None:
    from connector.flows.parsers import PARSERS
    from connector.flows.syslog import parse_syslog

    d = rulebase
    assert d.api.post("/_mock/syslog", json={"format": fmt, "fwpolicyImplicitLog": True}).status_code == 200
    d.traffic(src="10.244.1.5", srcPort=51000, dst="203.0.113.9", dstPort=8080, time="2026-03-01T10:11:12.5Z")
    d.traffic(src="172.16.0.1", srcPort=51001, dst="198.51.100.7", dstPort=53, protocol="TCP",
              time="2026-03-01T10:11:13Z")
    parsed = []
    for line in d.syslog.lines(2):
        message = parse_syslog(line)
        parsed.append(PARSERS["fortios"](message.body, "fg1", message.time))
    accepted, denied = parsed
    assert (accepted.time.isoformat(), accepted.action, accepted.src, accepted.src_port, accepted.dst,
            accepted.dst_port, accepted.protocol, accepted.device_rule, accepted.device_rule_id) == (
        "2026-03-01T10:11:12.500000+00:00", "Allow", "10.244.1.5", 51000, "203.0.113.9", 8080, "TCP",
        "web-out", "2")
    assert (denied.action, denied.protocol, denied.device_rule_id, denied.time.isoformat()) == \
        ("Deny", "TCP", "0", "2026-03-01T10:11:13+00:00"), "the implicit deny"
