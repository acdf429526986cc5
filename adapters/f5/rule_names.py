"""The AFM rule names of a state's enforced rules, as `adapters.f5.render` names them, mapped to the
compiled rules they stand for: the `acl_rule_name` of a BIG-IP AFM traffic log decides which
Kubernetes rule a logged flow matched.

Names are unique within one rule list only (one list per tier run); a name that two lists give
to different rules is left out (a log naming it cannot be attributed a rule). Audit (staged)
rules decide nothing and are not listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.f5.declaration import kind_of
from adapters.f5.names import NameBook
from adapters.f5.render import (
    POLICY,
    _emittable,
    _protocols,
    _rule_key,
    _rule_readable,
    _Sources,
    _tier_runs,
)
from connector.model import CompiledRule, DeviceState, Protocol
from connector.planner.types import DeviceObject


def afm_rule_names(state: DeviceState) -> dict[str, str]:
    """AFM rule name -> `CompiledRule` key, for the rules `render_objects` emits for `state`."""
    sources = _Sources(state)
    rules = [rule for rule in state.rules if _emittable(state, sources, rule)]
    out: dict[str, str] = {}
    clashing: set[str] = set()
    for _, tier_rules in _tier_runs(rules):
        book = NameBook()
        expanded: list[tuple[CompiledRule, Protocol | None]] = []
        for rule in tier_rules:
            protocols: list[Protocol | None] = (
                list(_protocols(state.port_sets[rule.ports])) if rule.ports is not None else [None])
            for protocol in protocols:
                expanded.append((rule, protocol))
                book.want(_rule_key(rule, protocol),
                          _rule_readable(rule, protocol.value.lower() if protocol else None))
        for rule, protocol in expanded:
            name = book.name(_rule_key(rule, protocol))
            if out.setdefault(name, rule.key) != rule.key:
                clashing.add(name)
    for name in clashing:
        del out[name]
    return out


def afm_rule_numbers(state: DeviceState, held: Sequence[DeviceObject]) -> dict[str, tuple[str, ...]]:
    """For each enforced rule of `state`, the places (from 1, as text) of its AFM rules in the
    enforced firewall policy of `held` (the tenant's objects as the device holds them), every rule
    of the policy's rule lists counted in the policy's order; a rule whose name `afm_rule_names`
    leaves out, or that the device does not hold, has none."""
    names = afm_rule_names(state)
    lists = {o.name: o.body for o in held if o.kind == kind_of("Firewall_Rule_List")}
    policy = next((o.body for o in held if o.kind == kind_of("Firewall_Policy") and o.name == POLICY), None)
    out: dict[str, tuple[str, ...]] = {}
    number = 0
    for used in _refs((policy or {}).get("rules")):
        for rule in (lists.get(used) or {}).get("rules") or ():
            number += 1
            key = names.get(str(rule.get("name"))) if isinstance(rule, Mapping) else None
            if key is not None:
                out[key] = (*out.get(key, ()), str(number))
    return out


def _refs(items: Any) -> list[str]:
    return [str(i.get("use")) for i in items or () if isinstance(i, Mapping)]
