"""Compiled rules per device: the first-match list the compiler produced, in evaluation order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.model import Action, CompiledRule, DeviceState, RuleKind, RuleOrigin, Tier, checksum
from connector.store.bulk import ensure_cluster, insert_rows, utcnow
from connector.store.models import CompiledRuleRow


class RuleRepository:
    """Compiled rules of one cluster. Never commits: the caller owns the transaction."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def replace(self, device: str, rules: Sequence[CompiledRule], at: datetime | None = None) -> bool:
        """Store `rules` (in evaluation order) as `device`'s list; returns False when unchanged."""
        keys = [rule.key for rule in rules]
        if len(set(keys)) != len(keys):
            raise ValueError(f"rule keys repeat in the list for device {device}")
        desired = [(rule.key, checksum(rule.to_json())) for rule in rules]
        stored = [(key, digest) for key, digest in self.session.execute(
            select(CompiledRuleRow.key, CompiledRuleRow.checksum)
            .where(CompiledRuleRow.cluster == self.cluster, CompiledRuleRow.device == device)
            .order_by(CompiledRuleRow.position))]
        if stored == desired:
            return False
        at = at or utcnow()
        ensure_cluster(self.session, self.cluster, at)
        self.session.execute(delete(CompiledRuleRow).where(
            CompiledRuleRow.cluster == self.cluster, CompiledRuleRow.device == device))
        insert_rows(self.session, CompiledRuleRow, (
            {"cluster": self.cluster, "device": device, "position": position, "key": rule.key,
             "origin_kind": rule.origin.kind.value, "origin_namespace": rule.origin.namespace,
             "origin_name": rule.origin.name, "tier": rule.origin.tier.value,
             "priority": rule.origin.priority, "action": rule.action.value, "source": rule.source,
             "destination": rule.destination, "ports": rule.ports, "logging": rule.logging,
             "checksum": digest, "updated_at": at}
            for position, (rule, (_, digest)) in enumerate(zip(rules, desired, strict=True))))
        self.session.flush()
        return True

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
