"""How the BIG-IP mock decides a flow: AFM firewall policies of the declared AS3 tenants.

Contexts, in AFM's order (the global context cannot be declared through AS3 and is not modelled):
1. Route domain: the `Firewall_Policy` whose `routeDomainEnforcement` names the flow's route domain
   (request key `routeDomain`, default `/Common/0`; `0` and `/Common/0` are the same).
2. Virtual server: the most specific `Service_*` listener holding the flow — a `virtualAddresses`
   entry holding the destination (`0.0.0.0` and `::` are the wildcards of their family, `a/len` a
   network), `virtualPort` the destination port or 0 (any), `layer4` the protocol or `any` — and
   its `policyFirewallEnforced` policy; an `[address, source]` entry holds only flows from
   `source`. More specific: longer address prefix, then longer source prefix, then a given port.
Ties go to the first tenant, application and item in name order. A listener counts when it has
a `policyFirewallEnforced` or a `policyFirewallStaged` policy (a listener with neither is not
modelled).

In a policy, rules are evaluated in order, a `{use: rule list}` entry standing for the list's rules
in their order; the first matching rule decides in its context. A rule matches when its `protocol`
is `any` or the flow's (`tcp`, `udp`, `sctp`, `icmp`; `ipv6-icmp` for ICMP over IPv6), and each side
given matches: `addressLists` / inline `addresses` (one of them holds the address: an address, a
network, a range `a-b`, nested `addressLists`; `fqdns` hold a destination only when the flow says it
was resolved from that name, `dstName`, the mock doing no DNS; `geo` holds nothing), and
`portLists` / inline `ports` (one holds the port; only TCP, UDP and SCTP flows have ports).
`vlans` are not matched. `bigip` pointers (objects outside AS3) match nothing.

Actions: `accept` allows in this context and hands the flow to the next one; `accept-decisively`
allows and skips the later contexts; `drop` and `reject` deny. When no rule of any context matches,
the device's default applies: the mock runs in AFM's default "ADC mode", where traffic to virtual
servers is accepted (answered `{"action": "accept", "rule": null}`); when a route-domain rule
accepted and no virtual-server rule matched, that rule's accept stands.

Staged policy: the listener's `policyFirewallStaged` (where the connector puts `mode: Audit` rules)
is evaluated beside its enforced policy whenever the flow reaches the virtual-server context, by
the same first-match semantics; its matching rule decides nothing (the answer's `action` and
`rule` are the enforced decision's) and is reported as `staged` (`AfmDecision.staged`), logged by
the same conditions as an enforced match, as a separate line with `acl_policy_type="Staged"`.

Logging: a context's match is logged when a log profile covers it and asks for it: in a virtual
server context, the listener's `securityLogProfiles` (a `Security_Log_Profile` with `network`) and
either the rule's `loggingEnabled` or the profile's `logRuleMatchAccepts|Drops|Rejects` for the
action; in the route-domain context (whose log profile is the device's global one, outside AS3),
the rule's `loggingEnabled`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mocks.common.traffic import PORTED, Flow, contains, in_ranges, same_name

DEFAULT_ROUTE_DOMAIN = "/Common/0"
ADC_MODE_ACTION = "accept"
ALLOWS = ("accept", "accept-decisively")
PROFILE_FLAG = {"accept": "logRuleMatchAccepts", "accept-decisively": "logRuleMatchAccepts",
                "drop": "logRuleMatchDrops", "reject": "logRuleMatchRejects"}
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ContextHit:
    """A rule that matched in one context."""

    context_type: str  # "Route Domain" | "Virtual Server"
    context_name: str  # full path of the route domain or virtual server
    tenant: str
    policy: str  # full path of the policy
    rule: str
    action: str  # accept | accept-decisively | drop | reject
    logged: bool
    route_domain: str
    log_profile: Obj | None = None
    staged: bool = False  # a match of the staged policy: logged, never enforced


@dataclass(frozen=True)
class AfmDecision:
    """The enforced decision (`action`, `rule`, the enforced `hits` in context order) and the
    staged policy's match, if any."""

    action: str
    rule: str | None
    hits: tuple[ContextHit, ...] = field(default=())
    staged: ContextHit | None = None

    def logged(self) -> list[ContextHit]:
        """The matches the device logs, in the order it sends them: the enforced ones by context,
        then the staged one."""
        found = [hit for hit in self.hits if hit.logged]
        if self.staged is not None and self.staged.logged:
            found.append(self.staged)
        return found

    def answer(self) -> dict[str, Any]:
        last = self.hits[-1] if self.hits else None
        staged = self.staged
        return {"action": self.action, "rule": self.rule,
                "policy": last.policy if last else None,
                "context": last.context_name if last else None,
                "staged": {"action": staged.action, "rule": staged.rule, "policy": staged.policy}
                if staged is not None else None}


