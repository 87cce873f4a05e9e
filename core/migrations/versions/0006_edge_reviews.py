"""Crosswalk edge reviews per tenant (admin catalog edits: accept, dispute or reject a shipped edge).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edge_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("from_framework", sa.String(40), nullable=False),
        sa.Column("from_id", sa.String(40), nullable=False),
        sa.Column("to_framework", sa.String(40), nullable=False),
        sa.Column("to_id", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("catalog_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_edge_reviews_tenant_edge", "edge_reviews",
                    ["tenant_id", "from_framework", "from_id", "to_framework", "to_id"])


def downgrade() -> None:
    op.drop_index("ix_edge_reviews_tenant_edge", table_name="edge_reviews")
    op.drop_table("edge_reviews")
