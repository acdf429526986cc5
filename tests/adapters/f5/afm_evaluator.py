"""First-match decision of an AS3 tenant, written from BIG-IP AFM semantics (not from the adapter).

AFM evaluates the rules of the enforced policy in order; a `Firewall_Policy` rule entry is either an
inline rule or a pointer to a `Firewall_Rule_List`, whose rules are evaluated in place, in order. A
rule matches a packet when its protocol is `any` or the packet's, the source address is in one of the
source address lists (no list = any source), the destination address is in one of the destination
address lists (no list = any) and the destination port is in one of the destination port lists (no
list = any). An address list matches an IP through its `addresses` (host, CIDR or `a-b` range) and
nested `addressLists`; a name through its `fqdns`. The first matching rule's action decides; no
match leaves the packet to the rest of the device's configuration (None).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from connector.evaluate import Probe


class Declaration:
    """One tenant's declaration as read from the device."""

    def __init__(self, tenant: str, body: Mapping[str, Any]) -> None:
        self.tenant = tenant
        self.body = body

    def item(self, pointer: str, app: str = "Shared") -> Mapping[str, Any]:
        if pointer.startswith("/"):
            tenant, app, name = pointer.strip("/").split("/")
            assert tenant == self.tenant, f"pointer {pointer} leaves tenant {self.tenant}"
        else:
            name = pointer
        return self.body[app][name]  # type: ignore[no-any-return]

    def enforced_policy(self) -> Mapping[str, Any] | None:
        shared = self.body.get("Shared", {})
        for item in shared.values():
            if isinstance(item, Mapping) and item.get("class") == "Service_L4" \
                    and "policyFirewallEnforced" in item:
                return self.item(item["policyFirewallEnforced"]["use"])
        for item in shared.values():
            if isinstance(item, Mapping) and item.get("class") == "Firewall_Policy" \
                    and item.get("routeDomainEnforcement"):
                return item
        return None

    def rules(self) -> list[Mapping[str, Any]]:
        policy = self.enforced_policy()
        if policy is None:
            return []
        out: list[Mapping[str, Any]] = []
        for entry in policy["rules"]:
            if "use" in entry:
                rule_list = self.item(entry["use"])
                assert rule_list["class"] == "Firewall_Rule_List"
                out.extend(rule_list.get("rules", []))
            else:
                out.append(entry)
        return out

    def in_address_list(self, pointer: str, value: str) -> bool:
        item = self.item(pointer)
        assert item["class"] == "Firewall_Address_List"
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            ip = None
        if ip is None:
            if value.lower().rstrip(".") in {f.lower().rstrip(".") for f in item.get("fqdns", [])}:
                return True
        else:
            for entry in item.get("addresses", []):
                if "-" in entry:
                    start, end = (ipaddress.ip_address(x) for x in entry.split("-"))
                    if start.version == ip.version and start <= ip <= end:  # type: ignore[operator]
                        return True
                else:
                    network = ipaddress.ip_network(entry, strict=False)
                    if network.version == ip.version and ip in network:
                        return True
        return any(self.in_address_list(p["use"], value) for p in item.get("addressLists", []))

    def in_port_list(self, pointer: str, port: int) -> bool:
        item = self.item(pointer)
        assert item["class"] == "Firewall_Port_List"
        for entry in item.get("ports", []):
            if isinstance(entry, int):
                if entry == port:
                    return True
            else:
                start, _, end = str(entry).partition("-")
                if int(start) <= port <= int(end or start):
                    return True
        return any(self.in_port_list(p["use"], port) for p in item.get("portLists", []))

    def matches(self, rule: Mapping[str, Any], probe: Probe) -> bool:
        protocol = rule.get("protocol", "any")
        if protocol != "any" and protocol != probe.protocol.value.lower():
            return False
        source = rule.get("source", {})
        if source.get("addressLists") and not any(
                self.in_address_list(p["use"], probe.source) for p in source["addressLists"]):
            return False
        destination = rule.get("destination", {})
        if destination.get("addressLists") and not any(
                self.in_address_list(p["use"], probe.destination) for p in destination["addressLists"]):
            return False
        return not (destination.get("portLists") and not any(
            self.in_port_list(p["use"], probe.port) for p in destination["portLists"]))

    def decide(self, probe: Probe) -> Mapping[str, Any] | None:
        """The first AFM rule matching `probe`, or None."""
        for rule in self.rules():
            if self.matches(rule, probe):
                return rule
        return None


def verdict(rule: Mapping[str, Any] | None) -> str | None:
    """`Allow`/`Deny` for an AFM rule's action (None when no rule matched)."""
    if rule is None:
        return None
    return {"accept": "Allow", "accept-decisively": "Allow", "drop": "Deny", "reject": "Deny"}[rule["action"]]
