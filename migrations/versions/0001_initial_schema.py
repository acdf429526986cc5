"""Initial schema: clusters, namespaces, address groups and members, compiled rules, devices,
device objects, the applied-plan audit log and drift findings.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:29:05.504723
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
        sa.UniqueConstraint("name", name=op.f("uq_clusters_name")),
    )
    op.create_table(
        "address_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("service", sa.String(length=253), nullable=False),
        sa.Column("rule", sa.String(length=253), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_address_groups_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_groups")),
        sa.UniqueConstraint("cluster", "key", name=op.f("uq_address_groups_cluster_key")),
    )
    with op.batch_alter_table("address_groups", schema=None) as batch_op:
        batch_op.create_index("ix_address_groups_cluster_namespace", ["cluster", "namespace"], unique=False)

    op.create_table(
        "applied_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan_checksum", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("creates", sa.Integer(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("deletes", sa.Integer(), nullable=False),
        sa.Column("reorders", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"], ["clusters.name"], name=op.f("fk_applied_plans_cluster_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applied_plans")),
    )
    with op.batch_alter_table("applied_plans", schema=None) as batch_op:
        batch_op.create_index("ix_applied_plans_cluster_applied_at", ["cluster", "applied_at"], unique=False)
        batch_op.create_index(
            "ix_applied_plans_device_applied_at", ["cluster", "device", "applied_at"], unique=False
        )

    op.create_table(
        "compiled_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("origin_kind", sa.String(length=32), nullable=False),
        sa.Column("origin_namespace", sa.String(length=253), nullable=False),
        sa.Column("origin_name", sa.String(length=253), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("destination", sa.String(length=512), nullable=True),
        sa.Column("ports", sa.String(length=512), nullable=True),
        sa.Column("logging", sa.Boolean(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_compiled_rules_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compiled_rules")),
        sa.UniqueConstraint("cluster", "device", "key", name=op.f("uq_compiled_rules_cluster_device_key")),
    )
    with op.batch_alter_table("compiled_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_compiled_rules_device_position", ["cluster", "device", "position"], unique=False
        )
        batch_op.create_index(
            "ix_compiled_rules_origin",
            ["cluster", "origin_kind", "origin_namespace", "origin_name"],
            unique=False,
        )

    op.create_table(
        "device_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=512), nullable=True),
        sa.Column("identities", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_device_objects_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_objects")),
        sa.UniqueConstraint(
            "cluster", "device", "kind", "name", name=op.f("uq_device_objects_cluster_device_kind_name")
        ),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_write_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_sync", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"], ["clusters.name"], name=op.f("fk_devices_cluster_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("cluster", "name", name=op.f("uq_devices_cluster_name")),
    )
    op.create_table(
        "drift_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("finding", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("identities", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_drift_findings_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_findings")),
    )
    with op.batch_alter_table("drift_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drift_findings_device_last_seen", ["cluster", "device", "last_seen"], unique=False
        )
        batch_op.create_index(
            "ix_drift_findings_open",
            ["cluster", "device", "kind", "name", "finding"],
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        )

    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("source_mode", sa.String(length=32), nullable=False),
        sa.Column("default_action", sa.String(length=32), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"], ["clusters.name"], name=op.f("fk_namespaces_cluster_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("cluster", "name", name=op.f("uq_namespaces_cluster_name")),
    )
    op.create_table(
        "address_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("identity_kind", sa.String(length=32), nullable=False),
        sa.Column("identity_namespace", sa.String(length=253), nullable=False),
        sa.Column("identity_name", sa.String(length=253), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_address_members_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["address_groups.id"],
            name=op.f("fk_address_members_group_id_address_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_members")),
        sa.UniqueConstraint(
            "group_id",
            "address",
            "identity_kind",
            "identity_namespace",
            "identity_name",
            name="uq_address_members_group_address_identity",
        ),
    )
    with op.batch_alter_table("address_members", schema=None) as batch_op:
        batch_op.create_index("ix_address_members_cluster_address", ["cluster", "address"], unique=False)
        batch_op.create_index(
            "ix_address_members_identity",
            ["cluster", "identity_kind", "identity_namespace", "identity_name"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("address_members", schema=None) as batch_op:
        batch_op.drop_index("ix_address_members_identity")
        batch_op.drop_index("ix_address_members_cluster_address")

    op.drop_table("address_members")
    op.drop_table("namespaces")
    with op.batch_alter_table("drift_findings", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_drift_findings_open",
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        )
        batch_op.drop_index("ix_drift_findings_device_last_seen")

    op.drop_table("drift_findings")
    op.drop_table("devices")
    op.drop_table("device_objects")
    with op.batch_alter_table("compiled_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_compiled_rules_origin")
        batch_op.drop_index("ix_compiled_rules_device_position")

    op.drop_table("compiled_rules")
    with op.batch_alter_table("applied_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_applied_plans_device_applied_at")
        batch_op.drop_index("ix_applied_plans_cluster_applied_at")

    op.drop_table("applied_plans")
    with op.batch_alter_table("address_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_address_groups_cluster_namespace")

    op.drop_table("address_groups")
    op.drop_table("clusters")
