"""The receiver's object store: validation, referential integrity, atomic ordered change sets.

Written from `adapters/rest/openapi.yaml` alone (it shares no code with the adapter).
`Store.apply` validates each change against the state the previous ones left, on a copy, and
commits only when every change passed; it raises `ChangeError` (status, code, index, kind, name).
Groups may name other groups (`groups`, when the `groupReferences` feature is on; otherwise the
field is ignored, as a receiver ignores unknown fields); the `members` op adds and removes members
(feature `memberChanges`); an address may hold wildcard names (`*.example.com`) only with the
`wildcardFqdn` feature (otherwise they are refused as names); `limits` caps the number of groups
and of rules held.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._:/-]{0,254}$")
FQDN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$")
KINDS = ("group", "address", "service", "rule")
COLLECTION = {"group": "groups", "address": "addresses", "service": "services", "rule": "rules"}
RULE_REFS = (("source", "group"), ("destination", "address"), ("service", "service"))
FEATURES = ("groupReferences", "memberChanges", "wildcardFqdn")
LIMITED = {"groups": "group", "rules": "rule"}


class ChangeError(Exception):
    def __init__(self, status: int, code: str, message: str, index: int | None = None,
                 kind: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.index = index
        self.kind = kind
        self.name = name

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        for key, value in (("index", self.index), ("kind", self.kind), ("name", self.name)):
            if value is not None:
                error[key] = value
        return {"error": error}


def _invalid(message: str) -> ChangeError:
    return ChangeError(422, "invalid", message)


def _string_list(obj: dict[str, Any], key: str, required: bool = True) -> list[str]:
    if key not in obj:
        if required:
            raise _invalid(f"{key!r} is required")
        return []
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{key!r} must be a list of strings")
    if len(set(value)) != len(value):
        raise _invalid(f"{key!r} has duplicates")
    return list(value)


def _network(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise _invalid(f"{value!r} is not an IP address or CIDR network") from exc


@functools.lru_cache(maxsize=1 << 17)  # pure; a group's members are compared on every member change
def canonical_member(value: str) -> str:
    """A member in canonical form: a host address compressed (a /32 or /128 network is its address),
    a network as `address/prefix` with the host bits cleared. Raises ChangeError(422)."""
    _network(value)
    net = ipaddress.ip_network(value, strict=False)
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def validate_object(kind: str, obj: Any, group_references: bool = True,
                    wildcard_fqdn: bool = True) -> dict[str, Any]:
    """A clean copy of a protocol object (owner excluded); raises ChangeError(422). A group always
    has `groups` (empty, and the field ignored, without `group_references`); an address's `fqdns`
    may hold `*.` wildcards only with `wildcard_fqdn`."""
    if not isinstance(obj, dict):
        raise _invalid("the object must be a JSON object")
    name = obj.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _invalid(f"name {name!r} does not match {NAME.pattern}")
    clean: dict[str, Any] = {"name": name}
    description = obj.get("description")
    if description is not None:
        if not isinstance(description, str) or len(description) > 1024:
            raise _invalid("description must be a string of at most 1024 characters")
        clean["description"] = description
    if kind == "group":
        clean["members"] = _string_list(obj, "members")
        for member in clean["members"]:
            _network(member)
        clean["groups"] = _string_list(obj, "groups", required=False) if group_references else []
        for group in clean["groups"]:
            if not NAME.match(group):
                raise _invalid(f"groups: {group!r} does not match {NAME.pattern}")
    elif kind == "address":
        clean["networks"] = _string_list(obj, "networks")
        clean["fqdns"] = _string_list(obj, "fqdns")
        for network in clean["networks"]:
            _network(network)
        for fqdn in clean["fqdns"]:
            name = fqdn[2:] if wildcard_fqdn and fqdn.startswith("*.") else fqdn
            if not FQDN.match(name) or len(fqdn) > 255:
                raise _invalid(f"{fqdn!r} is not a domain name")
    elif kind == "service":
        ports = obj.get("ports")
        if not isinstance(ports, list) or not ports:
            raise _invalid("'ports' must be a non-empty list")
        clean["ports"] = []
        for port in ports:
            if not isinstance(port, dict) or port.get("protocol") not in ("tcp", "udp", "sctp"):
                raise _invalid(f"port {port!r}: protocol must be tcp, udp or sctp")
            start, end = port.get("start"), port.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and 1 <= start <= end <= 65535):
                raise _invalid(f"port {port!r}: need 1 <= start <= end <= 65535")
            clean["ports"].append({"protocol": port["protocol"], "start": start, "end": end})
    else:
        source = obj.get("source")
        if not isinstance(source, str):
            raise _invalid("'source' must be a group name")
        clean["source"] = source
        for key in ("destination", "service"):
            value = obj.get(key)
            if value is not None and not isinstance(value, str):
                raise _invalid(f"{key!r} must be a name or null")
            clean[key] = value
        if obj.get("action") not in ("allow", "deny"):
            raise _invalid("'action' must be allow or deny")
        clean["action"] = obj["action"]
        if not isinstance(obj.get("log"), bool):
            raise _invalid("'log' must be true or false")
        clean["log"] = obj["log"]
    return clean


@dataclass
class Store:
    """Objects by kind and name (each with `owner`), rules in evaluation order."""

    max_objects: int = 100_000
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    rule_order: list[str] = field(default_factory=list)
    revision: int = 0
    limits: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(LIMITED))
    features: frozenset[str] = frozenset(FEATURES)

    def copy(self) -> Store:
        """An independent copy. Objects are shared, never changed in place: every change replaces
        the object it changes, so copying costs the number of objects, not their content."""
        return Store(self.max_objects, {kind: dict(items) for kind, items in self.objects.items()},
                     list(self.rule_order), self.revision, dict(self.limits), self.features)

    def count(self) -> int:
        return sum(len(items) for items in self.objects.values())

    def state(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "groups": [self.objects["group"][n] for n in sorted(self.objects["group"])],
            "addresses": [self.objects["address"][n] for n in sorted(self.objects["address"])],
            "services": [self.objects["service"][n] for n in sorted(self.objects["service"])],
            "rules": [self.objects["rule"][n] for n in self.rule_order],
        }

    def referenced_by(self, kind: str, name: str) -> list[str]:
        """The objects naming `name` of `kind`: `rule R` and `group G` entries."""
        users = [f"rule {rule['name']}" for rule in (self.objects["rule"][n] for n in self.rule_order)
                 if any(ref_kind == kind and rule.get(field_name) == name
                        for field_name, ref_kind in RULE_REFS)]
        if kind == "group":
            users.extend(f"group {g}" for g in sorted(self.objects["group"])
                         if name in self.objects["group"][g]["groups"])
        return users

    def _check_refs(self, rule: dict[str, Any]) -> None:
        for field_name, ref_kind in RULE_REFS:
            target = rule.get(field_name)
            if target is not None and target not in self.objects[ref_kind]:
                raise ChangeError(409, "missing_reference",
                                  f"{field_name} {ref_kind} {target!r} does not exist")

    def _check_group_refs(self, group: dict[str, Any]) -> None:
        name = group["name"]
        for target in group["groups"]:
            if target != name and target not in self.objects["group"]:
                raise ChangeError(409, "missing_reference", f"groups: group {target!r} does not exist")
        path = self._loop_path(name, group["groups"])
        if path:
            raise _invalid(f"groups: reference loop {' -> '.join([name, *path])}")

    def _loop_path(self, name: str, refs: list[str]) -> list[str]:
        """A chain of group references from `refs` back to `name` (empty when there is none)."""
        stack = [(ref, [ref]) for ref in reversed(refs)]
        seen: set[str] = set()
        while stack:
            current, path = stack.pop()
            if current == name:
                return path
            if current in seen or current not in self.objects["group"]:
                continue
            seen.add(current)
            stack.extend((nxt, [*path, nxt]) for nxt in reversed(self.objects["group"][current]["groups"]))
        return []

    def put(self, kind: str, obj: dict[str, Any], owner: str | None) -> None:
        """Create or replace one validated object (rules keep their position, new ones go last)."""
        if kind == "rule":
            self._check_refs(obj)
        elif kind == "group":
            self._check_group_refs(obj)
        name = obj["name"]
        is_new = name not in self.objects[kind]
        if is_new and self.count() >= self.max_objects:
            raise ChangeError(422, "limit_exceeded", f"more than maxObjects={self.max_objects} objects")
        for collection, limited_kind in LIMITED.items():
            limit = self.limits.get(collection)
            if is_new and kind == limited_kind and limit is not None and len(self.objects[kind]) >= limit:
                raise ChangeError(422, "limit_exceeded",
                                  f"more than limits.{collection}={limit} {collection}")
        self.objects[kind][name] = {**obj, "owner": owner}
        if kind == "rule" and is_new:
            self.rule_order.append(name)

    def remove(self, kind: str, name: str) -> None:
        users = self.referenced_by(kind, name) if kind != "rule" else []
        if users:
            raise ChangeError(409, "in_use", f"{kind} {name!r} is used by {', '.join(users[:5])}")
        del self.objects[kind][name]
        if kind == "rule":
            self.rule_order.remove(name)

    def apply(self, owner: str, changes: list[Any]) -> Store:
        """A new store with `changes` applied in order; self is unchanged. Raises ChangeError."""
        work = self.copy()
        for index, change in enumerate(changes):
            kind = change.get("kind") if isinstance(change, dict) else None
            name = _change_name(change)
            try:
                work._apply_one(owner, change)
            except ChangeError as error:
                error.index, error.kind, error.name = index, kind if isinstance(kind, str) else None, name
                error.message = f"change {index}: {error.message}"
                raise
        work.revision = self.revision + 1
        return work

    def _apply_one(self, owner: str, change: Any) -> None:
        if not isinstance(change, dict):
            raise _invalid("a change must be a JSON object")
        op, kind = change.get("op"), change.get("kind")
        if kind not in KINDS:
            raise _invalid(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if op in ("create", "update"):
            obj = validate_object(kind, change.get("object"), "groupReferences" in self.features,
                                  "wildcardFqdn" in self.features)
            current = self.objects[kind].get(obj["name"])
            if op == "create" and current is not None:
                raise ChangeError(409, "exists", f"{kind} {obj['name']!r} already exists")
            if op == "update":
                self._owned(kind, obj["name"], owner)
            self.put(kind, obj, owner)
        elif op == "delete":
            name = change.get("name")
            if not isinstance(name, str):
                raise _invalid("delete needs 'name'")
            self._owned(kind, name, owner)
            self.remove(kind, name)
        elif op == "order":
            if kind != "rule":
                raise _invalid("only rules can be ordered")
            names = change.get("names")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
                    or len(set(names)) != len(names):
                raise _invalid("order needs 'names', a list of distinct rule names")
            for name in names:
                self._owned("rule", name, owner)
            wanted = set(names)
            slots = [i for i, n in enumerate(self.rule_order) if n in wanted]
            for slot, name in zip(slots, names, strict=True):
                self.rule_order[slot] = name
        elif op == "members" and "memberChanges" in self.features:
            self._change_members(owner, kind, change)
        else:
            ops = "create, update, delete, order" + (", members" if "memberChanges" in self.features else "")
            raise _invalid(f"op {op!r} is not one of {ops}")

    def _change_members(self, owner: str, kind: str, change: dict[str, Any]) -> None:
        """Remove then add members of a group, compared in canonical form; absent removals and
        present additions are no-ops. Added members are stored in canonical form."""
        if kind != "group":
            raise _invalid("op 'members' applies to groups only")
        name = change.get("name")
        if not isinstance(name, str):
            raise _invalid("members needs 'name'")
        lists: dict[str, list[str]] = {}
        for key in ("add", "remove"):
            value = change.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _invalid(f"{key!r} must be a list of strings")
            lists[key] = [canonical_member(v) for v in value]
        both = set(lists["add"]) & set(lists["remove"])
        if both:
            raise _invalid(f"{sorted(both)[0]!r} is both added and removed")
        self._owned("group", name, owner)
        group = self.objects["group"][name]
        removed = set(lists["remove"])
        members = [m for m in group["members"] if canonical_member(m) not in removed]
        present = {canonical_member(m) for m in members}
        for member in lists["add"]:
            if member not in present:
                members.append(member)
                present.add(member)
        self.objects["group"][name] = {**group, "members": members}

    def _owned(self, kind: str, name: str, owner: str) -> None:
        current = self.objects[kind].get(name)
        if current is None:
            raise ChangeError(409, "not_found", f"{kind} {name!r} does not exist")
        if current.get("owner") != owner:
            raise ChangeError(409, "not_owner", f"{kind} {name!r} belongs to {current.get('owner')!r}")


def _change_name(change: Any) -> str | None:
    if not isinstance(change, dict):
        return None
    if isinstance(change.get("name"), str):
        return str(change["name"])
    obj = change.get("object")
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        return str(obj["name"])
    return None
