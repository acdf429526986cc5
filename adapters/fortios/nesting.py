"""Which source groups a source group holds by reference (nesting by content).

`C` lies inside `G` when C's hosts are a proper subset of G's, or equal to them and
`rank[C] < rank[G]` (a strict order: no nesting loop). G holds a greedy selection of the groups
inside it, pairwise disjoint: first those inside no other candidate, then the rest, each by key.
The choice depends only on subset/disjointness relations and keys, never on sizes, so growing or
shrinking a group changes it only when a relation changes.

`nested_sources` computes the choice for a whole set of groups at once; `Nesting` keeps it up to
date as groups change, at a cost of O(the changed groups' hosts, the groups related to them, and
one membership test per group); it keeps no per-host index (memory: the host sets only).
Both give the same choice for the same host sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

Rank = tuple[int, str]


def _inside(inner: Set[int], outer: Set[int], inner_rank: Rank, outer_rank: Rank) -> bool:
    return len(inner) <= len(outer) and inner <= outer and (
        len(inner) < len(outer) or inner_rank < outer_rank)


def _pick(candidates: Set[str], inside: Mapping[str, Set[str]], hosts: Mapping[str, Set[int]]) -> list[str]:
    maximal = set(candidates).difference(*(inside[other] for other in candidates))
    picked: list[str] = []
    covered: set[int] = set()
    for candidate in sorted(candidates, key=lambda c: (c not in maximal, c)):
        if covered.isdisjoint(hosts[candidate]):
            picked.append(candidate)
            covered.update(hosts[candidate])
    return picked


def nested_sources(hosts: Mapping[str, Set[int]], rank: Mapping[str, Rank]) -> dict[str, list[str]]:
    """For each key of `hosts` (non-empty host sets), the keys of the groups it holds by reference."""
    by_host: dict[int, list[str]] = {}
    for key in sorted(hosts):
        for host in hosts[key]:
            by_host.setdefault(host, []).append(key)
    inside: dict[str, set[str]] = {key: set() for key in hosts}
    for inner, members in hosts.items():
        for outer in by_host[min(members)]:
            if outer != inner and _inside(members, hosts[outer], rank[inner], rank[outer]):
                inside[outer].add(inner)
    return {outer: _pick(candidates, inside, hosts) for outer, candidates in inside.items()}


class Nesting:
    """`nested_sources` maintained incrementally. `chosen[key]` is the current choice of each group."""

    def __init__(self) -> None:
        self.hosts: dict[str, frozenset[int]] = {}
        self.rank: dict[str, Rank] = {}
        self.chosen: dict[str, list[str]] = {}
        self._low: dict[str, int] = {}
        self._by_low: dict[int, set[str]] = {}  # lowest host -> the groups whose lowest host it is
        self._inside: dict[str, set[str]] = {}
        self._containers: dict[str, set[str]] = {}

    def update(self, changes: Mapping[str, tuple[frozenset[int], Rank] | None]) -> set[str]:
        """Give the groups in `changes` new (non-empty) host sets and ranks, or remove them (None).
        Returns the present groups whose choice was recomputed: the changed ones and every group
        that contained one of them before or contains one now (their choice or the hosts their
        chosen groups cover may have changed); no other group's choice can change."""
        affected: set[str] = set()
        for key in changes:
            if key in self.hosts:
                affected |= self._remove(key)
        added = [key for key, value in changes.items() if value is not None]
        for key in added:
            value = changes[key]
            assert value is not None
            hosts, rank = value
            self.hosts[key], self.rank[key], self._low[key] = hosts, rank, min(hosts)
            self._inside[key], self._containers[key] = set(), set()
            self._by_low.setdefault(self._low[key], set()).add(key)
        for key in added:
            affected |= self._relate(key)
        present = {key for key in affected if key in self.hosts}
        for key in present:
            self.chosen[key] = _pick(self._inside[key], self._inside, self.hosts)
        return present

    def _remove(self, key: str) -> set[str]:
        low = self._by_low[self._low[key]]
        low.discard(key)
        if not low:
            del self._by_low[self._low[key]]
        for inner in self._inside.pop(key):
            self._containers[inner].discard(key)
        outers = self._containers.pop(key)
        for outer in outers:
            self._inside[outer].discard(key)
        del self.hosts[key], self.rank[key], self._low[key]
        self.chosen.pop(key, None)
        return outers

    def _relate(self, key: str) -> set[str]:
        hosts, rank = self.hosts[key], self.rank[key]
        by_low = self._by_low
        found = by_low.keys() & hosts if len(by_low) < len(hosts) else (h for h in hosts if h in by_low)
        for host in found:  # groups inside `key`: each is found at its lowest host
            for inner in by_low[host]:
                if inner != key and _inside(self.hosts[inner], hosts, self.rank[inner], rank):
                    self._inside[key].add(inner)
                    self._containers[inner].add(key)
        outers = {key}
        low = self._low[key]
        for outer, outer_hosts in self.hosts.items():  # groups `key` lies inside
            if outer != key and low in outer_hosts and _inside(hosts, outer_hosts, rank, self.rank[outer]):
                self._inside[outer].add(key)
                self._containers[key].add(outer)
                outers.add(outer)
        return outers
