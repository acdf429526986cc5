"""The persistent store (SQLAlchemy 2, SQLite by default, PostgreSQL by URL).

Repositories own the queries and never commit: callers own transactions, e.g.

    engine = create_engine(config.database)
    migrate(config.database)                       # every command does this on start
    with session_factory(engine).begin() as session:
        store = Store(session, config.cluster)
        store.snapshot.replace_groups(groups)
        store.audit.append(plan, PlanResult.APPLIED, duration_seconds=0.4)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from connector.store.audit import AuditLog
from connector.store.clusters import ClusterRecord, clusters, record_cluster_seen
from connector.store.devices import DeviceObjectRepository, DeviceRepository, UnknownDeviceError
from connector.store.drift import DriftRepository, observations_from_plan
from connector.store.engine import create_engine, display_url, normalize_url, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.store.locks import LockTimeoutError, device_write_lock
from connector.store.records import (
    AppliedPlanRecord,
    DeviceStatus,
    DriftFinding,
    DriftObservation,
    DriftUpdate,
    FindingType,
    GroupChanges,
    NamespaceRecord,
    ObjectChanges,
    OwnedObject,
    PlanResult,
)
from connector.store.rule_map import DeviceRuleMap
from connector.store.rules import RuleRepository
from connector.store.schema import MigrationError, current_revision, head_revision, migrate
from connector.store.snapshot import SnapshotRepository
from connector.store.timeline import AddressTimeline, Attribution


class Store:
    """Every repository of one cluster over one session."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster
        self.snapshot = SnapshotRepository(session, cluster)
        self.rules = RuleRepository(session, cluster)
        self.devices = DeviceRepository(session, cluster)
        self.objects = DeviceObjectRepository(session, cluster)
        self.audit = AuditLog(session, cluster)
        self.drift = DriftRepository(session, cluster)
        self.timeline = AddressTimeline(session, cluster)
        self.rule_map = DeviceRuleMap(session, cluster)
        self.flows = FlowRecordRepository(session, cluster)


__all__ = [
    "AddressTimeline",
    "AppliedPlanRecord",
    "Attribution",
    "AuditLog",
    "ClusterRecord",
    "DeviceObjectRepository",
    "DeviceRepository",
    "DeviceRuleMap",
    "DeviceStatus",
    "DriftFinding",
    "DriftObservation",
    "DriftRepository",
    "DriftUpdate",
    "FindingType",
    "FlowFilter",
    "FlowRecordRepository",
    "GroupChanges",
    "LockTimeoutError",
    "MigrationError",
    "NamespaceRecord",
    "ObjectChanges",
    "OwnedObject",
    "PlanResult",
    "RuleRepository",
    "SnapshotRepository",
    "Store",
    "UnknownDeviceError",
    "clusters",
    "create_engine",
    "current_revision",
    "device_write_lock",
    "display_url",
    "head_revision",
    "migrate",
    "normalize_url",
    "observations_from_plan",
    "record_cluster_seen",
    "session_factory",
]
