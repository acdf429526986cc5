"""The default-action tier: every namespace's default action (`Deny`, `Allow`; `None` adds no
rule) compiled as at most four rules per device, after every other tier.

The per-namespace form it replaces is one rule per namespace with a default action on the device,
source the namespace's group `CLUSTER/NS`, namespaces by name: for traffic from address `x` that
no earlier rule decides, the first namespace by name whose group holds `x` and has a default
action on the device decides. Per device, this tier gives the same decision with:

1. `CLUSTER/_cluster/shared/allow`, then `CLUSTER/_cluster/shared/deny`: the *conflicting*
   addresses, those held by namespaces with different default actions on the device (two
   namespaces sharing a node address in node mode, an egress IP serving both), each in the group
   of the action of its first holder by name. The groups hold the addresses themselves; the
   identities behind each are its holders with a default action (kind `Namespace`).
2. `CLUSTER/_cluster/default/deny`, then `CLUSTER/_cluster/default/allow`: union groups
   (`SourceGroup.includes`) of the groups of the namespaces with that default action.

Why it decides alike: an address held by no namespace with a default action on the device matches
none of them, as before. One whose holders all have the same action `a` is in no shared group and
only in the union of `a`: decision `a`, as before. A conflicting address is in exactly one shared
group, the one of its first holder's action, and the shared rules come first: that decision, as
before. The two shared groups are disjoint and the two unions are disjoint after them, so the
order within each pair does not matter.

Cost: a namespace changing its default action or its devices, or joining or leaving, changes a
union's members (O(1) device writes) plus the shared groups for its own addresses that are shared;
a pod change touches the shared groups only for the addresses it moved that are shared. A rule
whose group would be empty is left off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.compiler import keys
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.model import Action, CompiledRule, Identity, RuleKind, RuleOrigin, SourceGroup, Tier

Rules = tuple[CompiledRule, ...]

# rule order on a device: the shared groups, then the unions (module docstring)
SHARED_ORDER = (Action.ALLOW, Action.DENY)
UNION_ORDER = (Action.DENY, Action.ALLOW)
# `RuleOrigin.name` of the grouped rules (kind DefaultAction, no namespace)
GROUPED = "grouped"
SHARED = "shared"


@dataclass(frozen=True)
class _Entry:
    """A namespace's default action, the devices it applies on, and its group's key."""

    action: Action
    devices: frozenset[str]
    group: str


class DefaultTier:
    """Per device, the default-action rules (`rules`) and the groups they add (`groups`: the
    unions and the shared groups; the unions' included namespace groups are the namespace tier's)."""

    def __init__(
        self, settings: CompileSettings, namespaces: NamespaceGroups, sharing: SharedAddresses
    ) -> None:
        self._cluster = settings.cluster
        self._devices = settings.device_names
        self._namespaces = namespaces
        self._sharing = sharing
        self.rules: dict[str, Rules] = {d: () for d in self._devices}
        self.groups: dict[str, dict[str, SourceGroup]] = {d: {} for d in self._devices}
        self._entries: dict[str, _Entry] = {}
        # device -> action -> keys of the namespace groups in that action's union
        self._members: dict[str, dict[Action, set[str]]] = {
            d: {a: set() for a in Action} for d in self._devices
        }
        # device -> action -> conflicting address -> the identities behind it
        self._shared: dict[str, dict[Action, dict[str, tuple[Identity, ...]]]] = {
            d: {a: {} for a in Action} for d in self._devices
        }
        self._placed: dict[str, dict[str, Action]] = {}  # conflicting address -> device -> action

    def update(self, touched: Iterable[str], moved: Iterable[str]) -> set[str]:
        """Take the `touched` namespaces' settings and groups, and the addresses `moved` into or
        out of any namespace group since the last call; returns the devices whose rules or groups
        changed."""
        changed: set[str] = set()
        candidates = set(moved)
        for ns in touched:
            new = self._entry(ns)
            old = self._entries.get(ns)
            if new == old:
                continue
            if old is not None:
                for device in old.devices:
                    self._members[device][old.action].discard(old.group)
                    changed.add(device)
                del self._entries[ns]
            if new is not None:
                for device in new.devices:
                    self._members[device][new.action].add(new.group)
                    changed.add(device)
                self._entries[ns] = new
            group = self._namespaces.groups.get(ns)
            if group is not None:  # its shared addresses may change sides (gone ones were moved)
                candidates.update(self._sharing.among(group.addresses))
        for address in candidates:
            self._place(address, changed)
        for device in changed:
            self._build(device)
        return changed

    def _entry(self, ns: str) -> _Entry | None:
        """The default-action entry of `ns` (None: unmanaged, no sources, or action None)."""
        info = self._namespaces.info.get(ns)
        group = self._namespaces.groups.get(ns)
        if info is None or not info.managed or info.default_action == "None" or group is None:
            return None
        devices = frozenset(d for d in info.devices if d in self.rules)
        return _Entry(Action(info.default_action), devices, group.key) if devices else None

    def _place(self, address: str, changed: set[str]) -> None:
        """Put `address` in the shared group it belongs to on each device (none when its holders
        with a default action on the device agree), noting the devices that changed."""
        holders = sorted(ns for ns in self._sharing.holders(address) if ns in self._entries)
        placed = self._placed.get(address, {})
        if len(holders) < 2 and not placed:
            return
        now: dict[str, Action] = {}
        for device in self._devices:
            deciding = [ns for ns in holders if device in self._entries[ns].devices]
            actions = {self._entries[ns].action for ns in deciding}
            old = placed.get(device)
            shared = self._shared[device]
            if len(actions) < 2:
                if old is not None:
                    del shared[old][address]
                    changed.add(device)
                continue
            action = self._entries[deciding[0]].action
            identities = tuple(Identity("Namespace", "", ns) for ns in deciding)
            now[device] = action
            if old is not None and old != action:
                del shared[old][address]
            if shared[action].get(address) != identities:
                shared[action][address] = identities
                changed.add(device)
        if now:
            self._placed[address] = now
        else:
            self._placed.pop(address, None)

    def _build(self, device: str) -> None:
        """The rules and groups of `device` from its unions and shared addresses."""
        rules: list[CompiledRule] = []
        groups: dict[str, SourceGroup] = {}
        for action in SHARED_ORDER:
            addresses = self._shared[device][action]
            if addresses:
                key = keys.shared_default(self._cluster, action)
                members = tuple(sorted(addresses.items()))
                groups[key] = SourceGroup(key, self._cluster, "", members, rule=action.value.lower(),
                                          purpose="shared")
                rules.append(self._rule(key, SHARED, action))
        for action in UNION_ORDER:
            included = self._members[device][action]
            if included:
                key = keys.default_union(self._cluster, action)
                groups[key] = SourceGroup(key, self._cluster, "", (), rule=action.value.lower(),
                                          purpose="default", includes=tuple(sorted(included)))
                rules.append(self._rule(key, GROUPED, action))
        self.rules[device] = tuple(rules)
        self.groups[device] = groups

    @staticmethod
    def _rule(key: str, name: str, action: Action) -> CompiledRule:
        origin = RuleOrigin(RuleKind.DEFAULT, "", name, Tier.DEFAULT, 0)
        return CompiledRule(key=key, origin=origin, source=key, destination=None, ports=None, action=action)
