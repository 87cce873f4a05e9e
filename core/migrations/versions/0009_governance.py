"""Governance ledger: applicability, owners, review intervals and corrective actions as hash-chained events
(insert-only, enforced by triggers like the decisions ledger).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER governance_events_no_update BEFORE UPDATE ON governance_events "
    "BEGIN SELECT RAISE(ABORT, 'governance events are append-only'); END",
    "CREATE TRIGGER governance_events_no_delete BEFORE DELETE ON governance_events "
    "BEGIN SELECT RAISE(ABORT, 'governance events are append-only'); END",
]
PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION clausewise_governance_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'governance events are append-only' USING ERRCODE = 'insufficient_privilege'; END; "
    "$$ LANGUAGE plpgsql",
    "CREATE TRIGGER governance_events_no_update BEFORE UPDATE OR DELETE ON governance_events "
    "FOR EACH ROW EXECUTE FUNCTION clausewise_governance_append_only()",
    "CREATE TRIGGER governance_events_no_truncate BEFORE TRUNCATE ON governance_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION clausewise_governance_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "governance_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(120), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("actor_key_id", sa.String(36)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_governance_tenant_seq"),
        sa.UniqueConstraint("tenant_id", "prev_hash", name="uq_governance_tenant_prev"),
    )
    op.create_index("ix_governance_entity", "governance_events", ["tenant_id", "entity_type", "entity_id", "seq"])
    for stmt in PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS governance_events_no_truncate ON governance_events")
        op.execute("DROP TRIGGER IF EXISTS governance_events_no_update ON governance_events")
        op.execute("DROP FUNCTION IF EXISTS clausewise_governance_append_only()")
    op.drop_index("ix_governance_entity", table_name="governance_events")
    op.drop_table("governance_events")
