"""Review workflow: API keys, the decisions ledger (insert-only, enforced by triggers), uploader on documents,
LLM verdict columns on suggestions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
]
PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION clausewise_decisions_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'decisions are append-only' USING ERRCODE = 'insufficient_privilege'; END; "
    "$$ LANGUAGE plpgsql",
    "CREATE TRIGGER decisions_no_update BEFORE UPDATE OR DELETE ON decisions "
    "FOR EACH ROW EXECUTE FUNCTION clausewise_decisions_append_only()",
    "CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions "
    "FOR EACH STATEMENT EXECUTE FUNCTION clausewise_decisions_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("suggestion_id", sa.String(36), sa.ForeignKey("suggestions.id"), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("framework", sa.String(40), nullable=False),
        sa.Column("control_id", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(40)),
        sa.Column("comment", sa.Text),
        sa.Column("actor_key_id", sa.String(36)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("supersedes_id", sa.String(36)),
        sa.Column("quote_sha256", sa.String(64)),
        sa.Column("classifier_version", sa.String(200), nullable=False),
        sa.Column("catalog_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_decisions_tenant_seq"),
        sa.UniqueConstraint("tenant_id", "prev_hash", name="uq_decisions_tenant_prev"),
    )
    op.create_index("ix_decisions_suggestion", "decisions", ["suggestion_id", "seq"])
    for stmt in PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)
    with op.batch_alter_table("documents") as b:
        b.add_column(sa.Column("uploaded_by", sa.String(36)))
    with op.batch_alter_table("suggestions") as b:
        b.add_column(sa.Column("llm_verdict", sa.String(20)))
        b.add_column(sa.Column("llm_rationale", sa.Text))
        b.add_column(sa.Column("llm_model", sa.String(200)))
        b.add_column(sa.Column("prompt_version", sa.String(20)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_no_truncate ON decisions")
        op.execute("DROP TRIGGER IF EXISTS decisions_no_update ON decisions")
        op.execute("DROP FUNCTION IF EXISTS clausewise_decisions_append_only()")
    op.drop_index("ix_decisions_suggestion", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_api_keys_tenant_id", table_name="api_keys")
    op.drop_table("api_keys")
    with op.batch_alter_table("suggestions") as b:
        for c in ("prompt_version", "llm_model", "llm_rationale", "llm_verdict"):
            b.drop_column(c)
    with op.batch_alter_table("documents") as b:
        b.drop_column("uploaded_by")
