"""The address timeline: which identity held a source address (pod, node or egress IP) when.

Each address has a list of non-overlapping intervals [valid_from, valid_to) (`valid_to` NULL while
open; at most one open). `at(address, t, skew)` finds the intervals within `skew` of t through
the indexes (cluster, address, valid_to) and (cluster, address, valid_from): O(log n) per address,
not growing with the address's older history; `at_many` answers a batch with one statement per
500 addresses, and `apply` writes many changes in a few statements.

Attribution rules:
- the identity is the interval's that holds t; with no interval holding t but exactly one owner
  within `skew` of t (an address taken or released just before or after t), that owner;
- `ambiguous` when two or more owners (by pod uid, else namespace/pod/node/source mode) held the
  address within `skew` of t; `candidates` then lists each once, oldest first;
- `identity=None` when no interval is within `skew` of t.

Only the leader writes (see connector/flows/timeline_feed.py). Never commits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, Select, String, bindparam, delete, func, insert, select, union_all, update
from sqlalchemy.orm import Session

from connector.flows.record import FlowIdentity
from connector.store.bulk import IN_CHUNK, chunks, ensure_cluster, still_open
from connector.store.models import AddressIntervalRow


@dataclass(frozen=True)
class Attribution:
    """Who held an address at a moment (see the module docstring for the rules)."""

    identity: FlowIdentity | None
    ambiguous: bool = False
    candidates: tuple[FlowIdentity, ...] = ()


UNATTRIBUTED = Attribution(identity=None)


@dataclass(frozen=True)
class Interval:
    """One stored interval of an address (valid_to None while open)."""

    identity: FlowIdentity
    valid_from: datetime
    valid_to: datetime | None


def owner_key(identity: FlowIdentity) -> tuple[str, ...]:
    """Who an identity is, ignoring its Services (a Service change is not a change of owner)."""
    if identity.pod_uid:
        return ("uid", identity.pod_uid)
    return (identity.namespace, identity.pod, identity.node, identity.source_mode)


def attribute(intervals: Sequence[Interval], moment: datetime, skew: timedelta) -> Attribution:
    """The attribution at `moment` from one address's intervals sorted by `valid_from` (pure)."""
    starts = [interval.valid_from for interval in intervals]
    # intervals starting at or before moment + skew; of those, the ones not ended before moment - skew
    upto = bisect.bisect_right(starts, moment + skew)
    low = moment - skew
    near = [iv for iv in intervals[:upto] if iv.valid_to is None or iv.valid_to > low]
    if not near:
        return UNATTRIBUTED
    holder = next((iv for iv in near if iv.valid_from <= moment
                   and (iv.valid_to is None or moment < iv.valid_to)), None)
    owners: dict[tuple[str, ...], FlowIdentity] = {}
    for interval in near:
        owners.setdefault(owner_key(interval.identity), interval.identity)
    if holder is not None:
        owners[owner_key(holder.identity)] = holder.identity  # its Services at the moment
    if len(owners) == 1:
        return Attribution(identity=next(iter(owners.values())))
    return Attribution(identity=holder.identity if holder else None, ambiguous=True,
                       candidates=tuple(owners.values()))


