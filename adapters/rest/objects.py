"""Translation between the desired-state model, planner objects and REST protocol objects.

Bodies are canonical so that rendered and read objects compare equal when the receiver holds what
we sent: members, networks and FQDNs sorted and normalized, ports sorted, `description` always
present (empty when the receiver has none).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from adapters.base.memo import RenderMemo
from adapters.base.naming import NameRules, destination_name, group_name, port_set_name, rule_name
from connector.model import CompiledRule, Destination, DeviceState, PortSet, SourceGroup
from connector.planner.types import Change, DeviceObject, Op

NAME_RULES = NameRules(max_length=255, allowed="A-Za-z0-9._:/-", separator=".", replacement="_")


class MalformedObject(ValueError):
    """A receiver object that does not follow the protocol."""


def _address_key(value: str) -> tuple[int, bytes, int]:
    net = ipaddress.ip_network(value, strict=False)
    return (net.version, net.network_address.packed, net.prefixlen)


def canonical_members(values: Iterable[str]) -> list[str]:
    """Host addresses in compressed form (`/32` and `/128` networks become hosts), CIDRs canonical."""
    members = {_member(str(value)) for value in values}
    return [text for _, text in sorted(members)]


@functools.lru_cache(maxsize=1 << 17)  # pure; pod addresses repeat across renders and reads
def _member(value: str) -> tuple[tuple[int, bytes, int], str]:
    """(sort key, canonical text) of one member."""
    net = ipaddress.ip_network(value.strip(), strict=False)
    text = str(net.network_address) if net.num_addresses == 1 else str(net)
    return _address_key(text), text


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


def render(state: DeviceState, cluster: str, owner: str,
           memo: RenderMemo | None = None) -> list[DeviceObject]:
    """The protocol objects for `state`: addresses, groups, services, then rules in order. With a
    `memo`, objects whose model objects did not change since its previous render are reused."""
    memo = memo or RenderMemo()
    objects: list[DeviceObject] = []
    names: dict[tuple[str, str], str] = {}
    for kind, build, models in (("address", _destination_object, state.destinations),
                                ("group", _group_object, state.groups),
                                ("service", _service_object, state.port_sets)):
        for key in sorted(models):
            obj = memo.get((kind, key), build, models[key], cluster, owner)
            names[(kind, key)] = obj.name
            objects.append(obj)
    for rule in state.rules:
        destination = names[("address", rule.destination)] if rule.destination is not None else None
        service = names[("service", rule.ports)] if rule.ports is not None else None
        objects.append(memo.get(("rule", rule.key), _rule_object, rule, names[("group", rule.source)],
                                destination, service, cluster, owner))
    memo.done()
    return objects


def _destination_object(dest: Destination, cluster: str, owner: str) -> DeviceObject:
    return DeviceObject("address", destination_name(cluster, dest, NAME_RULES), {
        "networks": canonical_networks(dest.networks), "fqdns": canonical_fqdns(dest.fqdns),
        "description": f"ExternalService {dest.namespace}/{dest.name}" if dest.namespace
        else f"ExternalService {dest.name}",
    }, owner, (f"ExternalService/{dest.namespace}/{dest.name}",))


def _group_object(group: SourceGroup, cluster: str, owner: str) -> DeviceObject:
    what = "/".join(part for part in (group.namespace, group.service or group.rule) if part)
    identities = sorted({str(i) for _, ids in group.members for i in ids})
    return DeviceObject("group", group_name(cluster, group, NAME_RULES), {
        "members": canonical_members(group.addresses),
        "description": f"cluster {cluster}: {group.purpose} {what}",
    }, owner, tuple(identities))


def _service_object(ports: PortSet, cluster: str, owner: str) -> DeviceObject:
    return DeviceObject("service", port_set_name(cluster, ports, NAME_RULES), {
        "ports": canonical_ports(r.to_json() for r in ports.ranges),
        "description": f"ports of ExternalService {ports.namespace}/{ports.name}",
    }, owner, ())


def _rule_object(rule: CompiledRule, source: str, destination: str | None, service: str | None,
                 cluster: str, owner: str) -> DeviceObject:
    """A rule referencing the (rendered) names of its group, address and service."""
    origin = rule.origin
    return DeviceObject("rule", rule_name(cluster, rule, NAME_RULES), {
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
        return {"members": canonical_members(item["members"]), "description": description}
    if kind == "address":
        return {"networks": canonical_networks(item.get("networks") or ()),
                "fqdns": canonical_fqdns(item.get("fqdns") or ()), "description": description}
    if kind == "service":
        return {"ports": canonical_ports(item["ports"]), "description": description}
    return {"source": str(item["source"]), "destination": item.get("destination"),
            "service": item.get("service"), "action": str(item["action"]).lower(),
            "log": bool(item.get("log", False)), "description": description}


def wire_change(change: Change) -> dict[str, Any]:
    """The protocol form of one plan change."""
    if change.op is Op.REORDER:
        assert change.after is not None
        return {"op": "order", "kind": change.kind, "names": list(change.after["order"])}
    if change.op is Op.DELETE:
        return {"op": "delete", "kind": change.kind, "name": change.name}
    assert change.after is not None
    return {"op": change.op.value, "kind": change.kind, "object": {"name": change.name, **change.after}}


def references(obj: DeviceObject) -> list[tuple[str, str]]:
    """(kind, name) refs of a protocol object, for the planner's reference checks."""
    if obj.kind != "rule":
        return []
    refs = [("group", str(obj.body["source"]))]
    if obj.body.get("destination"):
        refs.append(("address", str(obj.body["destination"])))
    if obj.body.get("service"):
        refs.append(("service", str(obj.body["service"])))
    return refs
