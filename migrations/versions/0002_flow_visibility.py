"""Flow visibility: the address timeline (which identity held a source address when), the
device-rule map over time (which Kubernetes rule a device's own rule stood for when) and the
attributed flow records, aggregated per time bucket.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 16:21:24.533909
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "address_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("pod", sa.String(length=253), nullable=False),
        sa.Column("pod_uid", sa.String(length=64), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("node", sa.String(length=253), nullable=False),
        sa.Column("source_mode", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_address_intervals_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_intervals")),
    )
    with op.batch_alter_table("address_intervals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_address_intervals_lookup", ["cluster", "address", "valid_from"], unique=False
        )
        batch_op.create_index(
            "ix_address_intervals_open",
            ["cluster", "address"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.create_index(
            "ix_address_intervals_address_valid_to", ["cluster", "address", "valid_to"], unique=False
        )
        batch_op.create_index(
            "ix_address_intervals_valid_to",
            ["cluster", "valid_to"],
            unique=False,
            sqlite_where=sa.text("valid_to IS NOT NULL"),
            postgresql_where=sa.text("valid_to IS NOT NULL"),
        )

    op.create_table(
        "device_rule_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("reference", sa.String(length=512), nullable=False),
        sa.Column("rule_kind", sa.String(length=32), nullable=False),
        sa.Column("rule_namespace", sa.String(length=253), nullable=False),
        sa.Column("rule_name", sa.String(length=253), nullable=False),
        sa.Column("rule_tier", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster"],
            ["clusters.name"],
            name=op.f("fk_device_rule_refs_cluster_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_rule_refs")),
    )
    with op.batch_alter_table("device_rule_refs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_rule_refs_lookup", ["cluster", "device", "reference", "valid_from"], unique=False
        )
        batch_op.create_index(
            "ix_device_rule_refs_open",
            ["cluster", "device", "reference"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.create_index(
            "ix_device_rule_refs_valid_to",
            ["cluster", "valid_to"],
            unique=False,
            sqlite_where=sa.text("valid_to IS NOT NULL"),
            postgresql_where=sa.text("valid_to IS NOT NULL"),
        )

    op.create_table(
        "flow_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("src", sa.String(length=64), nullable=False),
        sa.Column("src_port", sa.Integer(), nullable=True),
        sa.Column("dst", sa.String(length=64), nullable=False),
        sa.Column("dst_port", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("attributed", sa.Boolean(), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("pod", sa.String(length=253), nullable=False),
        sa.Column("pod_uid", sa.String(length=64), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("services_text", sa.Text(), nullable=False),
        sa.Column("node", sa.String(length=253), nullable=False),
        sa.Column("source_mode", sa.String(length=32), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("rule_kind", sa.String(length=32), nullable=True),
        sa.Column("rule_namespace", sa.String(length=253), nullable=True),
        sa.Column("rule_name", sa.String(length=253), nullable=True),
        sa.Column("rule_tier", sa.String(length=32), nullable=True),
        sa.Column("device_rule", sa.String(length=512), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster"], ["clusters.name"], name=op.f("fk_flow_records_cluster_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_records")),
        sa.UniqueConstraint("cluster", "key", name=op.f("uq_flow_records_cluster_key")),
    )
    with op.batch_alter_table("flow_records", schema=None) as batch_op:
        batch_op.create_index("ix_flow_records_cluster_last_seen", ["cluster", "last_seen"], unique=False)
        batch_op.create_index(
            "ix_flow_records_namespace_last_seen", ["cluster", "namespace", "last_seen"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_records", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_records_namespace_last_seen")
        batch_op.drop_index("ix_flow_records_cluster_last_seen")

    op.drop_table("flow_records")
    with op.batch_alter_table("device_rule_refs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_device_rule_refs_valid_to",
            sqlite_where=sa.text("valid_to IS NOT NULL"),
            postgresql_where=sa.text("valid_to IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_device_rule_refs_open",
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.drop_index("ix_device_rule_refs_lookup")

    op.drop_table("device_rule_refs")
    with op.batch_alter_table("address_intervals", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_address_intervals_valid_to",
            sqlite_where=sa.text("valid_to IS NOT NULL"),
            postgresql_where=sa.text("valid_to IS NOT NULL"),
        )
        batch_op.drop_index("ix_address_intervals_address_valid_to")
        batch_op.drop_index(
            "ix_address_intervals_open",
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.drop_index("ix_address_intervals_lookup")

    op.drop_table("address_intervals")
