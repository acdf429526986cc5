"""The store's tables as SQLAlchemy 2 typed ORM classes.

The schema is created and changed only by the Alembic migrations in the `migrations` package;
`tests/connector/store` asserts that autogenerate finds no difference between these classes and
the migrations. Every row carries its `cluster`, so several connectors can share one database.
Timestamps are timezone-aware UTC (`UtcDateTime`); JSON columns use the portable `JSON` type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME = 253  # the longest Kubernetes object name
KEY = 512  # compiler keys and device object names
SHORT = 32


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive text).

    Naive datetimes are refused on write; values read back always carry `UTC`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps stored must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def _cluster_fk() -> Mapped[str]:
    return mapped_column(String(63), ForeignKey("clusters.name", ondelete="CASCADE"), nullable=False)


class ClusterRow(Base):
    """A Kubernetes cluster served by one connector."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class NamespaceRow(Base):
    """A namespace of the cluster with the settings its labels and annotations resolve to."""

    __tablename__ = "namespaces"
    __table_args__ = (UniqueConstraint("cluster", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    name: Mapped[str] = mapped_column(String(NAME))
    managed: Mapped[bool] = mapped_column(Boolean)
    source_mode: Mapped[str] = mapped_column(String(SHORT))
    default_action: Mapped[str] = mapped_column(String(SHORT))
    devices: Mapped[list[Any] | None]  # None = every device
    updated_at: Mapped[datetime]


class AddressGroupRow(Base):
    """A source group (`connector.model.SourceGroup`) of the cluster; members in `address_members`."""

    __tablename__ = "address_groups"
    __table_args__ = (
        UniqueConstraint("cluster", "key"),
        Index("ix_address_groups_cluster_namespace", "cluster", "namespace"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    key: Mapped[str] = mapped_column(String(KEY))
    purpose: Mapped[str] = mapped_column(String(SHORT))
    namespace: Mapped[str] = mapped_column(String(NAME))
    service: Mapped[str] = mapped_column(String(NAME))
    rule: Mapped[str] = mapped_column(String(NAME))
    member_count: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class AddressMemberRow(Base):
    """One address of a group and one Kubernetes object behind it (an address with several
    objects behind it has one row per object; one with none has empty identity columns)."""

    __tablename__ = "address_members"
    __table_args__ = (
        UniqueConstraint("group_id", "address", "identity_kind", "identity_namespace", "identity_name",
                         name="uq_address_members_group_address_identity"),
        Index("ix_address_members_cluster_address", "cluster", "address"),
        Index("ix_address_members_identity", "cluster", "identity_kind", "identity_namespace",
              "identity_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    group_id: Mapped[int] = mapped_column(ForeignKey("address_groups.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(64))
    identity_kind: Mapped[str] = mapped_column(String(SHORT))
    identity_namespace: Mapped[str] = mapped_column(String(NAME))
    identity_name: Mapped[str] = mapped_column(String(NAME))


class CompiledRuleRow(Base):
    """One entry of a device's compiled first-match list, at `position` (0 = evaluated first)."""

    __tablename__ = "compiled_rules"
    __table_args__ = (
        UniqueConstraint("cluster", "device", "key"),
        Index("ix_compiled_rules_device_position", "cluster", "device", "position"),
        Index("ix_compiled_rules_origin", "cluster", "origin_kind", "origin_namespace", "origin_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    device: Mapped[str] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(KEY))
    origin_kind: Mapped[str] = mapped_column(String(SHORT))
    origin_namespace: Mapped[str] = mapped_column(String(NAME))
    origin_name: Mapped[str] = mapped_column(String(NAME))
    tier: Mapped[str] = mapped_column(String(SHORT))
    priority: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(SHORT))
    source: Mapped[str] = mapped_column(String(KEY))
    destination: Mapped[str | None] = mapped_column(String(KEY))
    ports: Mapped[str | None] = mapped_column(String(KEY))
    logging: Mapped[bool] = mapped_column(Boolean)
    checksum: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class DeviceRow(Base):
    """A configured firewall and its sync status."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("cluster", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(SHORT))
    url: Mapped[str] = mapped_column(String(2048))
    last_read_at: Mapped[datetime | None]
    last_write_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]  # the last successful sync
    in_sync: Mapped[bool | None] = mapped_column(Boolean)  # None = not known yet
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class DeviceObjectRow(Base):
    """An object the connector created on a device (ownership record)."""

    __tablename__ = "device_objects"
    __table_args__ = (UniqueConstraint("cluster", "device", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    device: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(KEY))
    checksum: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(KEY))
    identities: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppliedPlanRow(Base):
    """The audit log: one row per plan applied (or refused) on a device."""

    __tablename__ = "applied_plans"
    __table_args__ = (
        Index("ix_applied_plans_cluster_applied_at", "cluster", "applied_at"),
        Index("ix_applied_plans_device_applied_at", "cluster", "device", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    device: Mapped[str] = mapped_column(String(63))
    applied_at: Mapped[datetime]
    plan_checksum: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[Any]]
    creates: Mapped[int] = mapped_column(Integer)
    updates: Mapped[int] = mapped_column(Integer)
    deletes: Mapped[int] = mapped_column(Integer)
    reorders: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(SHORT))
    error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float] = mapped_column(Float)
    triggers: Mapped[list[Any]]
    forced: Mapped[bool] = mapped_column(Boolean)


class DriftFindingRow(Base):
    """A difference between what a device must hold and what it holds; open while `resolved_at`
    is NULL (at most one open finding per device object and finding type)."""

    __tablename__ = "drift_findings"
    __table_args__ = (
        Index("ix_drift_findings_open", "cluster", "device", "kind", "name", "finding", unique=True,
              sqlite_where=text("resolved_at IS NULL"), postgresql_where=text("resolved_at IS NULL")),
        Index("ix_drift_findings_device_last_seen", "cluster", "device", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    device: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(KEY))
    finding: Mapped[str] = mapped_column(String(SHORT))  # missing | unexpected | different
    detail: Mapped[dict[str, Any]]
    identities: Mapped[list[Any]]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class AddressIntervalRow(Base):
    """While a source address belonged to one identity: [valid_from, valid_to), open while
    `valid_to` is NULL (at most one open interval per address). Intervals of one address never
    overlap, so the interval holding a moment is the latest starting at or before it."""

    __tablename__ = "address_intervals"
    __table_args__ = (
        Index("ix_address_intervals_lookup", "cluster", "address", "valid_from"),
        Index("ix_address_intervals_open", "cluster", "address", unique=True,
              sqlite_where=text("valid_to IS NULL"), postgresql_where=text("valid_to IS NULL")),
        Index("ix_address_intervals_address_valid_to", "cluster", "address", "valid_to"),
        Index("ix_address_intervals_valid_to", "cluster", "valid_to",  # retention: closed ones only
              sqlite_where=text("valid_to IS NOT NULL"), postgresql_where=text("valid_to IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    address: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(NAME))
    pod: Mapped[str] = mapped_column(String(NAME))
    pod_uid: Mapped[str] = mapped_column(String(64))
    services: Mapped[list[Any]]
    node: Mapped[str] = mapped_column(String(NAME))
    source_mode: Mapped[str] = mapped_column(String(SHORT))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]


class DeviceRuleRefRow(Base):
    """While a device's own rule (by name or id, `reference`) stood for one Kubernetes rule:
    [valid_from, valid_to), open while `valid_to` is NULL (at most one open row per reference)."""

    __tablename__ = "device_rule_refs"
    __table_args__ = (
        Index("ix_device_rule_refs_lookup", "cluster", "device", "reference", "valid_from"),
        Index("ix_device_rule_refs_open", "cluster", "device", "reference", unique=True,
              sqlite_where=text("valid_to IS NULL"), postgresql_where=text("valid_to IS NULL")),
        Index("ix_device_rule_refs_valid_to", "cluster", "valid_to",  # retention: closed ones only
              sqlite_where=text("valid_to IS NOT NULL"), postgresql_where=text("valid_to IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    device: Mapped[str] = mapped_column(String(63))
    reference: Mapped[str] = mapped_column(String(KEY))
    rule_kind: Mapped[str] = mapped_column(String(SHORT))
    rule_namespace: Mapped[str] = mapped_column(String(NAME))
    rule_name: Mapped[str] = mapped_column(String(NAME))
    rule_tier: Mapped[str] = mapped_column(String(SHORT))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]


class FlowRecordRow(Base):
    """Attributed flows aggregated per time bucket: identical records of one bucket (the same
    `key`, a digest of every field but the source port and the count) add to `count`."""

    __tablename__ = "flow_records"
    __table_args__ = (
        UniqueConstraint("cluster", "key"),
        Index("ix_flow_records_cluster_last_seen", "cluster", "last_seen"),
        Index("ix_flow_records_namespace_last_seen", "cluster", "namespace", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = _cluster_fk()
    key: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[datetime]
    device: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(SHORT))
    src: Mapped[str] = mapped_column(String(64))
    src_port: Mapped[int | None] = mapped_column(Integer)
    dst: Mapped[str] = mapped_column(String(64))
    dst_port: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(SHORT))
    attributed: Mapped[bool] = mapped_column(Boolean)
    namespace: Mapped[str] = mapped_column(String(NAME))
    pod: Mapped[str] = mapped_column(String(NAME))
    pod_uid: Mapped[str] = mapped_column(String(64))
    services: Mapped[list[Any]]
    services_text: Mapped[str] = mapped_column(Text)  # "|a|b|": the Service filter's LIKE
    node: Mapped[str] = mapped_column(String(NAME))
    source_mode: Mapped[str] = mapped_column(String(SHORT))
    ambiguous: Mapped[bool] = mapped_column(Boolean)
    candidates: Mapped[list[Any]]
    rule_kind: Mapped[str | None] = mapped_column(String(SHORT))
    rule_namespace: Mapped[str | None] = mapped_column(String(NAME))
    rule_name: Mapped[str | None] = mapped_column(String(NAME))
    rule_tier: Mapped[str | None] = mapped_column(String(SHORT))
    device_rule: Mapped[str | None] = mapped_column(String(KEY))
    count: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
