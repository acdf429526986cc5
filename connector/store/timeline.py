"""The address timeline: which identity held a source address (pod, node or egress IP) when.

Each address has a list of non-overlapping intervals [valid_from, valid_to) (`valid_to` NULL while
open; at most one open). `at(address, t, skew)` finds the interval holding t and every interval
within `skew` of t through the index (cluster, address, valid_from): O(log n) per address, and
`at_many` answers a batch with one statement per chunk of addresses.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select, union_all
from sqlalchemy.orm import Session

from connector.flows.record import FlowIdentity
from connector.store.bulk import chunks, ensure_cluster
from connector.store.models import AddressIntervalRow

ADDRESS_CHUNK = 100  # addresses per statement (two SELECTs each; SQLite allows 500 in a compound)


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

    def open(self, address: str, identity: FlowIdentity, at: datetime) -> None:
        """`identity` holds `address` from `at`: ends another owner's open interval at `at` (an
        interval that would end at or before its start is removed). No-op when `identity` already
        holds it."""
        row = self._open_row(address)
        if row is not None:
            if _identity(row, self.cluster) == replace(identity, cluster=self.cluster):
                return
            self._end(row, at)
        ensure_cluster(self.session, self.cluster, at)
        self.session.add(AddressIntervalRow(cluster=self.cluster, address=address, **_columns(identity),
                                            valid_from=at, valid_to=None))
        self.session.flush()

    def close(self, address: str, at: datetime, *, pod_uid: str = "") -> None:
        """End `address`'s open interval at `at`; with `pod_uid`, only if that pod holds it (a late
        deletion of a previous owner never ends the new owner's interval)."""
        row = self._open_row(address)
        if row is None or (pod_uid and row.pod_uid != pod_uid):
            return
        self._end(row, at)
        self.session.flush()

    def prune(self, before: datetime) -> int:
        """Delete intervals that ended before `before`; returns how many."""
        result = self.session.execute(
            delete(AddressIntervalRow).where(AddressIntervalRow.cluster == self.cluster,
                                             AddressIntervalRow.valid_to.is_not(None),
                                             AddressIntervalRow.valid_to < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def holders(self) -> dict[str, FlowIdentity]:
        """Every address with an open interval and its identity (for reconciling after a re-list)."""
        rows = self.session.scalars(select(AddressIntervalRow).where(
            AddressIntervalRow.cluster == self.cluster, AddressIntervalRow.valid_to.is_(None)))
        return {row.address: _identity(row, self.cluster) for row in rows}

    def _open_row(self, address: str) -> AddressIntervalRow | None:
        return self.session.scalars(select(AddressIntervalRow).where(
            AddressIntervalRow.cluster == self.cluster, AddressIntervalRow.address == address,
            AddressIntervalRow.valid_to.is_(None))).first()

    def _end(self, row: AddressIntervalRow, at: datetime) -> None:
        if at <= row.valid_from:
            self.session.delete(row)
        else:
            row.valid_to = at
        self.session.flush()  # the partial unique index allows one open interval per address

    # -- reads ------------------------------------------------------------------------------------

    def at(self, address: str, moment: datetime, skew_seconds: float) -> Attribution:
        """Who held `address` at `moment` (see the module docstring). O(log n)."""
        return self.at_many([(address, moment)], skew_seconds)[0]

    def at_many(self, queries: Sequence[tuple[str, datetime]], skew_seconds: float) -> list[Attribution]:
        """`at` for each (address, moment), in order: one statement per 100 distinct addresses."""
        skew = timedelta(seconds=max(0.0, skew_seconds))
        intervals = self.intervals_near(queries, skew)
        return [attribute(intervals.get(address, ()), moment, skew) for address, moment in queries]

    def intervals_near(self, queries: Iterable[tuple[str, datetime]],
                       skew: timedelta) -> dict[str, list[Interval]]:
        """Per address, its intervals that may matter for the moments queried (± `skew`): those
        starting within the moments' span and the last one starting before it; sorted."""
        spans: dict[str, tuple[datetime, datetime]] = {}
        for address, moment in queries:
            low, high = spans.get(address, (moment, moment))
            spans[address] = (min(low, moment), max(high, moment))
        out: dict[str, list[Interval]] = {}
        for chunk in chunks(sorted(spans), ADDRESS_CHUNK):
            selects: list[Select[Any]] = []
            for address in chunk:
                low, high = spans[address]
                selects.append(self._last_before(address, low - skew))
                selects.append(self._starting_within(address, low - skew, high + skew))
            rows = self.session.execute(union_all(*selects)) if len(selects) > 1 else \
                self.session.execute(selects[0])
            seen: set[int] = set()
            for row in rows:
                if row.id in seen:
                    continue
                seen.add(row.id)
                out.setdefault(row.address, []).append(
                    Interval(_identity(row, self.cluster), row.valid_from, row.valid_to))
        for found in out.values():
            found.sort(key=lambda interval: interval.valid_from)
        return out

    def _columns(self) -> Select[Any]:
        row = AddressIntervalRow
        return select(row.id, row.address, row.namespace, row.pod, row.pod_uid, row.services,
                      row.node, row.source_mode, row.valid_from, row.valid_to)

    def _last_before(self, address: str, moment: datetime) -> Select[Any]:
        row = AddressIntervalRow
        inner = (self._columns().where(row.cluster == self.cluster, row.address == address,
                                       row.valid_from < moment)
                 .order_by(row.valid_from.desc()).limit(1).subquery())
        return select(inner)

    def _starting_within(self, address: str, low: datetime, high: datetime) -> Select[Any]:
        row = AddressIntervalRow
        return self._columns().where(row.cluster == self.cluster, row.address == address,
                                     row.valid_from >= low, row.valid_from <= high)


def _columns(identity: FlowIdentity) -> dict[str, Any]:
    return {"namespace": identity.namespace, "pod": identity.pod, "pod_uid": identity.pod_uid,
            "services": list(identity.services), "node": identity.node,
            "source_mode": identity.source_mode}


def _identity(row: Any, cluster: str) -> FlowIdentity:
    """The identity of an `AddressIntervalRow` or a result row with its columns."""
    return FlowIdentity(cluster=cluster, namespace=row.namespace, pod=row.pod,
                        pod_uid=row.pod_uid, services=tuple(row.services or ()), node=row.node,
                        source_mode=row.source_mode)
