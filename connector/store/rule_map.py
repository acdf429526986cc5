"""The device-rule map over time: which Kubernetes rule a device's own rule stood for when.

A device names its rules itself (a FortiOS policy name and id, an AS3 rule name, a REST rule id);
each reference maps to a `FlowRule` during [valid_from, valid_to) (`valid_to` NULL while open; at
most one open row per device and reference). `record` is called after each successful sync with
the device's whole mapping and writes only what changed; `at` answers "which rule was this at that
moment" through the index (cluster, device, reference, valid_from). Never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.orm import Session

from connector.flows.record import FlowRule
from connector.store.bulk import chunks, ensure_cluster, still_open
from connector.store.models import DeviceRuleRefRow


class DeviceRuleMap:
    """The device-rule references of one cluster over one session. Never commits."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def record(self, device: str, references: Mapping[str, FlowRule], at: datetime) -> bool:
        """`references` (device rule name or id -> rule) is `device`'s whole mapping from `at`:
        references gone or changed are closed at `at`, new or changed ones opened. Writes only
        changes (reads the device's open rows once); returns whether anything changed."""
        row = DeviceRuleRefRow
        open_rows = {found.reference: found for found in self.session.scalars(select(row).where(
            row.cluster == self.cluster, row.device == device, row.valid_to.is_(None)))}
        changed = False
        for reference, found in open_rows.items():
            wanted = references.get(reference)
            if wanted is None or wanted != _rule(found):
                changed = True
                if at <= found.valid_from:
                    self.session.delete(found)
                else:
                    found.valid_to = at
        if changed:
            self.session.flush()  # closed before opening again (one open row per reference)
        new = [(reference, rule) for reference, rule in references.items()
               if reference not in open_rows or _rule(open_rows[reference]) != rule]
        if not new:
            return changed
        ensure_cluster(self.session, self.cluster, at)
        self.session.add_all(DeviceRuleRefRow(
            cluster=self.cluster, device=device, reference=reference, rule_kind=rule.kind,
            rule_namespace=rule.namespace, rule_name=rule.name, rule_tier=rule.tier,
            valid_from=at, valid_to=None) for reference, rule in new)
        self.session.flush()
        return True

    def at(self, device: str, reference: str, moment: datetime) -> FlowRule | None:
        """The rule `device`'s `reference` stood for at `moment`; None when it was not ours then."""
        row = DeviceRuleRefRow
        found = self.session.scalars(
            select(row).where(row.cluster == self.cluster, row.device == device,
                              row.reference == reference, row.valid_from <= moment)
            .order_by(row.valid_from.desc()).limit(1)).first()
        if found is None or (found.valid_to is not None and found.valid_to <= moment):
            return None
        return _rule(found)

    def history(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[
            tuple[datetime, datetime | None, FlowRule]]]:
        """Every stored interval of each (device, reference), sorted by start (then id): one statement per
        chunk of pairs (a reference changes only when its rule does, so histories are short)."""
        wanted: Sequence[tuple[str, str]] = sorted(set(pairs))
        out: dict[tuple[str, str], list[tuple[datetime, datetime | None, FlowRule]]] = {}
        row = DeviceRuleRefRow
        for chunk in chunks(wanted, 200):
            for found in self.session.scalars(
                    select(row).where(row.cluster == self.cluster,
                                      tuple_(row.device, row.reference).in_(list(chunk)))
                    .order_by(row.valid_from, row.id)):
                out.setdefault((found.device, found.reference), []).append(
                    (found.valid_from, found.valid_to, _rule(found)))
        return out

    # -- reads for an in-memory memo of rule histories (connector/flows/recent.py) ----------------

    def top_row(self) -> tuple[Any, ...] | None:
        """The `signature` of the row with the highest id (None when none); see
        `AddressTimeline.top_row`."""
        row = DeviceRuleRefRow
        found = self.session.execute(_signature_columns().order_by(row.id.desc()).limit(1)).first()
        return _signature(found) if found is not None else None

    def written_after(self, after_id: int) -> list[tuple[Any, ...]]:
        """The signatures of the rows with an id above `after_id`, by id."""
        row = DeviceRuleRefRow  # by the primary key alone: an index on the cluster would read them all
        return [_signature(found) for found in self.session.execute(
            _signature_columns().add_columns(row.cluster).where(row.id > after_id).order_by(row.id))
            if found.cluster == self.cluster]

    def changed_since(self, top_id: int) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
        """The signature of the row `top_id` (None when it is gone) and `written_after(top_id)`,
        in one statement."""
        row = DeviceRuleRefRow
        found = list(self.session.execute(
            _signature_columns().add_columns(row.cluster).where(row.id >= top_id).order_by(row.id)))
        top = _signature(found[0]) if found and found[0].id == top_id else None
        return top, [_signature(item) for item in found
                     if item.id != top_id and item.cluster == self.cluster]

    def still_open(self, ids: Iterable[int]) -> set[int]:
        """Which of the rows `ids` are still open (neither ended nor removed); see
        `connector.store.bulk.still_open`."""
        return still_open(self.session, DeviceRuleRefRow, ids)

    def histories(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[
            list[tuple[datetime, datetime | None, FlowRule]], tuple[Any, ...] | None]]:
        """`history` of each pair with the signature of its open row (None when it has none)."""
        wanted: Sequence[tuple[str, str]] = sorted(set(pairs))
        out: dict[tuple[str, str], tuple[list[tuple[datetime, datetime | None, FlowRule]],
                                         tuple[Any, ...] | None]] = {}
        row = DeviceRuleRefRow
        for chunk in chunks(wanted, 200):
            for found in self.session.scalars(
                    select(row).where(row.cluster == self.cluster,
                                      tuple_(row.device, row.reference).in_(list(chunk)))
                    .order_by(row.valid_from, row.id)):
                history, open_id = out.get((found.device, found.reference)) or ([], None)
                history.append((found.valid_from, found.valid_to, _rule(found)))
                out[(found.device, found.reference)] = (
                    history, _signature(found) if found.valid_to is None else open_id)
        return out

    def devices(self) -> list[str]:
        """Devices with an open reference."""
        row = DeviceRuleRefRow
        return list(self.session.scalars(
            select(row.device).where(row.cluster == self.cluster, row.valid_to.is_(None))
            .distinct().order_by(row.device)))

    def prune(self, before: datetime) -> int:
        """Delete references that ended before `before`; returns how many."""
        row = DeviceRuleRefRow
        result = self.session.execute(delete(row).where(
            row.cluster == self.cluster, row.valid_to.is_not(None), row.valid_to < before))
        return int(getattr(result, "rowcount", 0) or 0)


def rule_at(history: Sequence[tuple[datetime, datetime | None, FlowRule]],
            moment: datetime) -> FlowRule | None:
    """The rule of a `history` (sorted by start) at `moment` (pure)."""
    current: FlowRule | None = None
    for start, end, rule in history:
        if start > moment:
            break
        current = rule if end is None or moment < end else None
    return current


def _signature_columns() -> Select[Any]:
    row = DeviceRuleRefRow
    return cast(Select[Any], select(row.id, row.device, row.reference, row.valid_from, row.rule_kind,
                  row.rule_namespace, row.rule_name, row.rule_tier))


def _signature(row: Any) -> tuple[Any, ...]:
    """What tells one stored row from another: (id, device, reference, valid_from, rule)."""
    return (row.id, row.device, row.reference, row.valid_from, row.rule_kind, row.rule_namespace,
            row.rule_name, row.rule_tier)


def _rule(row: DeviceRuleRefRow) -> FlowRule:
    return FlowRule(kind=row.rule_kind, namespace=row.rule_namespace, name=row.rule_name,
                    tier=row.rule_tier)
