"""Source addresses held by more than one namespace.

Sources of different namespaces are disjoint unless they share an address (two pods' IPs, a node
address in node mode, an egress IP): a rule of one namespace then applies to the other's traffic
from that address too, which the compiler reports as `SharedSource`. `SharedAddresses` counts,
per address, the namespaces whose source group holds it, and per ClusterEgressRule how many
holders of each shared address it selects: the rule's source count subtracts the duplicates,
and an address also held by a namespace the rule does not select is named in its status.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping


class SharedAddresses:
    """Which source addresses are shared, by which namespaces, as far as each cluster rule selects them."""

    def __init__(self) -> None:
        self._holders: dict[str, set[str]] = {}  # address -> namespaces whose group holds it
        self._shared: set[str] = set()  # addresses with more than one holder
        # cluster rule -> shared address -> number of its holders the rule selects
        self._cover: dict[str, dict[str, int]] = {}
        self._due: set[str] = set()  # cluster rules whose status a change of sharing affects

    def among(self, addresses: Iterable[str]) -> tuple[str, ...]:
        """Those of `addresses` that more than one namespace uses as a source address."""
        if not self._shared:
            return ()
        return tuple(a for a in addresses if a in self._shared)

    def holders(self, address: str) -> frozenset[str]:
        """The namespaces whose source group holds `address`."""
        return frozenset(self._holders.get(address, ()))

    def move(
        self,
        ns: str,
        removed: Iterable[str],
        added: Iterable[str],
        selecting: Mapping[str, Collection[str]],
    ) -> set[str]:
        """The source group of `ns` lost `removed` and gained `added`; `selecting` maps a namespace
        to the cluster rules selecting it. Returns the namespaces whose sharing flipped (an address
        of theirs became shared or stopped being so)."""
        flipped: set[str] = set()
        for address in removed:
            holders = self._holders[address]
            if len(holders) > 1:
                self._uncover(ns, address, selecting)
            holders.discard(ns)
            if len(holders) == 1:
                (last,) = holders
                self._uncover(last, address, selecting)
                self._shared.discard(address)
                flipped |= holders
            if not holders:
                del self._holders[address]
        for address in added:
            holders = self._holders.setdefault(address, set())
            holders.add(ns)
            if len(holders) == 2:
                self._shared.add(address)
                flipped |= holders
                for holder in holders:
                    self._cover_address(holder, address, selecting)
            elif len(holders) > 2:
                self._cover_address(ns, address, selecting)
        return flipped

    def select(self, rule: str, addresses: Iterable[str], step: int) -> None:
        """Cluster rule `rule` starts (`step` 1) or stops (-1) selecting a namespace whose source
        group holds `addresses`."""
        cover = self._cover.setdefault(rule, {})
        for address in self.among(addresses):
            cover[address] = cover.get(address, 0) + step
            if not cover[address]:
                del cover[address]
        if not cover:
            del self._cover[rule]

    def duplicates(self, rule: str) -> int:
        """How many of the addresses the namespaces selected by `rule` hold are counted twice or more."""
        return sum(count - 1 for count in self._cover.get(rule, {}).values())

    def outside(self, rule: str) -> list[str]:
        """The shared addresses of namespaces `rule` selects that a namespace it does not select holds too."""
        cover = self._cover.get(rule, {})
        return sorted(a for a, count in cover.items() if count < len(self._holders[a]))

    def take_due(self) -> set[str]:
        """The cluster rules whose status changes of sharing affected since the last call."""
        due, self._due = self._due, set()
        return due

    def _cover_address(self, ns: str, address: str, selecting: Mapping[str, Collection[str]]) -> None:
        """`ns` became a holder of the shared `address`: count it for the rules selecting `ns`."""
        for rule in selecting.get(ns, ()):
            cover = self._cover.setdefault(rule, {})
            cover[address] = cover.get(address, 0) + 1
        self._mark_covering(address)

    def _mark_covering(self, address: str) -> None:
        """Cluster rules selecting a holder of the shared `address` need their status refreshed."""
        for rule, cover in self._cover.items():
            if address in cover:
                self._due.add(rule)

    def _uncover(self, ns: str, address: str, selecting: Mapping[str, Collection[str]]) -> None:
        """`ns` stops counting as a holder of the shared `address` for the rules selecting it."""
        self._mark_covering(address)
        for rule in selecting.get(ns, ()):
            cover = self._cover[rule]
            cover[address] -= 1
            if not cover[address]:
                del cover[address]
