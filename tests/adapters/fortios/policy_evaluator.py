"""An independent FortiGate first-match evaluator over tables read through the FortiOS REST API.

Written from FortiOS policy semantics, not from the adapter: policies are taken in table order (the
order the list GET returns), disabled ones skipped; a policy matches when the source is in one of
its `srcaddr`, the destination in one of its `dstaddr` and the port/protocol in one of its `service`
entries. Traffic from an IPv6 source is matched against `srcaddr6`/`dstaddr6` over the
`address6`/`addrgrp6` tables instead (FortiOS 6.4 consolidated policy; a policy without that
family's pair does not match it). Addresses: `ipmask` (`a.b.c.d m.m.m.m`), IPv6 `ipprefix`
(`a:b::/n`), `iprange`, `fqdn` (the name itself); groups resolve recursively. A destination given as
a name stands for traffic known only by that name (docs/resources.md): it matches an `fqdn` address
of that name and FortiOS's any-destination address `all`, and is not taken to be inside any other
subnet. Services: protocol `IP` with number 0 matches everything; `TCP/UDP/SCTP` matches the port
ranges of the probe's protocol (`low[-high][:src]`). No match → None (the implicit deny, no decision
of ours).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import httpx

from connector.evaluate import Probe

TABLES = {"address": "firewall/address", "addrgrp": "firewall/addrgrp", "address6": "firewall/address6",
          "addrgrp6": "firewall/addrgrp6", "service": "firewall.service/custom", "policy": "firewall/policy"}


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
        # per family: (addresses, groups) by name
        self.families = {4: ({a["name"]: a for a in tables["address"]},
                             {g["name"]: g for g in tables["addrgrp"]}),
                         6: ({a["name"]: a for a in tables.get("address6", [])},
                             {g["name"]: g for g in tables.get("addrgrp6", [])})}
        self.services = {s["name"]: s for s in tables["service"]}
        self.policies = tables["policy"]

    def _address_matches(self, name: str, target: str, family: int = 4,
                         seen: frozenset[str] = frozenset()) -> bool:
        if name in seen:
            return False
        addresses, groups = self.families[family]
        if name in groups:
            return any(self._address_matches(m["name"], target, family, seen | {name})
                       for m in groups[name]["member"])
        address = addresses.get(name)
        if address is None:
            raise AssertionError(f"policy or group references missing IPv{family} address {name!r}")
        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            ip = None
        kind = address["type"]
        if kind == "fqdn":
            return ip is None and address["fqdn"].lower() == target.lower().rstrip(".")
        if kind == "ipprefix":
            prefix = ipaddress.IPv6Network(address["ip6"], strict=False)
            if ip is None:
                return name == "all" and prefix.prefixlen == 0
            return ip.version == 6 and ip in prefix
        if kind == "ipmask":
            host, mask = address["subnet"].split()
            network = ipaddress.IPv4Network(f"{host}/{mask}", strict=False)
            if ip is None:
                return name == "all" and network.prefixlen == 0
            return ip.version == 4 and ip in network
        if kind == "iprange":
            if ip is None or ip.version != family:
                return False
            start, end = ipaddress.ip_address(address["start-ip"]), ipaddress.ip_address(address["end-ip"])
            return int(start) <= int(ip) <= int(end)
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
        family = ipaddress.ip_address(probe.source).version
        suffix = "6" if family == 6 else ""
        for policy in self.policies:
            if policy.get("status", "enable") != "enable":
                continue
            sources, destinations = policy.get("srcaddr" + suffix) or [], policy.get("dstaddr" + suffix) or []
            if not any(self._address_matches(a["name"], probe.source, family) for a in sources):
                continue
            if not any(self._address_matches(a["name"], probe.destination, family) for a in destinations):
                continue
            if not any(self._service_matches(s["name"], probe) for s in policy["service"]):
                continue
            return Verdict(policy["action"], policy["name"])
        return Verdict(None, None)
