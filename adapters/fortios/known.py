"""What the device holds of our address pieces, kept up to date cheaply, and `collapse`.

Contract:
- `KnownPieces` indexes pieces (inclusive IPv4 host ranges) by start: for each start, the distinct
  ends, longest first. It is mutable (`add`/`discard`, with multiplicity) and journals the starts
  whose pieces appeared or disappeared, so an incremental render asks `changes_since(position)`
  and re-collapses only the runs those starts lie in. The journal is bounded: when it outgrows the
  index it is dropped and older positions answer None ("anything may have changed").
- `PieceLedger` remembers our address objects by name with the piece each covers; `sync` takes
  what the device holds (a read or an observation) and parses only objects it has not seen with
  that body, so keeping it current costs O(changed objects) parsing.
- `collapse(hosts, known)` covers hosts with pieces, keeping known pieces inside contiguous runs.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Collection, Iterable, Mapping
from typing import Any

Piece = tuple[int, int]  # inclusive IPv4 range as integers
JOURNAL_SLACK = 4096


class KnownPieces:
    """See the module contract. Not thread-safe: callers serialize writes."""

    __slots__ = ("_base", "_count", "_ends", "_journal")

    def __init__(self, pieces: Iterable[Piece] = ()) -> None:
        self._count: dict[Piece, int] = {}
        self._ends: dict[int, list[int]] = {}  # start -> distinct ends, ascending
        self._journal: list[int] = []
        self._base = 0
        for piece in pieces:
            self.add(piece)

    @classmethod
    def of(cls, known: Iterable[Piece] | KnownPieces) -> KnownPieces:
        """`known` itself when already an index, else its index."""
        return known if isinstance(known, KnownPieces) else cls(known)

    def add(self, piece: Piece) -> None:
        count = self._count.get(piece, 0)
        self._count[piece] = count + 1
        if count == 0:
            bisect.insort(self._ends.setdefault(piece[0], []), piece[1])
            self._note(piece[0])

    def discard(self, piece: Piece) -> None:
        count = self._count.get(piece, 0)
        if count > 1:
            self._count[piece] = count - 1
        elif count == 1:
            del self._count[piece]
            ends = self._ends[piece[0]]
            ends.remove(piece[1])
            if not ends:
                del self._ends[piece[0]]
            self._note(piece[0])

    def _note(self, start: int) -> None:
        self._journal.append(start)
        if len(self._journal) > 2 * len(self._count) + JOURNAL_SLACK:
            self._base += len(self._journal)
            self._journal = []

    def position(self) -> int:
        """A mark of the journal now, for `changes_since`."""
        return self._base + len(self._journal)

    def changes_since(self, position: int) -> set[int] | None:
        """The starts whose pieces changed since `position`; None when no longer known."""
        if position < self._base:
            return None
        return set(self._journal[position - self._base:])

    def trim(self, position: int) -> None:
        """Forget journal entries before `position` (its only reader has consumed them)."""
        if position > self._base:
            del self._journal[:position - self._base]
            self._base = position

    def longest_within(self, start: int, high: int) -> int | None:
        """The end of the longest known piece starting at `start` and ending at most at `high`."""
        ends = self._ends.get(start)
        if not ends:
            return None
        index = bisect.bisect_right(ends, high)
        return ends[index - 1] if index else None

    def __bool__(self) -> bool:
        return bool(self._ends)


def collapse(hosts: Collection[int], known: Iterable[Piece] | KnownPieces) -> list[Piece]:
    """Cover the sorted `hosts` with pieces: known pieces inside a contiguous run are kept, the
    rest of each run becomes one new piece per gap between kept pieces."""
    ordered = sorted(set(hosts))
    index = KnownPieces.of(known)
    pieces: list[Piece] = []
    first = 0
    while first < len(ordered):
        last = first
        while last + 1 < len(ordered) and ordered[last + 1] == ordered[last] + 1:
            last += 1
        low, high = ordered[first], ordered[last]
        position, segment = low, low
        while index and position <= high:
            kept = index.longest_within(position, high)
            if kept is None:
                position += 1
                continue
            if segment < position:
                pieces.append((segment, position - 1))
            pieces.append((position, kept))
            position = segment = kept + 1
        if segment <= high:
            pieces.append((segment, high))
        first = last + 1
    return pieces


def piece_of(body: Mapping[str, Any]) -> Piece | None:
    """The IPv4 host range an address body covers when it is a host or an iprange."""
    try:
        if body.get("type") == "iprange":
            return (int(ipaddress.IPv4Address(body["start-ip"])), int(ipaddress.IPv4Address(body["end-ip"])))
        if body.get("type") == "ipmask":
            network = ipaddress.IPv4Network(body["subnet"])
            if network.prefixlen == 32:
                return (int(network.network_address), int(network.network_address))
    except (KeyError, ValueError):
        return None
    return None


class PieceLedger:
    """Our address objects by name, each with the piece it covers (None: not a host or range), and
    the `index` of those pieces. Not thread-safe: callers serialize."""

    def __init__(self) -> None:
        self.index = KnownPieces()
        self._by_name: dict[str, tuple[Mapping[str, Any], Piece | None]] = {}

    def remember(self, name: str, body: Mapping[str, Any]) -> None:
        """Address `name` now holds `body`."""
        self.forget(name)
        piece = piece_of(body)
        self._by_name[name] = (body, piece)
        if piece is not None:
            self.index.add(piece)

    def forget(self, name: str) -> None:
        entry = self._by_name.pop(name, None)
        if entry is not None and entry[1] is not None:
            self.index.discard(entry[1])

    def sync(self, held: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Make the ledger hold exactly `held` (name, body); bodies seen before are not parsed again."""
        seen: set[str] = set()
        for name, body in held:
            seen.add(name)
            entry = self._by_name.get(name)
            if entry is None or not (entry[0] is body or entry[0] == body):
                self.remember(name, body)
        for name in [name for name in self._by_name if name not in seen]:
            self.forget(name)

    def pieces(self) -> dict[str, Piece]:
        """Name → piece of every remembered host or range address."""
        return {name: piece for name, (_, piece) in self._by_name.items() if piece is not None}
