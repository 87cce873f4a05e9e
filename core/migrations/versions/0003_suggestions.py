"""Suggestions: ranked, calibrated, span-grounded control mappings per classification run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("framework", sa.String(40), nullable=False),
        sa.Column("control_id", sa.String(40), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("raw_score", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("chunk_id", sa.String(64)),
        sa.Column("quote", sa.Text),
        sa.Column("char_start", sa.Integer),
        sa.Column("char_end", sa.Integer),
        sa.Column("page", sa.Integer),
        sa.Column("record_start", sa.Integer),
        sa.Column("line_start", sa.Integer),
        sa.Column("line_end", sa.Integer),
        sa.Column("crosswalk_path", sa.JSON),
        sa.Column("relationship", sa.String(20)),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("classifier_version", sa.String(200), nullable=False),
        sa.Column("embedder_id", sa.String(100), nullable=False),
        sa.Column("catalog_version", sa.String(40), nullable=False),
        sa.Column("config_hash", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_suggestions_document_run", "suggestions", ["document_id", "run_id"])
    op.create_index("ix_suggestions_tenant_framework", "suggestions", ["tenant_id", "framework", "control_id"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("classification_run_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("classification_run_id")
    op.drop_index("ix_suggestions_tenant_framework", table_name="suggestions")
    op.drop_index("ix_suggestions_document_run", table_name="suggestions")
    op.drop_table("suggestions")
