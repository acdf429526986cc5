"""Attributed flow records, aggregated per time bucket so that a flood of identical lines costs
one row, not one per line.

Aggregation: records whose every field but the source port and the count is equal (time reduced
to its bucket of `bucket_seconds`, identity, ambiguity and candidates, rule and device rule
included) are one row keyed by a digest of those fields; adding one adds its count (INSERT ... ON
CONFLICT DO UPDATE on SQLite and PostgreSQL, so concurrent receivers add up too) and widens
[first_seen, last_seen]. The source port is ephemeral and is not part of the key: the row keeps
it while every flow aggregated used the same one, and holds NULL once they differ.

A record read back has `time` = its first flow's time and `count` = the flows it stands for.
`query` returns the most recently seen first. Never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, select
from sqlalchemy.orm import Session

from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule, rfc3339
from connector.store.bulk import _dialect_insert, ensure_cluster, table_of
from connector.store.models import FlowRecordRow

DEFAULT_BUCKET_SECONDS = 60


@dataclass(frozen=True)
class FlowFilter:
    """Which records `query` returns: those seen within [since, until] (any flow of the record),
    of the identity's namespace/pod/Service, decided by `rule` (kind, namespace or "", name),
    with `action`, from `device`; at most `limit`, newest first."""

    since: datetime | None = None
    until: datetime | None = None
    namespace: str | None = None
    pod: str | None = None
    service: str | None = None
    rule: tuple[str, str, str] | None = None
    action: str | None = None
    device: str | None = None
    limit: int | None = None


def bucket_of(moment: datetime, bucket_seconds: int) -> datetime:
    """The start of `moment`'s bucket (UTC, aligned to the epoch)."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_seconds, UTC)


