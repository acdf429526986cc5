"""A group's canonical members and identities, kept up to date per change instead of rebuilt.

The compiler keeps each member of a group (`(address, identities)`, one tuple per address) the very
same object while it does not change, in a tuple sorted by address. So the members that left and
joined since the previous render lie between the longest common head and tail of the old and new
tuples, found by bisection with tuple comparisons that run in C (identical members compare
without looking inside); within that window they are told apart by object identity. Only those are
parsed and placed (by bisection) into the sorted lists kept for the group. A render of a group
that gained one pod among 10,000 then costs copying two lists, not parsing and sorting 10,000
members. Members in another order cost a wider window, never a wrong result.

Contract: `GroupMembers.of(key, members)` returns what `canonical_members(addresses)` and the sorted
identity texts of `members` return, as new lists each time (bodies handed out are never changed
afterwards). `retain(keys)` forgets the groups whose keys are gone from the state. Not thread-safe:
one adapter renders for one device at a time.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from connector.model import Identity
from connector.netaddr import network

Member = tuple[str, tuple[Identity, ...]]
SortKey = tuple[int, int, int]


@functools.lru_cache(maxsize=1 << 17)  # pure; pod addresses repeat across renders and reads
def canonical_member(value: str) -> tuple[SortKey, str]:
    """(sort key, canonical text) of one member; ValueError when it is no address or network."""
    net = network(value.strip())
    return net.key, net.text


def canonical_members(values: Iterable[str]) -> list[str]:
    """Host addresses in compressed form (`/32` and `/128` networks become hosts), CIDRs canonical."""
    members = {canonical_member(str(value)) for value in values}
    return [text for _, text in sorted(members)]


class _Sorted:
    """Distinct values sorted by their keys (`keys`, parallel to `values`), each counted by how
    many members hold it: a value leaves the list when its count drops to zero."""

    __slots__ = ("counts", "keys", "values")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.keys: list[Any] = []
        self.values: list[str] = []

    def fill(self, pairs: Sequence[tuple[Any, str]]) -> None:
        self.counts = {}
        for _, value in pairs:
            self.counts[value] = self.counts.get(value, 0) + 1
        ordered = sorted({value: key for key, value in pairs}.items(), key=lambda item: item[1])
        self.values = [value for value, _ in ordered]
        self.keys = [key for _, key in ordered]

    def add(self, key: Any, value: str) -> None:
        count = self.counts.get(value, 0)
        self.counts[value] = count + 1
        if not count:
            index = bisect_left(self.keys, key)
            self.keys.insert(index, key)
            self.values.insert(index, value)

    def remove(self, key: Any, value: str) -> None:
        count = self.counts[value] - 1
        if count:
            self.counts[value] = count
            return
        del self.counts[value]
        index = bisect_left(self.keys, key)
        del self.keys[index]
        del self.values[index]


def _address(member: Member) -> tuple[SortKey, str]:
    return canonical_member(member[0])


def _identities(member: Member) -> list[tuple[str, str]]:
    return [(text, text) for text in {str(identity) for identity in member[1]}]


class _Group:
    """One group's members as last rendered and the sorted lists made of them."""

    __slots__ = ("identities", "members", "source")

    def __init__(self, source: tuple[Member, ...]) -> None:
        self.source = source
        self.members = _Sorted()
        self.members.fill([_address(member) for member in source])
        self.identities = _Sorted()
        self.identities.fill([pair for member in source for pair in _identities(member)])

    def update(self, source: tuple[Member, ...]) -> bool:
        """Move to `source` by the members that changed; False (nothing done) when more than a
        quarter did: rebuilding is then cheaper."""
        left, joined = changed_window(self.source, source)
        before = {id(member): member for member in left}
        after = {id(member): member for member in joined}
        gone, came = before.keys() - after.keys(), after.keys() - before.keys()
        if len(gone) + len(came) > len(source) // 4 + 8:
            return False
        for member in (before[i] for i in gone):
            self.members.remove(*_address(member))
            for key, value in _identities(member):
                self.identities.remove(key, value)
        for member in (after[i] for i in came):
            self.members.add(*_address(member))
            for key, value in _identities(member):
                self.identities.add(key, value)
        self.source = source
        return True


def common_head(a: Sequence[Any], b: Sequence[Any]) -> int:
    """The length of the longest common head of `a` and `b` (O(log n) slice comparisons, O(n)
    pointer comparisons in all)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while high - low > 1:  # a[:low] == b[:low] and a[:high] != b[:high]
        middle = (low + high) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle
    return low


def common_tail(a: Sequence[Any], b: Sequence[Any], limit: int) -> int:
    """The length of the longest common tail of `a` and `b`, at most `limit`."""
    la, lb = len(a), len(b)
    low, high = 0, limit
    if a[la - high:] == b[lb - high:]:
        return high
    while high - low > 1:  # the last `low` equal, the last `high` not
        middle = (low + high) // 2
        if a[la - middle:la - low] == b[lb - middle:lb - low]:
            low = middle
        else:
            high = middle
    return low


def changed_window(a: Sequence[Any], b: Sequence[Any]) -> tuple[Sequence[Any], Sequence[Any]]:
    """`a` and `b` without their longest common head and tail: where they differ."""
    head = common_head(a, b)
    tail = common_tail(a, b, min(len(a), len(b)) - head)
    return a[head:len(a) - tail], b[head:len(b) - tail]


class GroupMembers:
    """See the module docstring."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}

    def of(self, key: str, members: tuple[Member, ...]) -> tuple[list[str], tuple[str, ...]]:
        """(canonical member addresses, sorted identity texts) of group `key` holding `members`."""
        group = self._groups.get(key)
        if group is None or (group.source is not members and not group.update(members)):
            group = self._groups[key] = _Group(members)
        return list(group.members.values), tuple(group.identities.values)

    def retain(self, keys: Collection[str]) -> None:
        """Forget the groups whose keys are not among `keys` (set operations over the keys)."""
        for key in self._groups.keys() - keys:
            del self._groups[key]
