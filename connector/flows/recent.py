"""In-memory indexes the Attributor keeps between batches: the recent address timeline
(`RecentTimeline`) and the device-rule histories (`RecentRules`), so that a batch reads the store
only for what changed since the previous batch.

How the store changes (connector/store/timeline.py, connector/store/rule_map.py): an interval (a
rule reference row) is inserted open, with an id above every id stored before it; later its end is
set, or it is removed when ended at or before its start. A closed interval never changes again
(retention pruning removes it long after any flow still being attributed). So an entry read from
the store stays exact until a row is inserted for its key or its open row is ended or removed.

Contract (each `prepare` call runs in the caller's read transaction, before answering):
1. the keys of the rows written since the previous call (id above the highest seen) are dropped;
2. the row with the highest id seen is read again (in one statement with step 1): when it was
   removed (SQLite may then give its id to a new row), every entry is dropped;
3. for the batch's cached keys that had an open row, whether that row is still open (one count
   per 1,000 rows through the primary key; the ids read only when some are not): an entry whose
   open row was ended or removed is dropped. A key that has got an open row since (new, or
   replacing an ended one) has a row above the highest seen, dropped in step 1; a removed row's
   id is given again only when it was the highest (SQLite), which step 2 sees;
4. what is missing is read from the store, and the answers are computed from the entries exactly as
   the store-backed path computes them (`connector.store.timeline.attribute`, `rule_map.rule_at`).
An entry is therefore never staler than the store at the batch's read, on every replica (each keeps
its own entries; the store is the only thing they share). One assumption: ids are committed in the
order they are assigned, true on SQLite and for one writer at a time on PostgreSQL (the leader
writes the timeline; rule maps are written after syncs). Bounded: at most `max_entries` entries
(the oldest read go first), each read again after `ttl` seconds; a timeline entry covers
[its `low`, now], and a line older than that (minus the clock skew) reads the store again.
Not thread-safe: the Attributor serialises its calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from connector.flows.record import FlowRule
from connector.store.rule_map import DeviceRuleMap, rule_at
from connector.store.timeline import UNATTRIBUTED, AddressTimeline, Attribution, Interval, attribute

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 50_000
TTL_SECONDS = 300.0
HORIZON_SECONDS = 900.0
_LATEST = datetime.max.replace(tzinfo=UTC)


Signature = tuple[Any, ...]  # a stored row's id, key, start and content (`top_row`)


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    open_row: Signature | None  # the store's open row, None when the key has none
    open_from: datetime | None
    read_at: float  # monotonic


class _Recent(Generic[K, V]):
    """Entries per key, kept in step with the store (steps 1 to 3 of the module docstring)."""

    def __init__(self, max_entries: int, ttl: float, clock: Callable[[], float],
                 key_of: Callable[[Signature], K]) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError("max_entries and ttl must be positive")
        self.max_entries = max_entries
        self.ttl = ttl
        self.clock = clock
        self.key_of = key_of
        self.entries: dict[K, _Entry[V]] = {}
        self.top: Signature | None = None  # the highest row seen: rows above it are news
        self.synced = False
        self.hits = 0
        self.misses = 0

    def sync(self, keys: Iterable[K], store: _Store) -> dict[K, _Entry[V]]:
        """Drop what the store changed since the last call, for `keys` (the batch's) and all;
        returns the entries of `keys` still there (current)."""
        entries = self.entries
        top = self.top
        removed = False
        written: list[Signature] = []
        if self.synced and entries:
            if top is not None:  # steps 1 and 2 in one statement
                found, written = store.changed_since(top[0])
                removed = found != top  # the top row removed
            else:
                written = store.written_after(0)
        if not self.synced or not entries or removed:
            entries.clear()
            self.top = store.top_row()  # before any read: rows written after it are above it
            self.synced = True
        else:
            for row in written:
                entries.pop(self.key_of(row), None)
            if written:
                self.top = written[-1]
        expired = self.clock() - self.ttl
        current: dict[K, _Entry[V]] = {}
        check: dict[K, int] = {}  # key -> the id of its open row, as read
        get = entries.get
        for key in keys:
            entry = get(key)
            if entry is None:
                continue
            if entry.read_at < expired:
                del entries[key]
                continue
            current[key] = entry
            if entry.open_row is not None:
                check[key] = entry.open_row[0]
        if check:
            still = store.still_open(check.values())
            if len(still) < len(check):
                for key, row_id in check.items():
                    if row_id not in still:
                        del entries[key], current[key]
        return current

    def keep(self, key: K, entry: _Entry[V]) -> None:
        entries = self.entries
        entries.pop(key, None)
        entries[key] = entry
        while len(entries) > self.max_entries:
            del entries[next(iter(entries))]


class _Store(Protocol):
    def top_row(self) -> Signature | None: ...

    def changed_since(self, top_id: int) -> tuple[Signature | None, list[Signature]]: ...

    def written_after(self, after_id: int) -> list[Signature]: ...

    def still_open(self, ids: Iterable[int]) -> set[int]: ...


@dataclass(slots=True)
class _Timeline:
    intervals: list[Interval]
    low: datetime  # every interval ending after it is in `intervals`
    tail: Attribution | None  # the open interval's identity, as an answer


class RecentTimeline:
    """The recent address timeline in memory (see the module docstring)."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, ttl: float = TTL_SECONDS,
                 horizon: float = HORIZON_SECONDS, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._recent: _Recent[str, _Timeline] = _Recent(max_entries, ttl, clock, lambda row: row[1])
        self.horizon = timedelta(seconds=horizon)
        self.now = now

    @property
    def entries(self) -> int:
        return len(self._recent.entries)

    @property
    def hits(self) -> int:
        return self._recent.hits

    @property
    def misses(self) -> int:
        return self._recent.misses

    def prepare(self, timeline: AddressTimeline, earliest: Mapping[str, datetime],
                skew: timedelta) -> TimelineAnswers:
        """Make the entries of the addresses of `earliest` (each address's earliest moment in the
        batch) current, reading the store as the module docstring says; returns their answers."""
        recent = self._recent
        batch = recent.sync(earliest, timeline)  # this batch's entries (kept ones may be evicted)
        missing: list[str] = []
        fast: dict[str, tuple[datetime, Attribution]] = {}
        latest = _LATEST - skew  # a later start plus the skew is past datetime.max: `at` answers
        for address, moment in earliest.items():
            entry = batch.get(address)
            if entry is None:
                missing.append(address)
                continue
            value, open_from = entry.value, entry.open_from
            if moment - skew < value.low:
                missing.append(address)
                del batch[address]
            elif value.tail is not None and open_from is not None and open_from <= latest:
                fast[address] = (open_from + skew, value.tail)
        recent.hits += len(batch)
        recent.misses += len(missing)
        if missing:
            low = min(self.now() - self.horizon, min(earliest[a] for a in missing) - skew)
            found = timeline.since(missing, low)
            read_at = recent.clock()
            for address in missing:
                intervals, open_row = found.get(address) or ([], None)
                last = intervals[-1] if intervals else None
                tail = Attribution(identity=last.identity) if last and last.valid_to is None else None
                clear_from = last.valid_from if tail is not None and last else None
                for interval in intervals[:-1]:  # the open one alone from when the others ended
                    if clear_from is not None and interval.valid_to is not None:
                        clear_from = max(clear_from, interval.valid_to)
                entry = _Entry(_Timeline(intervals, low, tail), open_row, clear_from, read_at)
                batch[address] = entry
                recent.keep(address, entry)
                if tail is not None and clear_from is not None and clear_from <= latest:
                    fast[address] = (clear_from + skew, tail)
        return TimelineAnswers(batch, skew, fast)


class TimelineAnswers:
    """Who held each address of a batch at a moment, as `AddressTimeline.at_many` answers.
    `fast[address]` is `(since, attribution)` for an address whose open interval alone is within
    the skew of every moment at or after `since` (its start, or the latest end of another
    interval when later, plus the skew): there the answer is `attribution` (one comparison per
    line); `at(address, moment)` answers any moment."""

    __slots__ = ("_entries", "_skew", "fast")

    def __init__(self, entries: dict[str, _Entry[_Timeline]], skew: timedelta,
                 fast: dict[str, tuple[datetime, Attribution]]) -> None:
        self._entries = entries
        self._skew = skew
        self.fast = fast

    def at(self, address: str, moment: datetime) -> Attribution:
        entry = self._entries[address]
        value = entry.value
        skew = self._skew
        if value.tail is not None and entry.open_from is not None and moment - skew >= entry.open_from:
            return value.tail
        if value.intervals:
            return attribute(value.intervals, moment, skew)
        return UNATTRIBUTED


RuleHistory = list[tuple[datetime, datetime | None, FlowRule]]


class RecentRules:
    """The device-rule histories in memory, per (device, reference) (see the module docstring)."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._recent: _Recent[tuple[str, str], tuple[RuleHistory, FlowRule | None]] = _Recent(
            max_entries, ttl, clock, lambda row: (row[1], row[2]))

    @property
    def entries(self) -> int:
        return len(self._recent.entries)

    def prepare(self, rule_map: DeviceRuleMap, wanted: Iterable[tuple[str, str]]) -> RuleAnswers:
        """Make the histories of `wanted` (device, reference) pairs current; returns their answers."""
        pairs = set(wanted)
        recent = self._recent
        entries = recent.sync(pairs, rule_map)
        missing = [pair for pair in pairs if pair not in entries]
        if missing:
            found = rule_map.histories(missing)
            read_at = recent.clock()
            for pair in missing:
                history, open_row = found.get(pair) or ([], None)
                tail = history[-1] if open_row is not None and history and history[-1][1] is None else None
                entry = _Entry((history, tail[2] if tail else None), open_row,
                               tail[0] if tail else None, read_at)
                entries[pair] = entry
                recent.keep(pair, entry)
        return RuleAnswers(entries)


class RuleAnswers:
    """The rule each (device, reference) of a batch stood for at a moment, as `DeviceRuleMap.at`
    answers. `fast[pair]` is `(since, rule)`: the answer at every moment at or after `since`
    (`None`: at every moment, a pair never ours); `at(device, reference, moment)` answers any."""

    __slots__ = ("_entries", "fast")

    def __init__(self, entries: dict[tuple[str, str], _Entry[tuple[RuleHistory, FlowRule | None]]]
                 ) -> None:
        self._entries = entries
        self.fast: dict[tuple[str, str], tuple[datetime | None, FlowRule | None]] = {}
        for pair, entry in entries.items():
            history, tail = entry.value
            if tail is not None and entry.open_from is not None:
                self.fast[pair] = (entry.open_from, tail)
            elif not history:
                self.fast[pair] = (None, None)

    def at(self, device: str, reference: str, moment: datetime) -> FlowRule | None:
        entry = self._entries[(device, reference)]
        history, tail = entry.value
        if tail is not None and entry.open_from is not None and moment >= entry.open_from:
            return tail
        return rule_at(history, moment)