@dataclass(frozen=True)
class _Ref:
    tenant: str
    app: str
    name: str
    item: Obj

    @property
    def path(self) -> str:
        return f"/{self.tenant}/{self.app}/{self.name}"


class _Tenants:
    """Pointer resolution and matching over the declared tenants for one flow."""

    def __init__(self, tenants: Mapping[str, Obj], flow: Flow) -> None:
        self.tenants = tenants
        self.flow = flow

    def items(self) -> Iterator[_Ref]:
        for tenant in sorted(self.tenants):
            for app in sorted(k for k, v in self.tenants[tenant].items() if isinstance(v, Mapping)):
                body = self.tenants[tenant][app]
                for name in sorted(k for k, v in body.items() if isinstance(v, Mapping) and "class" in v):
                    yield _Ref(tenant, app, name, body[name])

    def resolve(self, pointer: Any, where: _Ref) -> _Ref | None:
        use = pointer.get("use") if isinstance(pointer, Mapping) else None
        if not isinstance(use, str):
            return None  # {bigip: ...}: an object outside AS3
        if use.startswith("/"):
            parts = use.strip("/").split("/")
            if len(parts) != 3:
                return None
            tenant, app, name = parts
        elif "/" in use:
            tenant = where.tenant
            app, _, name = use.partition("/")
        else:
            tenant, app, name = where.tenant, where.app, use
        item = ((self.tenants.get(tenant) or {}).get(app) or {}).get(name)
        return _Ref(tenant, app, name, item) if isinstance(item, Mapping) else None

    # --- addresses and ports ------------------------------------------------------------------------
    def address_list(self, ref: _Ref, side: str, seen: frozenset[str] = frozenset()) -> bool:
        if ref.path in seen:
            return False
        item = ref.item
        if self.addresses(item.get("addresses"), side):
            return True
        if side == "dst" and self.flow.dst_name is not None and any(
                isinstance(f, str) and same_name(f, self.flow.dst_name) for f in item.get("fqdns") or []):
            return True
        inside = seen | {ref.path}
        return any(self._nested(pointer, ref, side, inside) for pointer in item.get("addressLists") or [])

    def _nested(self, pointer: Any, where: _Ref, side: str, seen: frozenset[str]) -> bool:
        target = self.resolve(pointer, where)
        return target is not None and self.address_list(target, side, seen)

    def addresses(self, entries: Any, side: str) -> bool:
        ip = self.flow.src if side == "src" else self.flow.dst
        for entry in entries or []:
            text = entry.get("address") if isinstance(entry, Mapping) else entry
            if isinstance(text, str) and contains(text, ip):
                return True
        return False

    def port_list(self, ref: _Ref, port: int, seen: frozenset[str] = frozenset()) -> bool:
        if ref.path in seen:
            return False
        if self.ports(ref.item.get("ports"), port):
            return True
        for pointer in ref.item.get("portLists") or []:
            target = self.resolve(pointer, ref)
            if target is not None and self.port_list(target, port, seen | {ref.path}):
                return True
        return False

    @staticmethod
    def ports(entries: Any, port: int) -> bool:
        return any(in_ranges(port, str(entry)) for entry in entries or [] if not isinstance(entry, bool))

    # --- rules ---------------------------------------------------------------------------------------
    def rules(self, policy: _Ref) -> Iterator[Obj]:
        for entry in policy.item.get("rules") or []:
            if not isinstance(entry, Mapping):
                continue
            if "use" in entry or "bigip" in entry:
                rule_list = self.resolve(entry, policy)
                if rule_list is not None and rule_list.item.get("class") == "Firewall_Rule_List":
                    yield from (r for r in rule_list.item.get("rules") or [] if isinstance(r, Mapping))
            else:
                yield entry

    def rule_matches(self, rule: Obj, where: _Ref) -> bool:
        protocol = str(rule.get("protocol", "any")).lower()
        if protocol != "any" and protocol != self._protocol_name():
            return False
        return all(self._side(rule.get(key), where, side)
                   for key, side in (("source", "src"), ("destination", "dst")))

    def _protocol_name(self) -> str:
        if self.flow.protocol == "ICMP" and self.flow.src.version == 6:
            return "ipv6-icmp"
        return self.flow.protocol.lower()

    def _side(self, match: Any, where: _Ref, side: str) -> bool:
        if not isinstance(match, Mapping):
            return True
        lists = match.get("addressLists") or []
        inline = match.get("addresses") or []
        if (lists or inline) and not (self.addresses(inline, side)
                or any(self._nested(p, where, side, frozenset()) for p in lists)):
            return False
        port_lists = match.get("portLists") or []
        ports = match.get("ports") or []
        if port_lists or ports:
            port = self.flow.src_port if side == "src" else self.flow.dst_port
            if self.flow.protocol not in PORTED or port is None:
                return False
            if not (self.ports(ports, port) or any(
                    (target := self.resolve(p, where)) is not None and self.port_list(target, port)
                    for p in port_lists)):
                return False
        return True

    def first_rule(self, policy: _Ref) -> Obj | None:
        for rule in self.rules(policy):
            if self.rule_matches(rule, policy):
                return rule
        return None

    # --- contexts ----------------------------------------------------------------------------------
    def route_domain_policy(self, route_domain: str) -> _Ref | None:
        for ref in self.items():
            if ref.item.get("class") != "Firewall_Policy":
                continue
            for domain in ref.item.get("routeDomainEnforcement") or []:
                if isinstance(domain, Mapping) and \
                        _route_domain(str(domain.get("bigip", ""))) == route_domain:
                    return ref
        return None

    def virtual_server(self) -> tuple[_Ref, _Ref | None, _Ref | None] | None:
        """The most specific listener holding the flow that has a firewall policy, with its
        enforced and its staged policy (each None when absent)."""
        best: tuple[tuple[int, int, int], _Ref, _Ref | None, _Ref | None] | None = None
        for ref in self.items():
            item = ref.item
            if not str(item.get("class", "")).startswith("Service_"):
                continue
            enforced, staged = (self.resolve(item[key], ref) if key in item else None
                                for key in ("policyFirewallEnforced", "policyFirewallStaged"))
            if enforced is None and staged is None:
                continue
            score = self._listener_score(item)
            if score is None or (best is not None and score <= best[0]):
                continue
            best = (score, ref, enforced, staged)
        return best[1:] if best else None

    def _listener_score(self, item: Obj) -> tuple[int, int, int] | None:
        layer4 = str(item.get("layer4", "tcp")).lower()
        if layer4 != "any" and layer4 != self._protocol_name():
            return None
        port = item.get("virtualPort", 0)
        if port not in (0, self.flow.dst_port):
            return None
        prefixes = [p for p in (self._prefix(a) for a in item.get("virtualAddresses") or []) if p is not None]
        prefix = max(prefixes, default=None)
        return None if prefix is None else (*prefix, 1 if port else 0)

    def _prefix(self, entry: Any) -> tuple[int, int] | None:
        """(destination prefix, source prefix) of a virtual address holding the flow: an
        `[address, source]` pair accepts only from `source`."""
        source = entry[1] if isinstance(entry, list) and len(entry) == 2 else None
        text = entry[0] if isinstance(entry, list) and entry else entry
        if not isinstance(text, str):
            return None
        source_prefix = 0
        if isinstance(source, str):
            try:
                scope = ipaddress.ip_network(source, strict=False)
            except ValueError:
                return None
            if scope.version != self.flow.src.version or self.flow.src not in scope:
                return None
            source_prefix = scope.prefixlen
        text = text.split("%", 1)[0]
        if text in ("0.0.0.0", "::"):
            network = ipaddress.ip_network(f"{text}/0")
        else:
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                return None
        if network.version != self.flow.dst.version or self.flow.dst not in network:
            return None
        return network.prefixlen, source_prefix

    def log_profile(self, virtual: _Ref) -> Obj | None:
        for pointer in virtual.item.get("securityLogProfiles") or []:
            target = self.resolve(pointer, virtual)
            if target is not None and isinstance(target.item.get("network"), Mapping):
                return target.item
        return None


