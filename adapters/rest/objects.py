"""Translation between the desired-state model, planner objects and REST protocol objects.

Bodies are canonical so that rendered and read objects compare equal when the receiver holds what
we sent: members, networks and FQDNs sorted and normalized, ports sorted, `description` always
present (empty when the receiver has none), a group's `groups` (the groups it includes by
reference) sorted and present only when not empty.

A source group that includes other groups (a ClusterEgressRule's union of namespaces) is rendered
by reference (`groups` names the included groups, `members` holds its own addresses) for a
receiver that declares `groupReferences`, else flattened (`members` holds every address, includes
resolved). Either way the receiver decides the same; by reference, a namespace joining the union
changes one object and a pod joining a namespace changes only that namespace's group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from adapters.base.memo import RenderMemo
from adapters.base.naming import NameRules, UniqueNames, object_name
from adapters.rest.members import GroupMembers, canonical_members, changed_window
from connector.model import CompiledRule, Destination, DeviceState, PortSet, SourceGroup
from connector.planner.types import Change, DeviceObject, Op

NAME_RULES = NameRules(max_length=255, allowed="A-Za-z0-9._:/-", separator=".", replacement="_")


# the tag of each kind's names: fc.<cluster>.<tag>.<key without the cluster>
TAGS = {"address": "dst", "group": "src", "service": "ports", "rule": "rule"}


class MalformedObject(ValueError):
    """A receiver object that does not follow the protocol."""


class RestNames:
    """Unique names per kind for the keys of the states rendered (`adapters.base.naming.UniqueNames`):
    `claim(cluster, state)` claims a name for every destination, group, port set and rule key of
    `state` (releasing those of keys gone since the previous call) before any object is built, so
    every name is final when it is used. A name is a function of the set of keys (a fresh
    `RestNames` gives the same names); a call costs O(keys) set operations, a name only for new keys."""

    def __init__(self) -> None:
        self._reset("")

    def _reset(self, cluster: str) -> None:
        self.cluster = cluster
        self._spaces = {kind: UniqueNames(NAME_RULES) for kind in TAGS}
        self._keys: dict[str, set[str]] = {kind: set() for kind in TAGS}

    def claim(self, cluster: str, state: DeviceState) -> None:
        if cluster != self.cluster:
            self._reset(cluster)
        for kind, keys in (("address", state.destinations), ("group", state.groups),
                           ("service", state.port_sets), ("rule", [rule.key for rule in state.rules])):
            space, held, current = self._spaces[kind], self._keys[kind], set(keys)
            for key in held - current:
                space.release(key)
            for key in sorted(current - held):
                space.acquire(key, object_name(cluster, TAGS[kind], key, NAME_RULES))
            self._keys[kind] = current

    def name(self, kind: str, key: str) -> str:
        """The name of `key`'s object of `kind`, claimed or not (a group's dangling include)."""
        if key in self._keys[kind]:
            return self._spaces[kind].name(key)
        return object_name(self.cluster, TAGS[kind], key, NAME_RULES)


def _address_key(value: str) -> tuple[int, bytes, int]:
    net = ipaddress.ip_network(value, strict=False)
    return (net.version, net.network_address.packed, net.prefixlen)


def canonical_networks(values: Iterable[str]) -> list[str]:
    """Networks in CIDR form (a single IP becomes `/32` or `/128`), sorted."""
    return sorted({str(ipaddress.ip_network(str(v).strip(), strict=False)) for v in values}, key=_address_key)


def canonical_fqdns(values: Iterable[str]) -> list[str]:
    return sorted({str(v).strip().lower().rstrip(".") for v in values})


def canonical_ports(values: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ports = {(str(p["protocol"]).lower(), int(p["start"]), int(p["end"])) for p in values}
    return [{"protocol": proto, "start": start, "end": end} for proto, start, end in sorted(ports)]


def _rule_description(rule: CompiledRule) -> str:
    origin = rule.origin
    return f"{origin} ({origin.tier.value} tier, priority {origin.priority})"


def render(state: DeviceState, cluster: str, owner: str, memo: RenderMemo | None = None, *,
           group_references: bool = False, names: RestNames | None = None,
           members: GroupMembers | None = None) -> list[DeviceObject]:
    """The protocol objects for `state`: addresses, groups, services, then rules in order. Groups
    that include others are rendered by reference with `group_references`, else flattened (see the
    module docstring). With a `memo`, objects whose model objects did not change since its previous
    render are reused: a group is rebuilt only when it changed (flattened: or a group it includes).
    `names` (kept across renders with the memo) names every object uniquely per kind; `members`
    (kept likewise) rebuilds a changed group's own members in O(members changed)."""
    memo = memo or RenderMemo()
    names = names or RestNames()
    members = members or GroupMembers()
    names.claim(cluster, state)
    members.retain(state.groups)
    objects: list[DeviceObject] = []
    for kind, models in (("address", state.destinations), ("group", state.groups),
                         ("service", state.port_sets)):
        for key in sorted(models):
            objects.append(_rendered(state, memo, names, members, kind, key, cluster, owner,
                                     group_references))
    for rule in state.rules:
        destination = names.name("address", rule.destination) if rule.destination is not None else None
        service = names.name("service", rule.ports) if rule.ports is not None else None
        objects.append(memo.get(("rule", rule.key), _rule_object, rule, names.name("rule", rule.key),
                                names.name("group", rule.source), destination, service, owner))
    memo.done()
    return objects


