"""Render a `DeviceState` into the AS3 objects of one tenant (pure).

Mapping (see docs/adapters.md):
- one `Firewall_Address_List` per source group and per destination (IPs/CIDRs in `addresses`,
  names in `fqdns`); a group that includes other groups (a ClusterEgressRule's union of namespaces)
  references their lists by `addressLists` (plus `addresses` for its own members), so a namespace
  joining the union changes one list. AS3 rejects empty lists and a rule must never widen to "any
  source": a group that resolves to no address is never emitted nor referenced, and its rules are
  left out. Included lists are emitted even when no rule references them directly;
- one `Firewall_Port_List` per port set and protocol: an AFM rule has one `protocol`, so a port set
  spanning TCP and UDP becomes one AFM rule (and one port list) per protocol; "any port" is a rule
  with protocol `any` and no port list;
- one `Firewall_Rule_List` per tier (`rules_admin`, `rules_namespace`, `rules_baseline`,
  `rules_default`) holding its rules in evaluation order, and one `Firewall_Policy` referencing the
  lists in that order (a state whose tiers are not contiguous gets one list per run, `rules_<tier>_2`,
  so the device order is always the state's order);
- Allow → `accept-decisively`: the connector's decision is final for the traffic it matches, even
  when the policy is enforced in the route-domain context and a virtual-server policy follows
  (`accept` would hand the packet on to later contexts). Deny → `reject`: cluster workloads fail
  fast (TCP reset / ICMP unreachable) instead of waiting for connect timeouts;
- the policy is attached through a forwarding `Service_L4` (`policyFirewallEnforced`; the default
  wildcard address 0.0.0.0 comes with `::` so that IPv6 egress passes the policy too, unless every
  next-hop gateway is IPv4; with `sourceAddresses`, `[address, source]` pairs scope it to the
  cluster's networks) or with `routeDomainEnforcement`; a `Security_Log_Profile` exists when
  a rule logs;
- audit rules (`DeviceState.staged`, from `mode: Audit` resources) go into a second policy,
  `audit_policy` (one rule list `rules_audit`, in evaluation order, every rule logging), attached
  as the virtual server's staged policy (`policyFirewallStaged`): AFM evaluates and logs it but
  never enforces it. AS3 has no staged policy for route-domain enforcement: with that attach the
  audit rules are not rendered.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from adapters.base.memo import RenderMemo
from adapters.f5.config import Attach
from adapters.f5.declaration import (
    REMARK,
    TENANT,
    canonical_item,
    kind_of,
    remark,
    sorted_addresses,
    tenant_label,
)
from adapters.f5.names import NameBook, max_name_length
from connector.model import Action, CompiledRule, DeviceState, PortSet, Protocol, RuleKind, SourceGroup, Tier
from connector.planner.types import DeviceObject

ALLOW_ACTION = "accept-decisively"
DENY_ACTION = "reject"
POLICY = "egress_policy"
VIRTUAL = "egress_vs"
POOL = "egress_gw_pool"
LOG_PROFILE = "egress_log"
STAGED_POLICY = "audit_policy"
STAGED_RULES = "rules_audit"
LOG_PUBLISHER = "/Common/local-db-publisher"
LOG_FIELDS = ["date-time", "acl-policy-name", "acl-rule-name", "action", "src-ip", "src-port",
              "dest-ip", "dest-port", "protocol", "route-domain", "context-name"]
# every item name outside the lists: list names start with src_, dst_ or ports_ and never take these
FIXED_NAMES = (POLICY, VIRTUAL, POOL, LOG_PROFILE, STAGED_POLICY, STAGED_RULES,
               *(f"rules_{tier.value.lower()}" for tier in Tier))
_KIND_SHORT = {RuleKind.CLUSTER: "cluster", RuleKind.SERVICE: "svc", RuleKind.NAMESPACE: "ns",
               RuleKind.ANNOTATION: "annotation", RuleKind.DEFAULT: "default"}


def _group_readable(state: DeviceState, key: str) -> str:
    group = state.groups[key]
    parts = ["src", group.namespace or "cluster"]
    if group.service:
        parts += ["svc", group.service]
    if group.rule:
        parts.append(group.rule)
    if group.purpose not in ("namespace", "service", "pods"):
        parts.append(group.purpose)
    return "_".join(parts)


def _rule_readable(rule: CompiledRule, protocol: str | None) -> str:
    origin = rule.origin
    action = "allow" if rule.action is Action.ALLOW else "deny"
    parts = [action, _KIND_SHORT.get(origin.kind, "rule")]
    if origin.namespace:
        parts.append(origin.namespace)
    parts.append(origin.name)
    if protocol:
        parts.append(protocol)
    return "_".join(parts)


def _protocols(port_set: PortSet) -> list[Protocol]:
    return sorted({r.protocol for r in port_set.ranges}, key=lambda p: p.value)


def _ports(port_set: PortSet, protocol: Protocol) -> list[int | str]:
    return [r.start if r.start == r.end else f"{r.start}-{r.end}"
            for r in sorted(port_set.ranges) if r.protocol == protocol]


class _Sources:
    """Which source groups resolve to at least one address (own members or included groups'),
    computed once per group per render without walking members."""

    def __init__(self, state: DeviceState) -> None:
        self.groups = state.groups
        self._known: dict[str, bool] = {}

    def nonempty(self, key: str) -> bool:
        known = self._known.get(key)
        if known is None:
            group = self.groups.get(key)
            self._known[key] = False  # includes never loop; guards a malformed state anyway
            known = group is not None and (bool(group.members)
                                           or any(self.nonempty(k) for k in group.includes))
            self._known[key] = known
        return known

    def included(self, key: str) -> tuple[str, ...]:
        """The groups `key` includes directly that resolve to an address."""
        return tuple(k for k in self.groups[key].includes if self.nonempty(k))


def _emittable(state: DeviceState, sources: _Sources, rule: CompiledRule) -> bool:
    if not sources.nonempty(rule.source):
        return False
    if rule.destination is not None:
        destination = state.destinations[rule.destination]
        if not destination.networks and not destination.fqdns:
            return False
    return not (rule.ports is not None and not state.port_sets[rule.ports].ranges)


@dataclass(frozen=True)
class RenderSettings:
    """What `render_objects` needs besides the state."""

    tenant: str
    owner_mark: str
    attach: Attach


def render_objects(state: DeviceState, settings: RenderSettings,
                   memo: RenderMemo | None = None) -> list[DeviceObject]:
    """The tenant's objects for `state`, canonical, in dependency order. No rule → no object at all.
    With a `memo`, address lists and objects whose inputs did not change since its previous render
    are reused (the output is the same)."""
    memo = memo or RenderMemo()
    staged: list[CompiledRule] = []
    if state.staged.rules and settings.attach.virtual_server is not None:
        state = _with_staged_objects(state)
    sources = _Sources(state)
    rules = [r for r in state.rules if _emittable(state, sources, r)]
    if settings.attach.virtual_server is not None:
        staged = [r for r in state.staged.rules if _emittable(state, sources, r)]
    objects = (_TenantRenderer(state, settings, rules, memo, sources, staged).objects()
               if rules or staged else [])
    memo.done()
    return objects


def _with_staged_objects(state: DeviceState) -> DeviceState:
    """`state` whose groups, destinations and port sets also hold those of its audit rules (the
    same key is the same object in both)."""
    staged = state.staged
    return DeviceState(device=state.device, cluster=state.cluster,
                       groups={**staged.groups, **state.groups},
                       destinations={**staged.destinations, **state.destinations},
                       port_sets={**staged.port_sets, **state.port_sets},
                       rules=state.rules, staged=staged)


Item = tuple[str, dict[str, Any], tuple[str, ...]]  # name, AS3 body, identities


class _TenantRenderer:
    """Builds the items of one tenant; `book` names the lists the rules reference."""

    def __init__(self, state: DeviceState, settings: RenderSettings, rules: list[CompiledRule],
                 memo: RenderMemo, sources: _Sources, staged: list[CompiledRule]) -> None:
        self.state = state
        self.settings = settings
        self.rules = rules
        self.staged = staged
        self.memo = memo
        self.sources = sources
        self.book = NameBook(max_name_length(settings.tenant), FIXED_NAMES)
        wanted: set[str] = set()
        for rule in rules + staged:
            self._want_group(rule.source, wanted)
            if rule.destination is not None:
                dst = state.destinations[rule.destination]
                self.book.want("d:" + rule.destination, f"dst_{dst.namespace or 'cluster'}_{dst.name}")
            if rule.ports is not None:
                port_set = state.port_sets[rule.ports]
                for protocol in _protocols(port_set):
                    self.book.want(f"p:{protocol.value}:{rule.ports}",
                                   f"ports_{port_set.namespace or 'cluster'}_{port_set.name}_"
                                   f"{protocol.value.lower()}")

    def _want_group(self, key: str, wanted: set[str]) -> None:
        """Name group `key` and, transitively, the non-empty groups it includes."""
        stack = [key]
        while stack:
            current = stack.pop()
            if current not in wanted:
                wanted.add(current)
                self.book.want("g:" + current, _group_readable(self.state, current))
                stack.extend(self.sources.included(current))

    def objects(self) -> list[DeviceObject]:
        tenant, label = self.settings.tenant, tenant_label(self.settings.owner_mark)
        logging = bool(self.staged) or any(r.logging for r in self.rules)
        items = self.lists()
        if logging:
            items.append(self.log_profile())
        items.extend(self.rule_lists_and_policy())
        if self.staged:
            items.extend(self.staged_list_and_policy())
        items.extend(self.attachment(logging))
        head = DeviceObject(TENANT, tenant, {"class": "Tenant", "label": label, "remark": REMARK},
                            owner=label)
        return [head] + [self.memo.get(("object", name), _device_object, name, body, who, tenant, label)
                         for name, body, who in items]

    def lists(self) -> list[Item]:
        """Address lists (sources, destinations) and port lists, once each, in first-use order."""
        items: list[Item] = []
        seen: set[str] = set()

        def add(name: str, body: dict[str, Any], who: tuple[str, ...]) -> None:
            if name not in seen:
                seen.add(name)
                items.append((name, body, who))

        def add_group(key: str) -> None:
            """The list of group `key` after the lists it includes (each once)."""
            name = self.book.name("g:" + key)
            if name in seen:  # many rules share a group: build its list once
                return
            included = self.sources.included(key)
            for inner in included:
                add_group(inner)
            names = tuple(sorted(self.book.name("g:" + inner) for inner in included))
            add(name, *self.memo.get(("source", name), _source_list, self.state.groups[key], names))

        for rule in self.rules + self.staged:
            add_group(rule.source)
            if rule.destination is not None and self.book.name("d:" + rule.destination) not in seen:
                dst = self.state.destinations[rule.destination]
                body: dict[str, Any] = {"class": "Firewall_Address_List",
                                        "remark": remark(f"ExternalService {dst.namespace}/{dst.name}")}
                if dst.networks:
                    body["addresses"] = sorted_addresses(dst.networks)
                if dst.fqdns:
                    body["fqdns"] = sorted(set(dst.fqdns))
                add(self.book.name("d:" + rule.destination), body,
                    (f"ExternalService/{dst.namespace}/{dst.name}",))
            if rule.ports is not None:
                port_set = self.state.port_sets[rule.ports]
                for protocol in _protocols(port_set):
                    add(self.book.name(f"p:{protocol.value}:{rule.ports}"),
                        {"class": "Firewall_Port_List",
                         "remark": remark(f"{protocol.value} ports of {port_set.namespace}/{port_set.name}"),
                         "ports": _ports(port_set, protocol)},
                        (f"ExternalService/{port_set.namespace}/{port_set.name}",))
        return items

    @staticmethod
    def log_profile() -> Item:
        return (LOG_PROFILE, {"class": "Security_Log_Profile", "remark": remark(REMARK), "network": {
            "publisher": {"bigip": LOG_PUBLISHER}, "logRuleMatchAccepts": True, "logRuleMatchDrops": True,
            "logRuleMatchRejects": True, "storageFormat": {"fields": list(LOG_FIELDS)}}}, ())

    def rule_lists_and_policy(self) -> list[Item]:
        """One rule list per tier run, then the policy referencing them in order."""
        items: list[Item] = []
        runs: dict[Tier, int] = {}
        for tier, tier_rules in _tier_runs(self.rules):
            rule_book = NameBook()
            expanded: list[tuple[CompiledRule, Protocol | None]] = []
            for rule in tier_rules:
                protocols: list[Protocol | None] = (
                    list(_protocols(self.state.port_sets[rule.ports])) if rule.ports is not None else [None])
                for proto in protocols:
                    expanded.append((rule, proto))
                    rule_book.want(_rule_key(rule, proto),
                                   _rule_readable(rule, proto.value.lower() if proto else None))
            runs[tier] = runs.get(tier, 0) + 1
            name = f"rules_{tier.value.lower()}" + (f"_{runs[tier]}" if runs[tier] > 1 else "")
            afm_rules = [self.afm_rule(rule_book, rule, proto) for rule, proto in expanded]
            items.append((name, {"class": "Firewall_Rule_List", "remark": remark(f"{tier.value} tier"),
                                 "rules": afm_rules}, tuple(sorted({str(r.origin) for r in tier_rules}))))
        policy: dict[str, Any] = {"class": "Firewall_Policy", "remark": remark(REMARK),
                                  "rules": [{"use": name} for name, _, _ in items]}
        if self.settings.attach.route_domain:
            policy["routeDomainEnforcement"] = [{"bigip": self.settings.attach.route_domain}]
        items.append((POLICY, policy, ()))
        return items

    def staged_list_and_policy(self) -> list[Item]:
        """The audit rules' list (every rule logs: staging exists to log) and the staged policy."""
        rule_book = NameBook()
        expanded: list[tuple[CompiledRule, Protocol | None]] = []
        for rule in self.staged:
            protocols: list[Protocol | None] = (
                list(_protocols(self.state.port_sets[rule.ports])) if rule.ports is not None else [None])
            for proto in protocols:
                expanded.append((rule, proto))
                rule_book.want(_rule_key(rule, proto),
                               _rule_readable(rule, proto.value.lower() if proto else None))
        afm_rules = [self.afm_rule(rule_book, rule, proto, logging=True) for rule, proto in expanded]
        who = tuple(sorted({str(r.origin) for r in self.staged}))
        return [(STAGED_RULES, {"class": "Firewall_Rule_List", "remark": remark("audit rules (staged)"),
                                "rules": afm_rules}, who),
                (STAGED_POLICY, {"class": "Firewall_Policy", "remark": remark(REMARK),
                                 "rules": [{"use": STAGED_RULES}]}, ())]

    def afm_rule(self, rule_book: NameBook, rule: CompiledRule, protocol: Protocol | None,
                 logging: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": rule_book.name(_rule_key(rule, protocol)),
            "remark": remark(str(rule.origin)),
            "action": ALLOW_ACTION if rule.action is Action.ALLOW else DENY_ACTION,
            "protocol": protocol.value.lower() if protocol else "any",
            "loggingEnabled": rule.logging or logging,
            "source": {"addressLists": [{"use": self.book.name("g:" + rule.source)}]},
        }
        destination: dict[str, Any] = {}
        if rule.destination is not None:
            destination["addressLists"] = [{"use": self.book.name("d:" + rule.destination)}]
        if rule.ports is not None and protocol is not None:
            destination["portLists"] = [{"use": self.book.name(f"p:{protocol.value}:{rule.ports}")}]
        if destination:
            out["destination"] = destination
        return out

    def attachment(self, logging: bool) -> list[Item]:
        """The forwarding virtual server (and its gateway pool) for virtual-server attach."""
        vs = self.settings.attach.virtual_server
        if vs is None:
            return []
        items: list[Item] = []
        virtual: dict[str, Any] = {
            "class": "Service_L4", "remark": remark("egress forwarding virtual server"),
            "virtualAddresses": virtual_addresses(vs.address, vs.gateways, vs.source_addresses),
            "virtualPort": vs.port,
            "layer4": "any", "translateServerAddress": False, "translateServerPort": False, "snat": "none",
            "policyFirewallEnforced": {"use": POLICY}}
        if self.staged:
            virtual["policyFirewallStaged"] = {"use": STAGED_POLICY}
        if vs.gateways:
            items.append((POOL, {"class": "Pool", "remark": remark("next-hop gateways for egress traffic"),
                                 "members": [{"servicePort": 0, "serverAddresses": list(vs.gateways)}],
                                 "monitors": [{"bigip": "/Common/gateway_icmp"}]}, ()))
            virtual["pool"] = POOL
        if logging:
            virtual["securityLogProfiles"] = [{"use": LOG_PROFILE}]
        items.append((VIRTUAL, virtual, ()))
        return items


def _source_list(group: SourceGroup, included: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The address list body of a source group whose non-empty included groups have the lists
    `included` (at least one address or one included list), and the identities behind it."""
    who = ((f"Namespace/{group.namespace}",) if group.namespace else ()) + (
        (f"Service/{group.namespace}/{group.service}",) if group.service else ()) + (
        (f"{RuleKind.CLUSTER.value}/{group.rule}",) if group.rule and not group.namespace else ())
    owner = (f"{group.namespace}/{group.service}" if group.service
             else group.namespace or (f"of {group.rule}" if group.rule else "cluster"))
    body: dict[str, Any] = {"class": "Firewall_Address_List",
                            "remark": remark(f"{group.purpose} sources {owner}")}
    if group.members:
        body["addresses"] = sorted_addresses(group.addresses)
    if included:
        body["addressLists"] = [{"use": name} for name in included]
    return body, who


def _device_object(name: str, body: dict[str, Any], who: tuple[str, ...], tenant: str,
                   label: str) -> DeviceObject:
    return DeviceObject(kind_of(body["class"]), name, canonical_item(body, tenant), owner=label,
                        identities=who)


def _rule_key(rule: CompiledRule, protocol: Protocol | None) -> str:
    return f"{rule.key}|{protocol.value if protocol else ''}"


def virtual_addresses(address: str, gateways: list[str], sources: list[str] | None = None
                      ) -> list[str | list[str]]:
    """The forwarding virtual's addresses: the IPv4 wildcard comes with the IPv6 one (`::`) so that
    IPv6 egress passes the policy too, unless every next-hop gateway is IPv4 (IPv6 traffic could not
    be forwarded to them); any other configured address is used alone. With `sources`, every
    address becomes `[address, source]` pairs (AS3: accept only from that network), one per source
    of the address's family: the virtual then takes only this cluster's traffic, and another
    cluster's wildcard virtual scoped to its own networks does not conflict with it."""
    ipv4_gateways = bool(gateways) and all(ipaddress.ip_address(g).version == 4 for g in gateways)
    addresses = [address] if address != "0.0.0.0" or ipv4_gateways else [address, "::"]
    if not sources:
        return list(addresses)
    pairs: list[str | list[str]] = []
    for destination in addresses:
        version = ipaddress.ip_address(destination.split("%", 1)[0]).version
        pairs.extend([destination, source] for source in sources
                     if ipaddress.ip_network(source).version == version)
    return pairs


def _tier_runs(rules: list[CompiledRule]) -> list[tuple[Tier, list[CompiledRule]]]:
    """Consecutive rules of one tier, in evaluation order (one run per tier for a compiled state,
    whose rules go Admin, Namespace, Baseline, Default)."""
    runs: list[tuple[Tier, list[CompiledRule]]] = []
    for rule in rules:
        if runs and runs[-1][0] is rule.origin.tier:
            runs[-1][1].append(rule)
        else:
            runs.append((rule.origin.tier, [rule]))
    return runs
