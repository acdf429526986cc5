"""Checks shared by the report tests: JSON Schema validation and agreement with `explain`."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import jsonschema

from connector.cluster import ClusterView
from connector.compiler import CompileResult
from connector.explain import explain

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "report.schema.json"
OUTSIDE = "100.64.0.1"  # in no ExternalService of the test scenarios


def validate_report(data: Any) -> None:
    """Raise when `data` breaks docs/report.schema.json (draft 2020-12, formats checked)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)


def _probe(entry: dict[str, Any]) -> tuple[str, int, str]:
    destination = entry["destination"]
    if destination is None:
        host = OUTSIDE
    elif destination["networks"]:
        host = str(ipaddress.ip_network(destination["networks"][0])[0])
    else:
        host = destination["fqdns"][0]
    port, protocol = 1, "TCP"
    if entry["ports"]:
        first, protocol = entry["ports"][0].split("/")
        port = int(first.split("-")[0])
    return host, port, protocol


def _matches(entry: dict[str, Any], host: str, port: int, protocol: str) -> bool:
    destination = entry["destination"]
    if destination is not None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if host not in destination["fqdns"]:
                return False
        else:
            if not any(ip in ipaddress.ip_network(n) for n in destination["networks"]):
                return False
    if entry["ports"] is None:
        return True
    for text in entry["ports"]:
        ports, proto = text.split("/")
        start, _, end = ports.partition("-")
        if proto == protocol and int(start) <= port <= int(end or start):
            return True
    return False


def assert_egress_agrees_with_explain(report: dict[str, Any], view: ClusterView,
                                      compiled: CompileResult) -> int:
    """For every Service of the egress section and every device: a probe aimed at each entry that
    can decide (and one at a destination no ExternalService holds) is decided by the first entry
    the section lists for it, exactly as `explain` says. Returns the number of probes checked."""
    checked = 0
    for source in report["egress"]:
        if source["kind"] != "Service" or not source["addresses"]:
            continue
        for device in source["devices"]:
            entries = device["entries"]
            assert all(e["appliesTo"] == "all" for e in entries), "scenario must keep Services whole"
            probes = {_probe(e) for e in entries if not e["shadowed"]} | {(OUTSIDE, 1, "TCP")}
            for host, port, protocol in sorted(probes):
                expected = next((e["ruleKey"] for e in entries if _matches(e, host, port, protocol)), None)
                target = f"[{host}]" if ":" in host else host
                answer = explain(view, compiled, f"{source['namespace']}/svc/{source['service']}",
                                 f"{target}:{port}/{protocol}")
                decided = {d.device: (d.decision.key if d.decision else None) for d in answer.devices}
                where = (source["service"], device["device"], host, port)
                assert decided[device["device"]] == expected, where
                checked += 1
    return checked
