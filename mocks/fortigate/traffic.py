"""How the FortiGate mock decides a flow: first match over a VDOM's policies, as FortiOS does.

- Policies are evaluated in their order (the order `?action=move` leaves them in); one with
  `status disable`, or on the schedule `none` (never), is skipped.
- Addresses by the flow's family (FortiOS 6.4 consolidated policy): an IPv4 flow is matched
  against `srcaddr`/`dstaddr` (names in `address`/`addrgrp`), an IPv6 flow against
  `srcaddr6`/`dstaddr6` (names in `address6`/`addrgrp6`); a policy without that family's pair
  does not match it. The flow's address is in one of the entries (negated with
  `srcaddr-negate`/`dstaddr-negate enable`, both families). An address is `ipmask` (its subnet;
  IPv6 `ipprefix`, its `ip6`), `iprange` (start-ip..end-ip) or `fqdn`: FortiOS matches an FQDN
  address against the addresses its DNS lookups returned; the mock does no DNS, so an FQDN address
  matches a destination only when the flow says it was resolved from that name (`dstName`), and
  never a source. A wildcard FQDN address (`fqdn` `*.example.com`, FortiOS 6.2.2 and later)
  matches a `dstName` the pattern covers, its `*` standing for one or more characters
  (`a.example.com`, `a.b.example.com`, never `example.com`). A group matches when one of its
  members does, nested groups included. `all` is 0.0.0.0/0 (IPv6 `all`: ::/0).
- `service`: one of the entries matches; `ALL` (protocol IP, number 0) matches every flow, an `IP`
  service with a number matches that IP protocol, `ICMP` every ICMP flow, and a `TCP/UDP/SCTP`
  service matches when the flow's protocol has a range (`tcp-portrange` …) holding the destination
  port (`dst[-dst][:src[-src]]`: the source range, when given, must hold the source port).
- `srcintf`/`dstintf`: matched only when the request names the interfaces (`srcintf`/`dstintf`
  keys); `any` matches every interface. Without them the interfaces are not part of the match.
- `action accept` (and `ipsec`) accepts, `deny` denies; no match is the implicit deny, policy 0.
Logging (FortiOS `logtraffic`): `all` logs every session the policy accepts or denies; `utm` only
sessions with a security profile event, which the mock never has; `disable` nothing (the mock's
policy default, like FortiOS's, is `utm`). The implicit deny logs only with `config log setting`
`fwpolicy-implicit-log enable` (FortiOS default disable; the mock's `fwpolicyImplicitLog` option).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mocks.common.traffic import PORTED, Flow, contains, glob_name, in_ranges
from mocks.fortigate.store import ADDRESS, ADDRESS6, FAMILIES, SERVICE, Vdom

IMPLICIT_DENY = 0
NEVER = "none"
UNKNOWN_INTERFACE = "unknown-0"


@dataclass(frozen=True)
class PolicyMatch:
    """The decision: `action` accept|deny, `policyid` (0: implicit deny), the policy entry (None
    for the implicit deny), the `service` name a log shows, the interfaces a log shows, and
    whether the session is logged."""

    action: str
    policyid: int
    policy: dict[str, Any] | None
    service: str
    srcintf: str
    dstintf: str
    logged: bool

    def answer(self) -> dict[str, Any]:
        name = self.policy["name"] if self.policy else ""
        return {"action": self.action, "rule": self.policyid, "policyname": name or None}


class _Resolver:
    """Address and service matching over one VDOM's tables (groups resolved once per flow)."""

    def __init__(self, vdom: Vdom, flow: Flow) -> None:
        self.vdom = vdom
        self.flow = flow
        self.family = ADDRESS6 if flow.src.version == 6 else ADDRESS
        self.groups, self.src_key, self.dst_key = FAMILIES[self.family]
        self._memo: dict[tuple[str, str], bool] = {}

    def address(self, name: str, side: str) -> bool:
        key = (name, side)
        known = self._memo.get(key)
        if known is None:
            self._memo[key] = False  # a loop (refused by the store anyway) matches nothing
            known = self._address(name, side)
            self._memo[key] = known
        return known

    def _address(self, name: str, side: str) -> bool:
        group = self.vdom.tables[self.groups].get(name)
        if group is not None:
            return any(self.address(member["name"], side) for member in group["member"])
        entry = self.vdom.tables[self.family].get(name)
        if entry is None:
            return False
        ip = self.flow.src if side == "src" else self.flow.dst
        kind = entry.get("type", "ipmask")
        if kind == "ipmask":
            return contains(entry["subnet"], ip)
        if kind == "ipprefix":
            return contains(entry["ip6"], ip)
        if kind == "iprange":
            return contains(f"{entry['start-ip']}-{entry['end-ip']}", ip)
        if kind == "fqdn":
            return side == "dst" and self.flow.dst_name is not None and glob_name(entry["fqdn"],
                                                                                  self.flow.dst_name)
        return False

    def service(self, name: str) -> bool:
        entry = self.vdom.tables[SERVICE].get(name)
        if entry is None:
            return False
        flow = self.flow
        protocol = entry.get("protocol", "TCP/UDP/SCTP")
        if protocol == "IP":
            number = int(entry.get("protocol-number", 0))
            return number in (0, flow.ip_number)
        if protocol in ("ICMP", "ICMP6"):
            return flow.protocol == "ICMP" and (protocol == "ICMP6") == (flow.src.version == 6)
        if flow.protocol not in PORTED or flow.dst_port is None:
            return False
        ranges = str(entry.get(f"{flow.protocol.lower()}-portrange", ""))
        return any(self._port_item(item) for item in ranges.split())

    def _port_item(self, item: str) -> bool:
        dst, _, src = item.partition(":")
        assert self.flow.dst_port is not None
        if not in_ranges(self.flow.dst_port, dst):
            return False
        return not src or (self.flow.src_port is not None and in_ranges(self.flow.src_port, src))