class AddressTimeline:
    """The address intervals of one cluster over one session. Never commits."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    # -- writes (leader only) --------------------------------------------------------------------

    def open(self, address: str, identity: FlowIdentity, at: datetime, *,
             since: datetime | None = None) -> None:
        """`identity` holds `address` from `at`: ends another owner's open interval at `at` (an
        interval that would end at or before its start is removed). No-op when `identity` already
        holds it. `since`: when the owner really began to hold it (see `apply`)."""
        self.apply([(address, identity)], at, since={address: since} if since is not None else None)

    def close(self, address: str, at: datetime, *, pod_uid: str = "") -> None:
        """End `address`'s open interval at `at`; with `pod_uid`, only if that pod holds it (a late
        deletion of a previous owner never ends the new owner's interval)."""
        found = self._open_rows([address]).get(address)
        if found is None or (pod_uid and found.pod_uid != pod_uid):
            return
        self._end([found], at)

    def apply(self, changes: Sequence[tuple[str, FlowIdentity | None]], at: datetime, *,
              stored: Mapping[str, Any] | None = None,
              since: Mapping[str, datetime | None] | None = None) -> int:
        """Each (address, identity) holds from `at` (None: nobody; a later change of one address
        wins): `open` or `close` for many addresses in a few statements (one read of the open
        intervals, one update, one delete, one insert per 500 addresses; no read when the caller
        passes `stored`, every open interval as `open_intervals` returned it in this
        transaction). Returns the number of addresses whose holder changed.

        `since[address]`, when the new owner really began to hold the address (a pod's start,
        before the connector saw it), moves the start of its interval back from `at` to it, but
        never before the end of the address's latest interval (no overlap: the previous owner's
        end stays as written); an address that has an open interval (ended here at `at`) starts
        at `at`. One more read per 500 such addresses (their latest end)."""
        wanted = dict(changes)
        early = since or {}
        changed = 0
        for chunk in chunks(sorted(wanted), IN_CHUNK):
            if stored is None:
                found_open = self._open_rows(chunk)
            else:
                found_open = {address: stored[address] for address in chunk if address in stored}
            ending: list[Any] = []
            opening: list[dict[str, Any]] = []
            backdated: dict[str, datetime] = {}
            for address in chunk:
                identity = wanted[address]
                found = found_open.get(address)
                current = _identity(found, self.cluster) if found is not None else None
                if identity is not None:
                    identity = replace(identity, cluster=self.cluster)
                if current == identity:
                    continue
                changed += 1
                if found is not None:
                    ending.append(found)
                if identity is not None:
                    opening.append({"cluster": self.cluster, "address": address, **_columns(identity),
                                    "valid_from": at, "valid_to": None})
                    began = early.get(address)
                    if found is None and began is not None and began < at:
                        backdated[address] = began
            if backdated:
                ends = self._latest_ends(list(backdated), min(backdated.values()))
                for values in opening:
                    began = backdated.get(values["address"])
                    if began is not None:
                        start = max(began, ends.get(values["address"], began))
                        values["valid_from"] = start if start < at else at
            self._end(ending, at)  # before opening: one open interval per address
            if opening:
                ensure_cluster(self.session, self.cluster, at)
                self.session.execute(insert(AddressIntervalRow), opening)
        return changed

    def prune(self, before: datetime) -> int:
        """Delete intervals that ended before `before`; returns how many."""
        result = self.session.execute(
            delete(AddressIntervalRow).where(AddressIntervalRow.cluster == self.cluster,
                                             AddressIntervalRow.valid_to.is_not(None),
                                             AddressIntervalRow.valid_to < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def holders(self) -> dict[str, FlowIdentity]:
        """Every address with an open interval and its identity (for reconciling after a re-list)."""
        return {address: _identity(row, self.cluster) for address, row in self.open_intervals().items()}

    def open_intervals(self) -> dict[str, Any]:
        """Every open interval by address (rows for `apply(stored=...)` and `identity_of`)."""
        rows = self.session.execute(self._columns().where(
            AddressIntervalRow.cluster == self.cluster, AddressIntervalRow.valid_to.is_(None)))
        return {row.address: row for row in rows}

    def identity_of(self, row: Any) -> FlowIdentity:
        """The identity of a row of `open_intervals`."""
        return _identity(row, self.cluster)

    def _open_rows(self, addresses: Sequence[str]) -> dict[str, Any]:
        row = AddressIntervalRow
        return {found.address: found for found in self.session.execute(self._columns().where(
            row.cluster == self.cluster, row.address.in_(list(addresses)), row.valid_to.is_(None)))}

    def _latest_ends(self, addresses: Sequence[str], after: datetime) -> dict[str, datetime]:
        """The end of each address's latest closed interval, for those with one ending after
        `after` (earlier ends do not matter). One statement; on PostgreSQL one backward step of
        the index (cluster, address, valid_to) per address, whatever the table's statistics say
        (an IN list lets a fresh table's planner scan every closed interval of the cluster)."""
        row = AddressIntervalRow
        if self.session.get_bind().dialect.name == "postgresql":
            wanted = func.unnest(bindparam("addresses", list(addresses), type_=ARRAY(String))
                                 ).table_valued("address").render_derived(name="wanted")
            latest = select(func.max(row.valid_to)).where(
                row.cluster == self.cluster, row.address == wanted.c.address, row.valid_to > after
            ).scalar_subquery()
            found = self.session.execute(select(wanted.c.address, latest))
        else:
            found = self.session.execute(
                select(row.address, func.max(row.valid_to)).where(
                    row.cluster == self.cluster, row.address.in_(list(addresses)), row.valid_to > after
                ).group_by(row.address))
        return {address: end for address, end in found if end is not None}

    def _end(self, rows: Sequence[Any], at: datetime) -> None:
        """End the open intervals `rows` at `at`; one that would end at or before its start goes."""
        row = AddressIntervalRow
        gone = [found.id for found in rows if at <= found.valid_from]
        ended = [found.id for found in rows if at > found.valid_from]
        if gone:
            self.session.execute(delete(row).where(row.id.in_(gone)))
        if ended:
            self.session.execute(update(row).where(row.id.in_(ended)).values(valid_to=at))

    # -- reads ------------------------------------------------------------------------------------

    def at(self, address: str, moment: datetime, skew_seconds: float) -> Attribution:
        """Who held `address` at `moment` (see the module docstring). O(log n)."""
        return self.at_many([(address, moment)], skew_seconds)[0]

    def at_many(self, queries: Sequence[tuple[str, datetime]], skew_seconds: float) -> list[Attribution]:
        """`at` for each (address, moment), in order: one statement per 500 distinct addresses."""
        skew = timedelta(seconds=max(0.0, skew_seconds))
        intervals = self.intervals_near(queries, skew)
        return [attribute(intervals.get(address, ()), moment, skew) for address, moment in queries]

    def intervals_near(self, queries: Iterable[tuple[str, datetime]],
                       skew: timedelta) -> dict[str, list[Interval]]:
        """Per address queried, its intervals overlapping [earliest moment - skew, latest moment +
        skew], sorted by start (then id): the open one and those ending after the window opens,
        found through the index (cluster, address, valid_to), so the cost does not grow with older
        history."""
        moments: dict[str, None] = {}
        low: datetime | None = None
        high: datetime | None = None
        for address, moment in queries:
            moments[address] = None
            low = moment if low is None or moment < low else low
            high = moment if high is None or moment > high else high
        if low is None or high is None:
            return {}
        low, high = low - skew, high + skew
        row = AddressIntervalRow
        rows: dict[str, list[tuple[datetime, int, Interval]]] = {}
        for chunk in chunks(sorted(moments), IN_CHUNK):
            near = [row.cluster == self.cluster, row.address.in_(list(chunk)), row.valid_from <= high]
            statement = union_all(self._columns().where(*near, row.valid_to.is_(None)),
                                  self._columns().where(*near, row.valid_to > low))
            for found in self.session.execute(statement):
                rows.setdefault(found.address, []).append((found.valid_from, found.id, Interval(
                    _identity(found, self.cluster), found.valid_from, found.valid_to)))
        return {address: _by_start(found) for address, found in rows.items()}

    # -- reads for an in-memory index of recent intervals (connector/flows/recent.py) -------------

    def top_row(self) -> tuple[Any, ...] | None:
        """The `signature` of the interval with the highest id (None when none): every interval
        written later gets a higher id, unless this one is removed first (SQLite reuses the
        highest ids), which changes the signature found at that id."""
        row = AddressIntervalRow
        found = self.session.execute(self._signature().order_by(row.id.desc()).limit(1)).first()
        return _signature(found) if found is not None else None

    def written_after(self, after_id: int) -> list[tuple[Any, ...]]:
        """The signatures of the intervals with an id above `after_id`, by id."""
        row = AddressIntervalRow  # by the primary key alone: an index on the cluster would read them all
        return [_signature(found) for found in self.session.execute(
            self._signature().add_columns(row.cluster).where(row.id > after_id).order_by(row.id))
            if found.cluster == self.cluster]

    def changed_since(self, top_id: int) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
        """The signature of the interval `top_id` (None when it is gone) and
        `written_after(top_id)`, in one statement."""
        row = AddressIntervalRow
        found = list(self.session.execute(
            self._signature().add_columns(row.cluster).where(row.id >= top_id).order_by(row.id)))
        top = _signature(found[0]) if found and found[0].id == top_id else None
        return top, [_signature(item) for item in found
                     if item.id != top_id and item.cluster == self.cluster]

    def still_open(self, ids: Iterable[int]) -> set[int]:
        """Which of the intervals `ids` are still open (neither ended nor removed); see
        `connector.store.bulk.still_open`."""
        return still_open(self.session, AddressIntervalRow, ids)

    def _signature(self) -> Select[Any]:
        row = AddressIntervalRow
        return cast(Select[Any], select(row.id, row.address, row.valid_from, row.namespace, row.pod,
                                        row.pod_uid, row.node, row.source_mode))

    def since(self, addresses: Iterable[str], low: datetime
              ) -> dict[str, tuple[list[Interval], tuple[Any, ...] | None]]:
        """Per address, its intervals overlapping [low, now] sorted by start (the open one and those
        ending after `low`), and the signature of its open interval (None when none); addresses
        without such intervals are left out. One statement per 500 addresses."""
        row = AddressIntervalRow
        rows: dict[str, list[tuple[datetime, int, Interval]]] = {}
        open_rows: dict[str, tuple[Any, ...]] = {}
        for chunk in chunks(sorted(set(addresses)), IN_CHUNK):
            mine = [row.cluster == self.cluster, row.address.in_(list(chunk))]
            statement = union_all(self._columns().where(*mine, row.valid_to.is_(None)),
                                  self._columns().where(*mine, row.valid_to > low))
            for found in self.session.execute(statement):
                rows.setdefault(found.address, []).append((found.valid_from, found.id, Interval(
                    _identity(found, self.cluster), found.valid_from, found.valid_to)))
                if found.valid_to is None:
                    open_rows[found.address] = _signature(found)
        return {address: (_by_start(found), open_rows.get(address)) for address, found in rows.items()}

    def _columns(self) -> Select[Any]:
        row = AddressIntervalRow
        return select(row.id, row.address, row.namespace, row.pod, row.pod_uid, row.services,
                      row.node, row.source_mode, row.valid_from, row.valid_to)


def _columns(identity: FlowIdentity) -> dict[str, Any]:
    return {"namespace": identity.namespace, "pod": identity.pod, "pod_uid": identity.pod_uid,
            "services": list(identity.services), "node": identity.node,
            "source_mode": identity.source_mode}


def _by_start(rows: list[tuple[datetime, int, Interval]]) -> list[Interval]:
    """Intervals sorted by start, then id (so that every read orders them alike)."""
    rows.sort(key=lambda item: (item[0], item[1]))
    return [interval for _, _, interval in rows]


def _signature(row: Any) -> tuple[Any, ...]:
    """What tells one stored interval from another: (id, address, valid_from, who)."""
    return (row.id, row.address, row.valid_from, row.namespace, row.pod, row.pod_uid, row.node,
            row.source_mode)


def _identity(row: Any, cluster: str) -> FlowIdentity:
    """The identity of an `AddressIntervalRow` or a result row with its columns."""
    return FlowIdentity(cluster=cluster, namespace=row.namespace, pod=row.pod,
                        pod_uid=row.pod_uid, services=tuple(row.services or ()), node=row.node,
                        source_mode=row.source_mode)
