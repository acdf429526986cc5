"""Compiled rules per device: the first-match list the compiler produced, in evaluation order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.model import Action, CompiledRule, DeviceState, RuleKind, RuleOrigin, Tier, checksum
from connector.store.bulk import chunks, ensure_cluster, upsert_rows, utcnow
from connector.store.models import CompiledRuleRow


class RuleRepository:
    """Compiled rules of one cluster. Never commits: the caller owns the transaction."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def replace(self, device: str, rules: Sequence[CompiledRule], at: datetime | None = None) -> bool:
        """Store `rules` (in evaluation order) as `device`'s list; returns False when unchanged.
        Rows are matched by key: only rules added, removed, changed or moved are written."""
        keys = [rule.key for rule in rules]
        if len(set(keys)) != len(keys):
            raise ValueError(f"rule keys repeat in the list for device {device}")
        desired = [(rule.key, checksum(rule.to_json())) for rule in rules]
        row = CompiledRuleRow
        stored = {key: (row_id, position, digest) for row_id, key, position, digest in self.session.execute(
            select(row.id, row.key, row.position, row.checksum)
            .where(row.cluster == self.cluster, row.device == device))}
        at = at or utcnow()
        writes = []  # added, changed or moved: upserted by key (another writer may add them too)
        for position, (rule, (key, digest)) in enumerate(zip(rules, desired, strict=True)):
            found = stored.get(key)
            if found is None or found[1:] != (position, digest):
                writes.append({"cluster": self.cluster, "device": device, "key": key,
                               **self._values(rule, position, digest, at)})
        wanted = set(keys)
        gone = [found[0] for key, found in stored.items() if key not in wanted]
        if not (writes or gone):
            return False
        ensure_cluster(self.session, self.cluster, at)
        for ids in chunks(gone):
            self.session.execute(delete(CompiledRuleRow).where(CompiledRuleRow.id.in_(ids)))
        upsert_rows(self.session, CompiledRuleRow, writes, keys=("cluster", "device", "key"))
        self.session.flush()
        return True

    @staticmethod
    def _values(rule: CompiledRule, position: int, digest: str, at: datetime) -> dict[str, Any]:
        return {"position": position, "origin_kind": rule.origin.kind.value,
                "origin_namespace": rule.origin.namespace, "origin_name": rule.origin.name,
                "tier": rule.origin.tier.value, "priority": rule.origin.priority,
                "action": rule.action.value, "source": rule.source, "destination": rule.destination,
                "ports": rule.ports, "logging": rule.logging, "checksum": digest, "updated_at": at}

    def record_state(self, state: DeviceState, at: datetime | None = None) -> bool:
        """Store the rules of a compiled `DeviceState`; returns False when unchanged."""
        if state.cluster != self.cluster:
            raise ValueError(f"device state of cluster {state.cluster}, not {self.cluster}")
        return self.replace(state.device, state.rules, at)

    def rules(self, device: str) -> tuple[CompiledRule, ...]:
        """`device`'s stored rules in evaluation order."""
        rows = self.session.scalars(
            select(CompiledRuleRow)
            .where(CompiledRuleRow.cluster == self.cluster, CompiledRuleRow.device == device)
            .order_by(CompiledRuleRow.position))
        return tuple(CompiledRule(
            key=row.key,
            origin=RuleOrigin(kind=RuleKind(row.origin_kind), namespace=row.origin_namespace,
                              name=row.origin_name, tier=Tier(row.tier), priority=row.priority),
            source=row.source, destination=row.destination, ports=row.ports,
            action=Action(row.action), logging=row.logging) for row in rows)

    def devices(self) -> list[str]:
        """Devices with stored rules."""
        return list(self.session.scalars(
            select(CompiledRuleRow.device).where(CompiledRuleRow.cluster == self.cluster)
            .distinct().order_by(CompiledRuleRow.device)))

    def by_origin(self, kind: RuleKind, namespace: str, name: str) -> dict[str, int]:
        """Device -> number of compiled rules that the Kubernetes rule `kind namespace/name` produced
        there (for the rule's `Programmed` status)."""
        out: dict[str, int] = {}
        for device in self.session.scalars(
                select(CompiledRuleRow.device).where(
                    CompiledRuleRow.cluster == self.cluster, CompiledRuleRow.origin_kind == kind.value,
                    CompiledRuleRow.origin_namespace == namespace, CompiledRuleRow.origin_name == name)):
            out[device] = out.get(device, 0) + 1
        return out