def decide(vdom: Vdom, flow: Flow, implicit_log: bool = False) -> PolicyMatch:
    """First match over the VDOM's policies (see the module doc); `implicit_log` is
    `fwpolicy-implicit-log`. The caller holds the mock's lock."""
    resolver = _Resolver(vdom, flow)
    srcintf, dstintf = flow.extra.get("srcintf"), flow.extra.get("dstintf")
    for policy in vdom.policies:
        if policy.get("status") == "disable" or policy.get("schedule") == NEVER:
            continue
        if not (_interface(policy, "srcintf", srcintf) and _interface(policy, "dstintf", dstintf)):
            continue
        if not (_side(resolver, policy, "src") and _side(resolver, policy, "dst")):
            continue
        services = [s["name"] for s in policy["service"] if resolver.service(s["name"])]
        if not services:
            continue
        action = "deny" if policy["action"] == "deny" else "accept"
        shown = services[0] if services[0] != "ALL" else _port_service(flow)
        return PolicyMatch(action, int(policy["policyid"]), policy, shown,
                           srcintf or _shown_interface(policy, "srcintf"),
                           dstintf or _shown_interface(policy, "dstintf"),
                           policy.get("logtraffic") == "all")
    return PolicyMatch("deny", IMPLICIT_DENY, None, _port_service(flow), srcintf or UNKNOWN_INTERFACE,
                       dstintf or UNKNOWN_INTERFACE, implicit_log)


def _interface(policy: dict[str, Any], key: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    names = [item["name"] for item in policy[key]]
    return "any" in names or wanted in names


def _side(resolver: _Resolver, policy: dict[str, Any], side: str) -> bool:
    entries = policy.get(resolver.src_key if side == "src" else resolver.dst_key) or []
    if not entries:
        return False  # no pair of the flow's family: the policy does not apply to it
    matched = any(resolver.address(item["name"], side) for item in entries)
    return matched != (policy.get(f"{side}addr-negate") == "enable")


def _shown_interface(policy: dict[str, Any], key: str) -> str:
    names = [item["name"] for item in policy[key] if item["name"] != "any"]
    return names[0] if names else UNKNOWN_INTERFACE


def _port_service(flow: Flow) -> str:
    """The service a log names when no named service applies: `tcp/443`, `icmp`."""
    if flow.dst_port is None:
        return flow.protocol.lower()
    return f"{flow.protocol.lower()}/{flow.dst_port}"