class FlowRecordRepository:
    """The flow records of one cluster over one session. Never commits."""

    def __init__(self, session: Session, cluster: str, *,
                 bucket_seconds: int = DEFAULT_BUCKET_SECONDS) -> None:
        if bucket_seconds < 1:
            raise ValueError("bucket_seconds must be at least 1")
        self.session = session
        self.cluster = cluster
        self.bucket_seconds = bucket_seconds

    def add(self, records: Sequence[FlowRecord]) -> None:
        """Store `records`, adding each to its bucket's identical record (see the module docstring):
        one statement for the whole batch."""
        rows: dict[str, dict[str, Any]] = {}
        memo = _Memo()
        for record in records:
            values = self._values(record, memo)
            found = rows.get(values["key"])
            if found is None:
                rows[values["key"]] = values
                continue
            found["count"] += values["count"]
            found["first_seen"] = min(found["first_seen"], values["first_seen"])
            found["last_seen"] = max(found["last_seen"], values["last_seen"])
            if found["src_port"] != values["src_port"]:
                found["src_port"] = None
        if not rows:
            return
        ensure_cluster(self.session, self.cluster)
        table = table_of(FlowRecordRow)
        statement = _dialect_insert(self.session, table)
        new = statement.excluded
        statement = statement.on_conflict_do_update(index_elements=["cluster", "key"], set_={
            "count": table.c.count + new.count,
            "first_seen": case((new.first_seen < table.c.first_seen, new.first_seen),
                               else_=table.c.first_seen),
            "last_seen": case((new.last_seen > table.c.last_seen, new.last_seen),
                              else_=table.c.last_seen),
            "src_port": case((table.c.src_port == new.src_port, table.c.src_port), else_=None),
        })
        # in key order: concurrent writers (several replicas) lock rows in one order, never deadlock
        self.session.execute(statement, [rows[key] for key in sorted(rows)])

    def query(self, where: FlowFilter) -> list[FlowRecord]:
        """The records matching `where`, most recently seen first."""
        row = FlowRecordRow
        conditions: list[ColumnElement[bool]] = [row.cluster == self.cluster]
        if where.since is not None:
            conditions.append(row.last_seen >= where.since)
        if where.until is not None:
            conditions.append(row.first_seen <= where.until)
        if where.namespace is not None:
            conditions.append(and_(row.attributed.is_(True), row.namespace == where.namespace))
        if where.pod is not None:
            conditions.append(and_(row.attributed.is_(True), row.pod == where.pod))
        if where.service is not None:
            conditions.append(row.services_text.like(f"%|{_escape(where.service)}|%", escape="\\"))
        if where.rule is not None:
            kind, namespace, name = where.rule
            conditions.append(and_(row.rule_kind == kind, row.rule_namespace == namespace,
                                   row.rule_name == name))
        if where.action is not None:
            conditions.append(row.action == where.action)
        if where.device is not None:
            conditions.append(row.device == where.device)
        statement = select(row).where(*conditions).order_by(row.last_seen.desc(), row.id.desc())
        if where.limit is not None:
            statement = statement.limit(max(0, where.limit))
        return [self._record(found) for found in self.session.scalars(statement)]

    def prune(self, before: datetime) -> int:
        """Delete records last seen before `before`; returns how many."""
        result = self.session.execute(delete(FlowRecordRow).where(
            FlowRecordRow.cluster == self.cluster, FlowRecordRow.last_seen < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def _values(self, record: FlowRecord, memo: _Memo) -> dict[str, Any]:
        line = record.line
        identity = record.identity
        rule = record.rule
        device_rule = line.device_rule if line.device_rule is not None else line.device_rule_id
        bucket = memo.bucket(line.time, self.bucket_seconds)
        identity_text, services = memo.identity(identity)
        candidates, candidates_text = memo.candidates(record.candidates)
        # the JSON of [bucket, device, action, src, dst, dstPort, protocol, identity, ambiguous,
        # candidates, rule, deviceRule] (sorted keys, no spaces), its parts remembered per batch
        key_text = "[" + ",".join((
            memo.text(rfc3339(bucket)), memo.text(line.device), memo.text(line.action), _dumps(line.src),
            _dumps(line.dst), _dumps(line.dst_port), memo.text(line.protocol), identity_text,
            "true" if record.ambiguous else "false", candidates_text, memo.rule(rule),
            memo.text(device_rule))) + "]"
        key = hashlib.sha256(key_text.encode()).hexdigest()
        return {
            "cluster": self.cluster, "key": key, "bucket": bucket, "device": line.device,
            "action": line.action, "src": line.src, "src_port": line.src_port, "dst": line.dst,
            "dst_port": line.dst_port, "protocol": line.protocol, "attributed": identity is not None,
            "namespace": identity.namespace if identity else "",
            "pod": identity.pod if identity else "", "pod_uid": identity.pod_uid if identity else "",
            "services": services, "services_text": "|" + "|".join(services) + "|" if services else "",
            "node": identity.node if identity else "",
            "source_mode": identity.source_mode if identity else "",
            "ambiguous": record.ambiguous, "candidates": candidates,
            "rule_kind": rule.kind if rule else None,
            "rule_namespace": rule.namespace if rule else None,
            "rule_name": rule.name if rule else None, "rule_tier": rule.tier if rule else None,
            "device_rule": device_rule, "count": line.count,
            "first_seen": line.time, "last_seen": line.time,
        }

    def _record(self, row: FlowRecordRow) -> FlowRecord:
        line = FlowLine(time=row.first_seen, device=row.device, action=row.action,  # type: ignore[arg-type]
                        src=row.src, dst=row.dst, protocol=row.protocol, src_port=row.src_port,
                        dst_port=row.dst_port, device_rule=row.device_rule, count=int(row.count))
        identity = FlowIdentity(cluster=self.cluster, namespace=row.namespace, pod=row.pod,
                                pod_uid=row.pod_uid, services=tuple(row.services or ()),
                                node=row.node, source_mode=row.source_mode) \
            if row.attributed else None
        rule = FlowRule(kind=row.rule_kind, namespace=row.rule_namespace or "",
                        name=row.rule_name or "", tier=row.rule_tier or "") \
            if row.rule_kind is not None else None
        return FlowRecord(line=line, identity=identity, rule=rule, ambiguous=row.ambiguous,
                          candidates=tuple(FlowIdentity.from_json(c) for c in row.candidates or ()))


def _dumps(value: Any) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"))`, quicker for a text or a number."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Memo:
    """What the records of one batch share (identities, rules, buckets, names), encoded once."""

    def __init__(self) -> None:
        self._texts: dict[Any, str] = {}
        self._identities: dict[FlowIdentity | None, tuple[str, list[str]]] = {}
        self._rules: dict[FlowRule | None, str] = {}
        self._candidates: dict[tuple[FlowIdentity, ...], tuple[list[dict[str, Any]], str]] = {}
        self._buckets: dict[int, datetime] = {}

    def text(self, value: Any) -> str:
        known = self._texts.get(value)
        if known is None:
            known = self._texts[value] = _dumps(value)
        return known

    def bucket(self, moment: datetime, bucket_seconds: int) -> datetime:
        epoch = int(moment.timestamp())
        start = epoch - epoch % bucket_seconds
        known = self._buckets.get(start)
        if known is None:
            known = self._buckets[start] = datetime.fromtimestamp(start, UTC)
        return known

    def identity(self, identity: FlowIdentity | None) -> tuple[str, list[str]]:
        known = self._identities.get(identity)
        if known is None:
            known = self._identities[identity] = (
                _dumps(identity.to_json() if identity else None),
                list(identity.services) if identity else [])
        return known

    def rule(self, rule: FlowRule | None) -> str:
        known = self._rules.get(rule)
        if known is None:
            known = self._rules[rule] = _dumps(rule.to_json() if rule else None)
        return known

    def candidates(self, candidates: tuple[FlowIdentity, ...]) -> tuple[list[dict[str, Any]], str]:
        known = self._candidates.get(candidates)
        if known is None:
            listed = [candidate.to_json() for candidate in candidates]
            known = self._candidates[candidates] = (listed, _dumps(listed))
        return known


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