def _rendered(state: DeviceState, memo: RenderMemo, names: RestNames, members: GroupMembers, kind: str,
              key: str, cluster: str, owner: str, group_references: bool) -> DeviceObject:
    name = names.name(kind, key)
    if kind == "address":
        return memo.get((kind, key), _destination_object, state.destinations[key], name, owner)
    if kind == "service":
        return memo.get((kind, key), _service_object, state.port_sets[key], name, owner)
    group = state.groups[key]
    if not group.includes:
        return memo.get((kind, key), _group_object, group, name, cluster, owner, members)
    if group_references:
        included = tuple(sorted({names.name("group", inner) for inner in group.includes}))
        return memo.get(("group-references", key), _referencing_group_object, group, name, included, cluster,
                        owner, members)
    inner = tuple(state.groups[k] for k in state.group_keys(key))
    return memo.get(("group-flattened", key), _flattened_group_object, inner, name, cluster, owner)


def _destination_object(dest: Destination, name: str, owner: str) -> DeviceObject:
    return DeviceObject("address", name, {
        "networks": canonical_networks(dest.networks), "fqdns": canonical_fqdns(dest.fqdns),
        "description": f"ExternalService {dest.namespace}/{dest.name}" if dest.namespace
        else f"ExternalService {dest.name}",
    }, owner, (f"ExternalService/{dest.namespace}/{dest.name}",))


def _group_description(group: SourceGroup, cluster: str) -> str:
    what = "/".join(part for part in (group.namespace, group.service or group.rule) if part)
    return f"cluster {cluster}: {group.purpose} {what}"


def _identities(groups: Iterable[SourceGroup]) -> tuple[str, ...]:
    return tuple(sorted({str(i) for group in groups for _, ids in group.members for i in ids}))


def _group_object(group: SourceGroup, name: str, cluster: str, owner: str,
                  members: GroupMembers) -> DeviceObject:
    addresses, identities = members.of(group.key, group.members)
    return DeviceObject("group", name, {
        "members": addresses,
        "description": _group_description(group, cluster),
    }, owner, identities)


def _referencing_group_object(group: SourceGroup, name: str, included: tuple[str, ...], cluster: str,
                              owner: str, members: GroupMembers) -> DeviceObject:
    """A group with its own members and the names of the groups it includes (`included`, sorted)."""
    rule = (f"ClusterEgressRule/{group.rule}",) if group.rule and not group.namespace else ()
    addresses, identities = members.of(group.key, group.members)
    return DeviceObject("group", name, {
        "members": addresses,
        "groups": list(included),
        "description": _group_description(group, cluster),
    }, owner, identities + rule)


def _flattened_group_object(groups: tuple[SourceGroup, ...], name: str, cluster: str,
                            owner: str) -> DeviceObject:
    """`groups[0]` with the addresses of `groups` (itself and every group it includes)."""
    group = groups[0]
    rule = (f"ClusterEgressRule/{group.rule}",) if group.rule and not group.namespace else ()
    return DeviceObject("group", name, {
        "members": canonical_members(a for inner in groups for a in inner.addresses),
        "description": _group_description(group, cluster),
    }, owner, _identities(groups) + rule)


def _service_object(ports: PortSet, name: str, owner: str) -> DeviceObject:
    return DeviceObject("service", name, {
        "ports": canonical_ports(r.to_json() for r in ports.ranges),
        "description": f"ports of ExternalService {ports.namespace}/{ports.name}",
    }, owner, ())


def _rule_object(rule: CompiledRule, name: str, source: str, destination: str | None, service: str | None,
                 owner: str) -> DeviceObject:
    """A rule referencing the (rendered) names of its group, address and service."""
    origin = rule.origin
    return DeviceObject("rule", name, {
        "source": source,
        "destination": destination,
        "service": service,
        "action": rule.action.value.lower(),
        "log": rule.logging,
        "description": _rule_description(rule),
    }, owner, (f"{origin.kind.value}/{origin.namespace}/{origin.name}" if origin.namespace
               else f"{origin.kind.value}/{origin.name}",))


def parse_state(state: Mapping[str, Any]) -> list[DeviceObject]:
    """Planner objects for a `GET /state` document, in the receiver's order (rules in evaluation
    order). Raises MalformedObject naming the object that breaks the protocol."""
    objects: list[DeviceObject] = []
    for kind, collection in (("address", "addresses"), ("group", "groups"), ("service", "services"),
                             ("rule", "rules")):
        items = state.get(collection)
        if not isinstance(items, list):
            raise MalformedObject(f"state has no {collection!r} list")
        for item in items:
            objects.append(parse_object(kind, item))
    return objects