def _route_domain(text: str) -> str:
    text = text.strip()
    return f"/Common/{text}" if text and not text.startswith("/") else text


def route_domain_id(path: str) -> str:
    """The number a log shows for a route domain path (`/Common/0` → `0`; the digits of a name)."""
    digits = "".join(ch for ch in path.rsplit("/", 1)[-1] if ch.isdigit())
    return digits or "0"


def decide(tenants: Mapping[str, Obj], flow: Flow) -> AfmDecision:
    """AFM's decision for `flow` over the declared tenants (see the module doc)."""
    world = _Tenants(tenants, flow)
    route_domain = _route_domain(flow.extra.get("routeDomain", DEFAULT_ROUTE_DOMAIN))
    hits: list[ContextHit] = []
    policy = world.route_domain_policy(route_domain)
    if policy is not None:
        rule = world.first_rule(policy)
        if rule is not None:
            hits.append(ContextHit("Route Domain", route_domain, policy.tenant, policy.path,
                                   str(rule["name"]), str(rule["action"]), rule.get("loggingEnabled") is True,
                                   route_domain))
    staged: ContextHit | None = None
    if not hits or hits[-1].action == "accept":
        found = world.virtual_server()
        if found is not None:
            virtual, vs_policy, staged_policy = found
            hit = _virtual_hit(world, virtual, vs_policy, route_domain, staged=False)
            if hit is not None:
                hits.append(hit)
            staged = _virtual_hit(world, virtual, staged_policy, route_domain, staged=True)
    if not hits:
        return AfmDecision(ADC_MODE_ACTION, None, staged=staged)
    return AfmDecision(hits[-1].action, hits[-1].rule, tuple(hits), staged)


def _virtual_hit(world: _Tenants, virtual: _Ref, policy: _Ref | None, route_domain: str, *,
                 staged: bool) -> ContextHit | None:
    """The first rule of `policy` matching in the virtual-server context of `virtual`, and whether
    the device logs it (the listener's log profile, and the rule's or the profile's flag)."""
    rule = world.first_rule(policy) if policy is not None else None
    if policy is None or rule is None:
        return None
    action = str(rule["action"])
    profile = world.log_profile(virtual)
    network: Obj = profile["network"] if profile else {}
    logged = profile is not None and (rule.get("loggingEnabled") is True
                                      or network.get(PROFILE_FLAG.get(action, "")) is True)
    return ContextHit("Virtual Server", virtual.path, virtual.tenant, policy.path, str(rule["name"]), action,
                      logged, route_domain, profile, staged)
