"""A device's whole FortiOS object set for a `DeviceState`, re-rendered in O(what changed).

`Renderer.render(state, known)` returns what a fresh render of `state` with the address pieces
`known` returns (`render_state`), but keeps what it built from each source group, destination,
port set and rule across calls. The compiler keeps the very same model objects for unchanged parts,
so a render re-renders only:
- source groups whose model object changed, whose nesting may have changed (`Nesting.update`:
  groups related to a changed one by containment), whose hosts hold a start of a known piece that
  appeared or disappeared since the last render (`KnownPieces.changes_since`; a different `known`
  object re-collapses every group), and the groups and unions holding a group whose references
  changed (it appeared, vanished, or flipped between one member referenced directly and an
  addrgrp), each after the groups it holds: O(the objects referencing a changed group);
- destinations and port sets whose model object changed (none is looked at while the rule list,
  destinations and port sets are the very same objects as last time), and policies whose inputs
  changed (with the same rule list: only the rules whose source group's references, destination
  or port set changed);
- on the IPv6 side (address6/addrgrp6, no nesting by content, no known pieces): groups whose
  model object changed or whose one-member form flipped, then the unions including a group whose
  IPv6 references changed; the IPv6 part of a destination when it changed or a rule with IPv6
  sources started or stopped using it.
A changed group's hosts are updated from the members that are not the very same objects as before
(`render.source_hosts_after`), and its address pieces that hold no changed host keep their bodies
and identities. State is kept compact: per host only the compiler's own identity tuple (in the
group's host map) and the host in each group's host set; no per-host index (the groups holding a
changed known piece are found by bisection in their pieces, the groups containing a group by one
membership test each).
Objects shared by content (addresses, services) carry the union of their users' identities,
updated per changed user. The rest of a render is assembling the output list, O(objects) cheap
steps. Not thread-safe: an adapter renders for one device at a time.

Names are unique per FortiOS table (`adapters.base.naming.UniqueNames`, one for addresses and
addrgrps, one for services, one for policies). Parts claim names as they render and release them
when replaced. Policies are named for every rule before any is rendered (nothing references them).
When a claim changes the name of an address, addrgrp or service that parts already use (a rare,
contested name), the render is done again from scratch with every name of the first attempt
pinned, so each name is final when it is first used: the output still equals a fresh render.

Output order: addresses by name, IPv6 addresses by name, source groups by key (each group's
sub-groups first), destination groups by key, the IPv6 source and destination groups likewise,
services by name, policies in rule order.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from adapters.base.naming import UniqueNames
from adapters.fortios.known import KnownPieces, Piece
from adapters.fortios.nesting import Nesting, Rank
from adapters.fortios.render import (
    ADDRESS,
    ADDRESS6,
    DEFAULT_GROUP_MEMBERS,
    DIRECT_DESTINATION_ADDRESSES,
    EMPTY,
    NAMES,
    POLICY_NAMES,
    SERVICE,
    Behind,
    Member,
    Part,
    PolicySettings,
    is_union,
    policy_name,
    render_destination,
    render_policy,
    render_service,
    render_source,
    render_source6,
    source_hosts,
    source_hosts6,
    source_hosts_after,
    source_rank,
)
from connector.model import CompiledRule, Destination, DeviceState, PortSet, SourceGroup
from connector.planner.types import DeviceObject

Entry = tuple[dict[str, Any], tuple[str, ...]]  # body, identities (sorted, distinct)
Refs = tuple[str, ...]
PolicyInputs = tuple[CompiledRule, str, Refs, Refs, str, Refs, Refs]  # rule, name, v4 pair, service, v6 pair
Pins = tuple[dict[str, str], dict[str, str]]  # the address and service names claimed
_ALL = 1 << 32  # above every IPv4 host: (start, _ALL) sorts after every piece beginning at start
RENDERS = 4  # attempts at a render whose names all stay final (the second always is)

log = logging.getLogger(__name__)


class SharedObjects:
    """Objects of one kind shared by content: each user (a part of the state) contributes
    name → (body, identities); an object exists while it has a user, its identities are the union
    of its users'. `objects()` returns them by name."""

    def __init__(self, kind: str, mark: str) -> None:
        self.kind = kind
        self.mark = mark
        self._by_user: dict[str, Mapping[str, Entry]] = {}
        self._users: dict[str, dict[str, Entry]] = {}
        self._objects: dict[str, DeviceObject] = {}
        self._order: list[str] = []
        self._dirty: set[str] = set()
        self._listed: list[DeviceObject] | None = None

    def put(self, user: str, entries: Mapping[str, Entry]) -> None:
        """`user` now contributes exactly `entries`."""
        old = self._by_user.get(user, {})
        if old is entries:
            return
        for name, entry in old.items():
            if entries.get(name) != entry:
                del self._users[name][user]
                self._dirty.add(name)
        for name, entry in entries.items():
            if old.get(name) != entry:
                self._users.setdefault(name, {})[user] = entry
                self._dirty.add(name)
        if entries:
            self._by_user[user] = entries
        else:
            self._by_user.pop(user, None)

    def objects(self) -> list[DeviceObject]:
        if not self._dirty and self._listed is not None:
            return self._listed
        for name in self._dirty:
            users = self._users.get(name)
            if not users:
                self._users.pop(name, None)
                if self._objects.pop(name, None) is not None:
                    del self._order[bisect.bisect_left(self._order, name)]
                continue
            body = users[min(users)][0]
            if len(users) == 1:
                identities = next(iter(users.values()))[1]
            else:
                identities = tuple(sorted(set().union(*(entry[1] for entry in users.values()))))
            if name not in self._objects:
                bisect.insort(self._order, name)
            self._objects[name] = DeviceObject(self.kind, name, body, self.mark, identities)
        self._dirty.clear()
        self._listed = [self._objects[name] for name in self._order]
        return self._listed


