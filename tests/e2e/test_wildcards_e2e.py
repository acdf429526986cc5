"""End to end: wildcard ExternalServices (`*.cdn.example.com`) applied by the CLI to the three
device mocks run as processes, each device then asked through its own traffic endpoint
(`POST /_mock/traffic` with the name the workload resolved, `dstName`).

- FortiGate: held as a `type fqdn` address `*.cdn.example.com`; a name of one or more labels before
  `cdn.example.com` is allowed, `cdn.example.com` itself is not.
- REST receiver configured `wildcardFqdn: true` and advertising it: held in the address's `fqdns`,
  decided alike.
- BIG-IP (AFM resolves address-list FQDNs itself; a wildcard names no query): left off, never
  declared, and the rule's findings say `WildcardFQDNUnsupported` naming the device.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.scenario import (
    BIGIP,
    CONNECTOR_NAMESPACE,
    FORTIGATE,
    MANAGED,
    REST,
    Lab,
    Obj,
    external_service,
    namespace,
    pod,
    rule,
)

pytestmark = pytest.mark.e2e

CDN_ADDRESS = "203.0.113.80"  # where the names resolve: the decision must come from the name


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with contextlib.ExitStack() as stack:
        yield Lab.start(stack)


def objects() -> list[Obj]:
    return [
        namespace(CONNECTOR_NAMESPACE),
        namespace("shop", MANAGED),
        pod("shop", "web-1", {"app": "web"}),
        external_service("shop", "cdn", ["*.cdn.example.com"], [{"port": "443"}]),
        rule("NamespaceEgressRule", "cdn", "shop", action="Allow", priority=100, externalServices=["cdn"]),
        rule("NamespaceEgressRule", "rest", "shop", action="Deny", priority=900),
    ]


def traffic(url: str, src: str, name: str) -> str:
    body = {"src": src, "srcPort": 40001, "dst": CDN_ADDRESS, "dstPort": 443, "protocol": "TCP",
            "dstName": name}
    answer = httpx.post(f"{url}/_mock/traffic", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["action"]).lower()


def rest_device(lab: Lab, **extra: Any) -> Obj:
    return {"name": REST, "type": "rest", "url": lab.rest.url, "auth": {"tokenEnv": "SOC_TOKEN"}, **extra}


def apply(lab: Lab, tmp_path: Path, rest: Obj) -> dict[str, Any]:
    document = lab.config_document(tmp_path)
    document["devices"] = [d for d in document["devices"] if d["name"] != REST] + [rest]
    config = lab.write_config(tmp_path, devices=document["devices"])
    done = lab.cli("apply", "--config", str(config), "--output", "json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    payload: dict[str, Any] = json.loads(done.stdout)
    return payload


def findings(payload: dict[str, Any], name: str) -> set[tuple[str, str]]:
    [status] = [r for r in payload["rules"] if r["name"] == name]
    return {(p["reason"], p.get("device", "")) for p in status["problems"]}


def web_ip(objects: list[Obj]) -> str:
    [web] = [o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "web-1"]
    return str(web["status"]["podIP"])


def test_wildcards_are_enforced_where_the_device_can_and_reported_where_not(lab: Lab, tmp_path: Path) -> None:
    lab.reset()
    lab.kube.apply(objects())
    src = web_ip(lab.kube.settle())
    payload = apply(lab, tmp_path, rest_device(lab, wildcardFqdn=True))
    assert findings(payload, "cdn") == {("WildcardFQDNUnsupported", BIGIP)}
    [status] = [r for r in payload["rules"] if r["name"] == "cdn"]
    assert status["condition"]["status"] == "True"  # the Accepted condition written on the rule
    assert status["condition"]["reason"] == "WildcardFQDNUnsupported"
    assert status["condition"]["message"] == (
        f"NamespaceEgressRule shop/cdn: device {BIGIP} cannot enforce wildcard FQDNs; ExternalService"
        " shop/cdn is compiled there without *.cdn.example.com")
    presence = {d["name"]: d["present"] for d in status["devices"]}
    assert presence == {BIGIP: False, FORTIGATE: True, REST: True}

    addresses = {a["name"]: a for a in lab.fortigate.table("firewall/address")}
    assert [a["fqdn"] for a in addresses.values() if a.get("type") == "fqdn"] == ["*.cdn.example.com"]
    assert [a["fqdns"] for a in lab.rest.state()["addresses"]] == [["*.cdn.example.com"]]
    assert "*" not in json.dumps(lab.bigip.declaration())

    for device, url in ((FORTIGATE, lab.fortigate.url), (REST, lab.rest.url)):
        for name in ("img.cdn.example.com", "a.b.cdn.example.com", "IMG.CDN.example.com."):
            assert traffic(url, src, name) in ("accept", "allow"), (device, name)
        for name in ("cdn.example.com", "xcdn.example.com", "img.example.com"):
            assert traffic(url, src, name) == "deny", (device, name)
    # BIG-IP holds no wildcard: the name meets the namespace's Deny (drop or reject), never an accept
    assert traffic(lab.bigip.url, src, "img.cdn.example.com") in ("drop", "reject")


def test_a_receiver_not_configured_for_wildcards_reports_them(lab: Lab, tmp_path: Path) -> None:
    lab.reset()
    lab.kube.apply(objects())
    src = web_ip(lab.kube.settle())
    payload = apply(lab, tmp_path, rest_device(lab))
    assert findings(payload, "cdn") == {("WildcardFQDNUnsupported", BIGIP), ("WildcardFQDNUnsupported", REST)}
    assert lab.rest.state()["addresses"] == []
    assert traffic(lab.rest.url, src, "img.cdn.example.com") == "deny"
    assert traffic(lab.fortigate.url, src, "img.cdn.example.com") == "accept"
