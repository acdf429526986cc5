"""The destinations and port sets that compiled rules point at, per device.

A rule becomes one `CompiledRule` per `RulePart` (an ExternalService, or the `egress-allow`
entries sharing a port set); the rule refers to its destination and port set by key, and the
catalog keeps, per device, the object behind each key. A device may hold a different object
under the same key (without its FQDNs when it cannot enforce them), hence one catalog per device.
Keys whose object changed are collected so that assembly replaces just those in device states.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from connector.compiler import keys
from connector.compiler.destinations import RulePart
from connector.model import Action, CompiledRule, Destination, PortSet, RuleOrigin

V = TypeVar("V")


class Catalog:
    """Per device, the `Destination` and `PortSet` of every key a compiled rule used."""

    def __init__(self, cluster: str, devices: Iterable[str]) -> None:
        self.cluster = cluster
        self.destinations: dict[str, dict[str, Destination]] = {d: {} for d in devices}
        self.port_sets: dict[str, dict[str, PortSet]] = {d: {} for d in self.destinations}
        self._changed: set[str] = set()

    def expand(
        self,
        device: str,
        origin: RuleOrigin,
        source: str,
        parts: tuple[RulePart, ...],
        action: Action,
        logging: bool,
        audit: bool = False,
    ) -> tuple[CompiledRule, ...]:
        """The compiled rules on `device` of a rule from `origin` whose source group is `source`: one
        per part, in order, each part's destination and port set registered; `audit` marks them as
        coming from a `mode: Audit` rule."""
        out = []
        for part in parts:
            if part.destination is not None:
                self._register(self.destinations[device], part.destination.key, part.destination)
            if part.ports is not None:
                self._register(self.port_sets[device], part.ports.key, part.ports)
            out.append(
                CompiledRule(
                    key=keys.compiled_rule(self.cluster, origin, part.label),
                    origin=origin,
                    source=source,
                    destination=part.destination.key if part.destination else None,
                    ports=part.ports.key if part.ports else None,
                    action=action,
                    logging=logging,
                    audit=audit,
                )
            )
        return tuple(out)

    def take_changed(self) -> set[str]:
        """The keys whose destination or port set changed (on some device) since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def _register(self, registry: dict[str, V], key: str, value: V) -> None:
        if registry.get(key) != value:
            registry[key] = value
            self._changed.add(key)