class Renderer:
    """See the module docstring. `group_members`: the per-addrgrp member limit."""

    def __init__(self, *, mark: str, settings: PolicySettings, group_members: int = DEFAULT_GROUP_MEMBERS,
                 direct_destinations: int = DIRECT_DESTINATION_ADDRESSES) -> None:
        self.mark = mark
        self.settings = settings
        self.limit = group_members
        self.direct = direct_destinations
        self._reset("")

    def _reset(self, cluster: str, pins: Pins | None = None) -> None:
        self._cluster = cluster
        if pins is None:
            self._names, self._service_names = UniqueNames(NAMES), UniqueNames(NAMES)
        else:
            self._names, self._service_names = UniqueNames.pinned(NAMES, pins[0]), \
                UniqueNames.pinned(NAMES, pins[1])
        self._policy_names = UniqueNames(POLICY_NAMES)
        self._named_rules: dict[str, CompiledRule] = {}
        self._rules_named: tuple[CompiledRule, ...] | None = None
        self._known: KnownPieces | None = None
        self._position = 0
        self._groups: dict[str, SourceGroup] = {}  # the used source groups as last rendered
        self._behind: dict[str, dict[int, Behind]] = {}  # group -> its own IPv4 hosts
        # group -> the hosts whose objects changed since its part was rendered (None: any)
        self._touched: dict[str, set[int] | None] = {}
        self._nesting = Nesting()
        self._sources: dict[str, Part] = {}
        # group -> what its part was rendered from: the group, the groups it holds, their host sets
        self._inputs: dict[str, tuple[SourceGroup, tuple[str, ...], tuple[frozenset[int], ...],
                                      tuple[Member, ...]]] = {}
        self._included_by: dict[str, set[str]] = {}
        self._chosen: dict[str, tuple[str, ...]] = {}  # group -> the groups it holds (nesting)
        self._holders: dict[str, set[str]] = {}  # group -> the groups holding it (nesting)
        self._source_order: list[str] | None = None
        self._addresses = SharedObjects(ADDRESS, self.mark)
        self._destinations: dict[str, tuple[Destination, Part]] = {}
        self._services = SharedObjects(SERVICE, self.mark)
        self._ports: dict[str, tuple[PortSet, str | None, str]] = {}  # port set, name, name identity
        self._policies: dict[str, tuple[PolicyInputs, DeviceObject]] = {}
        # IPv6: each used group's own IPv6 hosts and part, destinations' IPv6 parts
        self._behind6: dict[str, dict[str, Behind]] = {}
        self._sources6: dict[str, Part] = {}
        self._source6_order: list[str] | None = None
        self._addresses6 = SharedObjects(ADDRESS6, self.mark)
        self._destinations6: dict[str, tuple[Destination, Part]] = {}
        self._rules_counted: tuple[CompiledRule, ...] | None = None
        self._referenced: dict[str, int] = {}  # source group -> policies naming it
        # what the last render's rule-wide steps saw: each is skipped while its inputs are the same
        self._roots: tuple[tuple[CompiledRule, ...] | None, tuple[str, ...]] = (None, ())
        self._destinations_seen: tuple[object, object] = (None, None)  # rules, destinations
        self._destinations6_seen: tuple[object, object] = (None, None)
        self._ports_seen: tuple[object, object] = (None, None)  # rules, port sets
        self._presence6_moved = False  # a group's IPv6 references appeared or vanished
        # what moved since the policies were rendered (their rules are rendered again)
        self._refs_moved: set[str] = set()  # source groups whose v4 or v6 references changed
        self._dests_moved: set[str] = set()  # destinations whose v4 or v6 part changed
        self._ports_moved: set[str] = set()
        self._rules_rendered: tuple[CompiledRule, ...] | None = None
        self._users_of: dict[str, list[CompiledRule]] = {}  # source, destination, ports key -> rules
        self._policy_list: list[DeviceObject] = []
        self._assembled: list[DeviceObject] | None = None  # the groups part of the output

    def render(self, state: DeviceState, known: KnownPieces) -> list[DeviceObject]:
        if state.cluster != self._cluster:
            self._reset(state.cluster)
        for _ in range(RENDERS):
            self._names.renamed.clear()
            self._service_names.renamed.clear()
            objects = self._render(state, known)
            self._names.unpin()
            self._service_names.unpin()
            if not (self._names.renamed or self._service_names.renamed):
                return objects
            # a contested name moved under parts that use it: again, with every name claimed pinned
            self._reset(state.cluster, (self._names.held(), self._service_names.held()))
        log.error("%s: object names did not settle in %d renders", state.device, RENDERS)
        return objects

    def _render(self, state: DeviceState, known: KnownPieces) -> list[DeviceObject]:
        starts = known.changes_since(self._position) if known is self._known else None
        self._known, self._position = known, known.position()
        self._render_sources(state, known, starts)
        self._render_destinations(state)
        self._render_destinations6(state)
        self._render_ports(state)
        policies = self._render_policies(state)
        return (self._addresses.objects() + self._addresses6.objects() + self._assemble_groups()
                + self._services.objects() + policies)

    def _assemble_groups(self) -> list[DeviceObject]:
        """Every addrgrp and addrgrp6 in output order (kept while no group part changed)."""
        if self._assembled is not None:
            return self._assembled
        groups: dict[str, DeviceObject] = {}
        for key in self._sorted_sources():
            for obj in self._sources[key].objects:
                groups[obj.name] = obj
        for key in sorted(self._destinations):
            for obj in self._destinations[key][1].objects:
                groups[obj.name] = obj
        groups6: dict[str, DeviceObject] = {}
        if self._source6_order is None:
            self._source6_order = sorted(key for key, part in self._sources6.items() if part.objects)
        for key in self._source6_order:
            for obj in self._sources6[key].objects:
                groups6[obj.name] = obj
        for key in sorted(self._destinations6):
            for obj in self._destinations6[key][1].objects:
                groups6[obj.name] = obj
        self._assembled = list(groups.values()) + list(groups6.values())
        return self._assembled

    # --- sources ---------------------------------------------------------------------------------
    def _render_sources(self, state: DeviceState, known: KnownPieces, starts: set[int] | None) -> None:
        if self._roots[0] is not state.rules:
            self._roots = (state.rules, tuple(dict.fromkeys(rule.source for rule in state.rules)))
        used = _used_sources(state, self._roots[1])
        removed = [key for key in self._groups if key not in used]
        changed = [key for key, group in used.items()
                   if (old := self._groups.get(key)) is not group and old != group]
        nest: dict[str, tuple[frozenset[int], Rank] | None] = {}
        for key in removed:
            self._unlink(key)
            del self._groups[key], self._behind[key]
            self._touched.pop(key, None)
            self._inputs.pop(key, None)
            self._hold(key, ())
            if key in self._nesting.hosts:
                nest[key] = None
        for key in changed:
            self._unlink(key)
            old_group = self._groups.get(key)
            group = self._groups[key] = used[key]
            if old_group is None:
                behind, touched = source_hosts(group), None
            else:
                behind, touched = source_hosts_after(old_group, self._behind[key], group)
            self._behind[key] = behind
            self._touch(key, touched)
            if is_union(group):
                for inner in group.includes:
                    self._included_by.setdefault(inner, set()).add(key)
                if key in self._nesting.hosts:
                    nest[key] = None
            elif behind:
                hosts, rank = frozenset(behind), source_rank(group)
                if self._nesting.hosts.get(key) != hosts or self._nesting.rank.get(key) != rank:
                    nest[key] = (hosts, rank)
            elif key in self._nesting.hosts:
                nest[key] = None
        dirty = set(changed) | self._nesting.update(nest)
        forced: set[str] = set(used) if starts is None else self._holding(starts)
        flipped = self._count_references(state)
        forced |= flipped
        self._render_sources6(used, removed, changed, flipped)
        dirty = {key for key in dirty | forced if key in used}
        moved: set[str] = set()  # groups whose references changed
        for key in removed:
            if self._store(key, EMPTY):
                moved.add(key)
            del self._sources[key]
        unions = {key for key in dirty if is_union(self._groups[key])}
        queued = dirty - unions
        heap = [(self._order(key), key) for key in queued]
        heapq.heapify(heap)
        while heap:  # a group after the groups it holds: they are strictly smaller in `_order`
            _, key = heapq.heappop(heap)
            if self._store(key, self._render_plain(key, self._groups[key], known, key in forced)):
                moved.add(key)
                for holder in self._holders.get(key, ()):
                    if holder not in queued:
                        queued.add(holder)
                        heapq.heappush(heap, (self._order(holder), holder))
        unions.update(u for key in moved for u in self._included_by.get(key, ()) if u in self._groups)
        frontier = list(unions)
        while frontier:  # unions including an affected union
            for outer in self._included_by.get(frontier.pop(), ()):
                if outer in self._groups and outer not in unions:
                    unions.add(outer)
                    frontier.append(outer)
        done: set[str] = set()
        for key in sorted(unions):
            self._visit_union(key, unions, done, known)

    def _render_sources6(self, used: Mapping[str, SourceGroup], removed: Iterable[str],
                         changed: Iterable[str], flipped: set[str]) -> None:
        """The IPv6 parts: removed groups dropped, changed and flipped ones re-rendered, then the
        unions including a group whose IPv6 references changed (their includes first)."""
        moved: set[str] = set()
        for key in removed:
            if self._store6(key, EMPTY):
                moved.add(key)
            self._sources6.pop(key, None)
            self._behind6.pop(key, None)
        changed = set(changed)
        for key in changed:
            self._behind6[key] = source_hosts6(used[key])
        unions: set[str] = set()
        for key in sorted((changed | flipped) & set(used)):
            group = used[key]
            if is_union(group):
                unions.add(key)
            elif self._store6(key, render_source6(group, self._behind6[key], (), self.mark, self._cluster,
                                                  self.limit, self._names, self._single(key))):
                moved.add(key)
        unions.update(u for key in moved for u in self._included_by.get(key, ()) if u in used)
        frontier = list(unions)
        while frontier:  # unions including an affected union
            for outer in self._included_by.get(frontier.pop(), ()):
                if outer in used and outer not in unions:
                    unions.add(outer)
                    frontier.append(outer)
        done: set[str] = set()
        for key in sorted(unions):
            self._visit_union6(key, used, unions, done)

    def _visit_union6(self, key: str, used: Mapping[str, SourceGroup], todo: set[str],
                      done: set[str]) -> None:
        if key in done:
            return
        done.add(key)
        group = used[key]
        for inner in group.includes:
            if inner in todo:
                self._visit_union6(inner, used, todo, done)
        held: list[Member] = sorted({member for inner in group.includes if inner in self._sources6
                                     for member in self._sources6[inner].members}, key=lambda m: (m[1], m[0]))
        self._store6(key, render_source6(group, self._behind6[key], held, self.mark, self._cluster,
                                         self.limit, self._names, self._single(key)))

    def _store6(self, key: str, part: Part) -> bool:
        """Record the IPv6 `part` of group `key`; True when its references changed."""
        old = self._sources6.get(key, EMPTY)
        if old is not part:
            self._release(self._names, old.claims)
        self._addresses6.put("src6:" + key, part.addresses)
        if bool(old.objects) != bool(part.objects):
            self._source6_order = None
        if old is not part:
            self._assembled = None
        if bool(old.refs) != bool(part.refs):
            self._presence6_moved = True
        self._sources6[key] = part
        if old.refs != part.refs:
            self._refs_moved.add(key)
            return True
        return False

    def _touch(self, key: str, touched: set[int] | None) -> None:
        if key not in self._touched:
            self._touched[key] = touched
        else:
            before = self._touched[key]
            self._touched[key] = None if before is None or touched is None else before | touched

    def _holding(self, starts: set[int]) -> set[str]:
        """The groups holding a host of `starts` as an address piece (their pieces may change):
        a group's pieces cover exactly those hosts, in order."""
        if not starts:
            return set()
        low, high = min(starts), max(starts)
        out: set[str] = set()
        for key, part in self._sources.items():
            pieces = part.pieces
            if not pieces or pieces[0][0] > high or pieces[-1][1] < low or key not in self._groups:
                continue
            for start in starts:
                at = bisect.bisect_right(pieces, (start, _ALL)) - 1
                if at >= 0 and pieces[at][0] <= start <= pieces[at][1]:
                    out.add(key)
                    break
        return out

    def _order(self, key: str) -> tuple[int, Rank]:
        """Sorts every group after the groups it holds (nesting: fewer hosts, or equal and lower rank)."""
        hosts = self._nesting.hosts.get(key)
        return (0, (0, key)) if hosts is None else (len(hosts), self._nesting.rank[key])

    def _unlink(self, key: str) -> None:
        old = self._groups.get(key)
        if old is not None:
            for inner in old.includes:
                holders = self._included_by.get(inner)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del self._included_by[inner]

    def _hold(self, key: str, chosen: tuple[str, ...]) -> None:
        """Group `key` now holds the groups `chosen` (kept for finding the holders of a group)."""
        old = self._chosen.get(key, ())
        if old == chosen:
            return
        for inner in old:
            holders = self._holders[inner]
            holders.discard(key)
            if not holders:
                del self._holders[inner]
        for inner in chosen:
            self._holders.setdefault(inner, set()).add(key)
        if chosen:
            self._chosen[key] = chosen
        else:
            del self._chosen[key]

    def _count_references(self, state: DeviceState) -> set[str]:
        """Count the policies naming each source group; returns the groups whose `_single` changed."""
        if state.rules is self._rules_counted:
            return set()
        counts: dict[str, int] = {}
        for rule in state.rules:
            counts[rule.source] = counts.get(rule.source, 0) + 1
        old = self._referenced
        self._referenced, self._rules_counted = counts, state.rules
        return {key for key in set(old) | set(counts) if (old.get(key, 0) <= 1) != (counts.get(key, 0) <= 1)}

    def _single(self, key: str) -> bool:
        """Whether a one-member group `key` is referenced by its member instead of an addrgrp: only
        when at most one policy names it, so that a flip between one member and two (pods coming
        and going) rewrites at most one policy."""
        return self._referenced.get(key, 0) <= 1

    def _render_plain(self, key: str, group: SourceGroup, known: KnownPieces, forced: bool) -> Part:
        if key not in self._nesting.hosts:
            self._hold(key, ())
            self._inputs.pop(key, None)
            return EMPTY
        chosen = tuple(self._nesting.chosen[key])
        self._hold(key, chosen)
        inner_hosts = tuple(self._nesting.hosts[inner] for inner in chosen)
        held = tuple(member for inner in chosen for member in self._sources[inner].members)
        inputs = (group, chosen, inner_hosts, held)
        if not forced and key in self._sources and _same(self._inputs.get(key), inputs):
            return self._sources[key]
        self._inputs[key] = inputs
        hosts = self._nesting.hosts[key]  # the host set itself when nothing is held (no copy)
        remaining = frozenset(hosts.difference(*inner_hosts)) if inner_hosts else hosts
        return render_source(group, self._behind[key], held, remaining, known, self.mark, self._cluster,
                             self.limit, self._names, self._single(key), self._sources.get(key),
                             self._touched.pop(key, set()))

    def _visit_union(self, key: str, todo: set[str], done: set[str], known: KnownPieces) -> None:
        if key in done:
            return
        done.add(key)
        group = self._groups[key]
        for inner in group.includes:
            if inner in todo:
                self._visit_union(inner, todo, done, known)
        held: list[Member] = sorted({member for inner in group.includes if inner in self._sources
                                     for member in self._sources[inner].members}, key=lambda m: (m[1], m[0]))
        behind = self._behind[key]
        self._touched.pop(key, None)
        self._store(key, render_source(group, behind, held, frozenset(behind), known, self.mark,
                                       self._cluster, self.limit, self._names, self._single(key)))

    def _store(self, key: str, part: Part) -> bool:
        """Record `part` for group `key`; True when the group's references changed."""
        old = self._sources.get(key, EMPTY)
        if old is not part:
            self._release(self._names, old.claims)
        self._addresses.put("src:" + key, part.addresses)
        if bool(old.objects) != bool(part.objects):
            self._source_order = None
        if old is not part:
            self._assembled = None
        self._sources[key] = part
        if old.refs != part.refs:
            self._refs_moved.add(key)
            return True
        return False

    def _sorted_sources(self) -> list[str]:
        if self._source_order is None:
            self._source_order = sorted(key for key, part in self._sources.items() if part.objects)
        return self._source_order

    # --- destinations, ports, policies -----------------------------------------------------------
    def _render_destinations(self, state: DeviceState) -> None:
        if self._destinations_seen == (state.rules, state.destinations):  # compared by identity
            return
        self._destinations_seen = (state.rules, state.destinations)
        used = {rule.destination for rule in state.rules
                if rule.destination is not None and rule.destination in state.destinations}
        for key in [key for key in self._destinations if key not in used]:
            self._addresses.put("dst:" + key, {})
            self._release(self._names, self._destinations.pop(key)[1].claims)
            self._dests_moved.add(key)
            self._assembled = None
        for key in used:
            destination = state.destinations[key]
            old = self._destinations.get(key)
            if old is not None and (old[0] is destination or old[0] == destination):
                continue
            part = render_destination(destination, self.mark, self._cluster, self.limit, self._names,
                                      self.direct)
            if old is not None:
                self._release(self._names, old[1].claims)
            self._addresses.put("dst:" + key, part.addresses)
            self._destinations[key] = (destination, part)
            self._dests_moved.add(key)
            self._assembled = None

    def _render_destinations6(self, state: DeviceState) -> None:
        """The IPv6 parts of the destinations that rules with IPv6 sources use."""
        seen = (state.rules, state.destinations)
        if self._destinations6_seen == seen and not self._presence6_moved:  # compared by identity
            return
        self._destinations6_seen, self._presence6_moved = seen, False
        sources6 = self._sources6
        used = {rule.destination for rule in state.rules
                if rule.destination is not None and rule.destination in state.destinations
                and rule.source in sources6 and sources6[rule.source].refs}
        for key in [key for key in self._destinations6 if key not in used]:
            self._addresses6.put("dst6:" + key, {})
            self._release(self._names, self._destinations6.pop(key)[1].claims)
            self._dests_moved.add(key)
            self._assembled = None
        for key in used:
            destination = state.destinations[key]
            old = self._destinations6.get(key)
            if old is not None and (old[0] is destination or old[0] == destination):
                continue
            part = render_destination(destination, self.mark, self._cluster, self.limit, self._names,
                                      self.direct, version=6)
            if old is not None:
                self._release(self._names, old[1].claims)
            self._addresses6.put("dst6:" + key, part.addresses)
            self._destinations6[key] = (destination, part)
            self._dests_moved.add(key)
            self._assembled = None

    def _render_ports(self, state: DeviceState) -> None:
        if self._ports_seen == (state.rules, state.port_sets):  # compared by identity
            return
        self._ports_seen = (state.rules, state.port_sets)
        used = {rule.ports for rule in state.rules
                if rule.ports is not None and rule.ports in state.port_sets}
        for key in [key for key in self._ports if key not in used]:
            self._services.put("ports:" + key, {})
            self._release(self._service_names, (self._ports.pop(key)[2],))
            self._ports_moved.add(key)
        for key in used:
            port_set = state.port_sets[key]
            old = self._ports.get(key)
            if old is not None and (old[0] is port_set or old[0] == port_set):
                continue
            rendered = render_service(port_set, self.mark, self._cluster)
            if rendered is None:
                self._services.put("ports:" + key, {})
                self._ports[key] = (port_set, None, "")
            else:
                ident, base, body, identity = rendered
                name = self._service_names.acquire(ident, base)
                self._services.put("ports:" + key, {name: (body, (identity,))})
                self._ports[key] = (port_set, name, ident)
            if old is not None:
                self._release(self._service_names, (old[2],))
            self._ports_moved.add(key)

    @staticmethod
    def _release(names: UniqueNames, idents: Iterable[str]) -> None:
        for ident in idents:
            if ident:
                names.release(ident)

    def policy_keys(self) -> dict[str, str]:
        """The name of every policy of the last render -> its rule's key."""
        return {inputs[1]: key for key, (inputs, _) in self._policies.items()}

    def _name_policies(self, rules: tuple[CompiledRule, ...]) -> None:
        """Claim a policy name for every rule (by key) before any policy is rendered."""
        if rules is self._rules_named:
            return
        current = {rule.key: rule for rule in rules}
        for key in [key for key in self._named_rules if key not in current]:
            self._policy_names.release(key)
            del self._named_rules[key]
        for key, rule in current.items():
            old = self._named_rules.get(key)
            if old is None or old.origin.name != rule.origin.name:
                self._policy_names.acquire(key, policy_name(self._cluster, rule))
                if old is not None:
                    self._policy_names.release(key)
                self._named_rules[key] = rule
        self._rules_named = rules

    def _render_policies(self, state: DeviceState) -> list[DeviceObject]:
        """The policies in rule order. With the rule list of the last render, only the rules whose
        source, destination or port set moved since are rendered again."""
        moved = (self._refs_moved, self._dests_moved, self._ports_moved)
        if state.rules is self._rules_rendered:
            again = {rule.key: rule for keys in moved for key in keys for rule in self._users_of.get(key, ())}
            for keys in moved:
                keys.clear()
            if not again:
                return self._policy_list
            for key, rule in again.items():
                entry = self._policy(rule)
                if entry is None:
                    self._policies.pop(key, None)
                else:
                    self._policies[key] = entry
            self._policy_list = [self._policies[rule.key][1] for rule in state.rules
                                 if rule.key in self._policies]
            return self._policy_list
        for keys in moved:
            keys.clear()
        self._name_policies(state.rules)
        memo: dict[str, tuple[PolicyInputs, DeviceObject]] = {}
        users: dict[str, list[CompiledRule]] = {}
        for rule in state.rules:
            for used in (rule.source, rule.destination, rule.ports):  # a key shared by kinds: more
                if used is not None:                                # rules rendered, never fewer
                    users.setdefault(used, []).append(rule)
            entry = self._policy(rule)
            if entry is not None:
                memo[rule.key] = entry
        self._policies, self._users_of, self._rules_rendered = memo, users, state.rules
        self._policy_list = [entry[1] for entry in memo.values()]
        return self._policy_list

    def _policy(self, rule: CompiledRule) -> tuple[PolicyInputs, DeviceObject] | None:
        """The inputs and policy of `rule` (the previous object when its inputs are the same);
        None when it is left off."""
        part = self._sources.get(rule.source, EMPTY)
        part6 = self._sources6.get(rule.source, EMPTY)
        if rule.destination is None:
            destinations: tuple[str, ...] = ("all",)
            destinations6: tuple[str, ...] = ("all",)
        else:
            found = self._destinations.get(rule.destination)
            destinations = found[1].refs if found is not None else ()
            found6 = self._destinations6.get(rule.destination)
            destinations6 = found6[1].refs if found6 is not None else ()
        service = "ALL" if rule.ports is None else (
            self._ports[rule.ports][1] if rule.ports in self._ports else None)
        sources = part.refs if destinations else ()
        sources6 = part6.refs if destinations6 else ()
        if not (sources or sources6) or service is None:
            return None
        inputs = (rule, self._policy_names.name(rule.key), sources, destinations if sources else (),
                  service, sources6, destinations6 if sources6 else ())
        old = self._policies.get(rule.key)
        if old is not None and _same(old[0], inputs):
            return old
        return inputs, render_policy(rule, inputs[1], inputs[2], inputs[3], service, self.settings,
                                     self.mark, inputs[5], inputs[6])


def _used_sources(state: DeviceState, roots: Iterable[str]) -> dict[str, SourceGroup]:
    """Every group of `roots` (the rules' sources), with the groups it includes (transitively)."""
    used: dict[str, SourceGroup] = {}
    stack = [key for key in roots if key in state.groups]
    while stack:
        key = stack.pop()
        if key in used:
            continue
        group = used[key] = state.groups[key]
        stack.extend(inner for inner in group.includes if inner in state.groups and inner not in used)
    return used


def _same(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> bool:
    return old is not None and all(a is b or a == b for a, b in zip(old, new, strict=True))


def render_state(state: DeviceState, *, mark: str, settings: PolicySettings,
                 known: Iterable[Piece] | KnownPieces = (), group_members: int = DEFAULT_GROUP_MEMBERS,
                 direct_destinations: int = DIRECT_DESTINATION_ADDRESSES) -> list[DeviceObject]:
    """Every object the device must hold for `state`, from scratch. `known`: the address pieces
    the device holds (the output depends on the set only, never on its order)."""
    renderer = Renderer(mark=mark, settings=settings, group_members=group_members,
                        direct_destinations=direct_destinations)
    return renderer.render(state, KnownPieces.of(known))
