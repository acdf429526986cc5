"""An independent FortiGate first-match evaluator over tables read through the FortiOS REST API.

Written from FortiOS policy semantics, not from the adapter: policies are taken in table order
(the order the list GET returns), disabled ones skipped; a policy matches when the source is in
one of its `srcaddr`, the destination in one of its `dstaddr` and the port/protocol in one of its
`service` entries. Addresses: `ipmask` (`a.b.c.d m.m.m.m`), `iprange`, `fqdn` (the name itself);
groups resolve recursively. A destination given as a name stands for traffic known only by that
name (docs/resources.md): it matches an `fqdn` address of that name and FortiOS's any-destination address
`all`, and is not taken to be inside any other subnet. Services: protocol
`IP` with number 0 matches everything; `TCP/UDP/SCTP` matches the port ranges of the probe's
protocol (`low[-high][:src]`). No match → None (the implicit deny, no decision of ours).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import httpx

from connector.evaluate import Probe

TABLES = {"address": "firewall/address", "addrgrp": "firewall/addrgrp",
          "service": "firewall.service/custom", "policy": "firewall/policy"}


def fetch_tables(base_url: str, token: str, vdom: str = "root") -> dict[str, list[dict[str, Any]]]:
    """Every table the evaluator needs, read through the device API."""
    out: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        for key, table in TABLES.items():
            response = client.get(f"/api/v2/cmdb/{table}", params={"vdom": vdom})
            response.raise_for_status()
            out[key] = response.json()["results"]
    return out


@dataclass(frozen=True)
class Verdict:
    action: str | None  # "accept", "deny", or None when no policy matched
    policy: str | None


class FortiGateEvaluator:
    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.addresses = {a["name"]: a for a in tables["address"]}
        self.groups = {g["name"]: g for g in tables["addrgrp"]}
        self.services = {s["name"]: s for s in tables["service"]}
        self.policies = tables["policy"]

    def _address_matches(self, name: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in seen:
            return False
        if name in self.groups:
            return any(self._address_matches(m["name"], target, seen | {name})
                       for m in self.groups[name]["member"])
        address = self.addresses.get(name)
        if address is None:
            raise AssertionError(f"policy or group references missing address {name!r}")
        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            ip = None
        kind = address["type"]
        if kind == "fqdn":
            return ip is None and address["fqdn"].lower() == target.lower().rstrip(".")
        if kind == "ipmask":
            host, mask = address["subnet"].split()
            network = ipaddress.IPv4Network(f"{host}/{mask}", strict=False)
            if ip is None:
                return name == "all" and network.prefixlen == 0
            return ip.version == 4 and ip in network
        if kind == "iprange":
            if ip is None or ip.version != 4:
                return False
            return (ipaddress.IPv4Address(address["start-ip"]) <= ip
                    <= ipaddress.IPv4Address(address["end-ip"]))
        return False

    def _service_matches(self, name: str, probe: Probe) -> bool:
        service = self.services[name]
        if service["protocol"] == "IP":
            return int(service.get("protocol-number", 0)) == 0
        if service["protocol"] != "TCP/UDP/SCTP":
            return False
        key = {"TCP": "tcp-portrange", "UDP": "udp-portrange", "SCTP": "sctp-portrange"}[probe.protocol.value]
        for item in service.get(key, "").split():
            low, _, high = item.split(":", 1)[0].partition("-")
            if int(low) <= probe.port <= int(high or low):
                return True
        return False

    def decide(self, probe: Probe) -> Verdict:
        for policy in self.policies:
            if policy.get("status", "enable") != "enable":
                continue
            if not any(self._address_matches(a["name"], probe.source) for a in policy["srcaddr"]):
                continue
            if not any(self._address_matches(a["name"], probe.destination) for a in policy["dstaddr"]):
                continue
            if not any(self._service_matches(s["name"], probe) for s in policy["service"]):
                continue
            return Verdict(policy["action"], policy["name"])
        return Verdict(None, None)