def parse_object(kind: str, item: Any) -> DeviceObject:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise MalformedObject(f"a {kind} without a name: {item!r:.200}")
    name = item["name"]
    owner = item.get("owner")
    try:
        body = _body(kind, item)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedObject(f"{kind} {name!r}: {exc}") from exc
    return DeviceObject(kind, name, body, owner if isinstance(owner, str) else None)


def _body(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    description = str(item.get("description") or "")
    if kind == "group":
        body: dict[str, Any] = {"members": canonical_members(item["members"])}
        included = item.get("groups") or []
        if not isinstance(included, list) or not all(isinstance(name, str) for name in included):
            raise ValueError("'groups' must be a list of group names")
        if included:
            body["groups"] = sorted(set(included))
        body["description"] = description
        return body
    if kind == "address":
        return {"networks": canonical_networks(item.get("networks") or ()),
                "fqdns": canonical_fqdns(item.get("fqdns") or ()), "description": description}
    if kind == "service":
        return {"ports": canonical_ports(item["ports"]), "description": description}
    return {"source": str(item["source"]), "destination": item.get("destination"),
            "service": item.get("service"), "action": str(item["action"]).lower(),
            "log": bool(item.get("log", False)), "description": description}


def wire_change(change: Change, member_changes: bool = False) -> dict[str, Any]:
    """The protocol form of one plan change; with `member_changes`, a group update that changes
    only members is a `members` op carrying the added and removed addresses."""
    if change.op is Op.REORDER:
        assert change.after is not None
        return {"op": "order", "kind": change.kind, "names": list(change.after["order"])}
    if change.op is Op.DELETE:
        return {"op": "delete", "kind": change.kind, "name": change.name}
    assert change.after is not None
    if member_changes:
        delta = member_delta(change)
        if delta is not None:
            return {"op": "members", "kind": "group", "name": change.name,
                    "add": delta[0], "remove": delta[1]}
    return {"op": change.op.value, "kind": change.kind, "object": {"name": change.name, **change.after}}


def member_delta(change: Change) -> tuple[list[str], list[str]] | None:
    """(added, removed) members of a group update that changes nothing but members, else None."""
    before, after = change.before, change.after
    if change.op is not Op.UPDATE or change.kind != "group" or before is None or after is None:
        return None
    if _without_members(before) != _without_members(after):
        return None
    # members lists hold no address twice: what differs lies between their common head and tail
    old, new = changed_window(list(before.get("members") or []), list(after.get("members") or []))
    old_set, new_set = set(old), set(new)
    return [m for m in new if m not in old_set], [m for m in old if m not in new_set]


def _without_members(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "members"}


def references(obj: DeviceObject) -> list[tuple[str, str]]:
    """(kind, name) refs of a protocol object, for the planner's reference checks: a rule's group,
    address and service, a group's included groups."""
    if obj.kind == "group":
        return [("group", str(name)) for name in obj.body.get("groups") or ()]
    if obj.kind != "rule":
        return []
    refs = [("group", str(obj.body["source"]))]
    if obj.body.get("destination"):
        refs.append(("address", str(obj.body["destination"])))
    if obj.body.get("service"):
        refs.append(("service", str(obj.body["service"])))
    return refs


def dependency_order(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """`changes` (a plan's) with the group changes reordered so that a group is created or updated
    after the groups it then includes, and deleted before the groups it included; the planner
    orders one kind by name only. Everything else keeps its place (the same tuple when nothing
    moves)."""
    out = list(changes)
    writes = [i for i, c in enumerate(out) if c.kind == "group" and c.op in (Op.CREATE, Op.UPDATE)]
    deletes = [i for i, c in enumerate(out) if c.kind == "group" and c.op is Op.DELETE]
    _place(out, writes, lambda c: _included(c.after), referenced_first=True)
    _place(out, deletes, lambda c: _included(c.before), referenced_first=False)
    return changes if all(a is b for a, b in zip(out, changes, strict=True)) else tuple(out)


def _included(body: Mapping[str, Any] | None) -> list[str]:
    return [str(name) for name in (body or {}).get("groups") or ()]


def _place(out: list[Change], slots: list[int], refs: Callable[[Change], list[str]],
           referenced_first: bool) -> None:
    """Reorder `out[slots]` in place: each change after (or before) the changes of the groups its
    body references, otherwise in the given order."""
    block = [out[i] for i in slots]
    if not any(refs(c) for c in block):
        return
    by_name = {c.name: c for c in block}
    after: dict[str, list[Change]] = {c.name: [] for c in block}  # name -> changes that go first
    for change in block:
        for name in refs(change):
            if name in by_name and name != change.name:
                if referenced_first:
                    after[change.name].append(by_name[name])
                else:
                    after[name].append(change)
    ordered: list[Change] = []
    done: set[str] = set()
    for change in block:
        stack = [(change, False)]
        while stack:
            current, expanded = stack.pop()
            if current.name in done:
                continue
            if expanded:
                done.add(current.name)
                ordered.append(current)
                continue
            stack.append((current, True))
            stack.extend((first, False) for first in reversed(after[current.name]) if first.name not in done)
    for slot, change in zip(slots, ordered, strict=True):
        out[slot] = change
