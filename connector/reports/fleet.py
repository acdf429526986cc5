"""The fleet report (`fusion-connector report --all-clusters`; docs/multi-cluster.md): every
cluster sharing the store, with each of its devices' sync status, open drift findings and the
number of objects it owns there. Reads the store only (no cluster, no device is contacted).

JSON: `{"generatedAt", "clusters": [{"name", "createdAt", "lastSeenAt", "devices": [{"name",
"type", "url", "inSync", "lastSyncAt", "lastWriteAt", "lastError", "openFindings",
"ownedObjects"}]}]}`, clusters and devices by name. CSV: one row per cluster and device (a cluster
without devices has one row with empty device columns).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.model import iso
from connector.store.bulk import utcnow
from connector.store.clusters import clusters
from connector.store.devices import DeviceRepository
from connector.store.models import DeviceObjectRow, DriftFindingRow

CSV_FIELDS = ("cluster", "lastSeenAt", "device", "type", "url", "inSync", "lastSyncAt", "lastWriteAt",
              "lastError", "openFindings", "ownedObjects")


@dataclass(frozen=True)
class FleetDevice:
    name: str
    type: str
    url: str
    in_sync: bool | None
    last_sync_at: datetime | None
    last_write_at: datetime | None
    last_error: str | None
    open_findings: int
    owned_objects: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "url": self.url, "inSync": self.in_sync,
                "lastSyncAt": iso(self.last_sync_at), "lastWriteAt": iso(self.last_write_at),
                "lastError": self.last_error, "openFindings": self.open_findings,
                "ownedObjects": self.owned_objects}


@dataclass(frozen=True)
class FleetCluster:
    name: str
    created_at: datetime
    last_seen_at: datetime
    devices: tuple[FleetDevice, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "createdAt": iso(self.created_at), "lastSeenAt": iso(self.last_seen_at),
                "devices": [d.to_json() for d in self.devices]}


@dataclass(frozen=True)
class FleetReport:
    generated_at: datetime
    clusters: tuple[FleetCluster, ...]

    def to_json(self) -> dict[str, Any]:
        return {"generatedAt": iso(self.generated_at), "clusters": [c.to_json() for c in self.clusters]}


def _counts(session: Session, column: Any, *where: Any) -> Counter[tuple[str, str]]:
    table = column.class_
    rows = session.execute(select(table.cluster, column, func.count()).where(*where)
                           .group_by(table.cluster, column))
    return Counter({(cluster, device): count for cluster, device, count in rows})


def build_fleet_report(session: Session, now: datetime | None = None) -> FleetReport:
    """Every cluster of the store and its devices (three grouped queries plus one per cluster)."""
    findings = _counts(session, DriftFindingRow.device, DriftFindingRow.resolved_at.is_(None))
    owned = _counts(session, DeviceObjectRow.device)
    out = []
    for record in clusters(session):
        devices = tuple(
            FleetDevice(s.name, s.type, s.url, s.in_sync, s.last_sync_at, s.last_write_at, s.last_error,
                        findings[(record.name, s.name)], owned[(record.name, s.name)])
            for s in DeviceRepository(session, record.name).statuses())
        out.append(FleetCluster(record.name, record.created_at, record.last_seen_at, devices))
    return FleetReport(now or utcnow(), tuple(out))


def render_fleet(report: FleetReport, fmt: str) -> bytes:
    """`report` as `json` or `csv` (ValueError for another format)."""
    if fmt == "json":
        return (json.dumps(report.to_json(), indent=2) + "\n").encode()
    if fmt != "csv":
        raise ValueError(f"the fleet report is written as json or csv, not {fmt}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for cluster in report.clusters:
        rows: Sequence[dict[str, Any]] = [d.to_json() for d in cluster.devices] or [{}]
        for device in rows:
            writer.writerow({"cluster": cluster.name, "lastSeenAt": iso(cluster.last_seen_at),
                             "device": device.get("name", ""),
                             **{k: "" if device.get(k) is None else device[k] for k in CSV_FIELDS[3:]}})
    return buffer.getvalue().encode()
