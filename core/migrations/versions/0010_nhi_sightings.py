"""NHI sightings: the machine identities each document's records show (ingest/nhi), merged into the inventory
when read.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nhi_sightings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("identity", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("action", sa.String(500)),
        sa.Column("credential_event", sa.String(40)),
        sa.Column("credential", sa.String(300)),
        sa.Column("owner", sa.String(300)),
        sa.Column("workload", sa.String(500)),
        sa.Column("source", sa.String(500)),
        sa.Column("privileged", sa.Boolean, nullable=False),
        sa.Column("human_use", sa.Boolean, nullable=False),
        sa.Column("human", sa.String(300)),
        sa.Column("actor", sa.Boolean, nullable=False),
        sa.Column("record_index", sa.Integer),
        sa.Column("line_start", sa.Integer),
        sa.Column("line_end", sa.Integer),
    )
    op.create_index("ix_nhi_sightings_tenant_identity", "nhi_sightings", ["tenant_id", "identity"])
    op.create_index("ix_nhi_sightings_document", "nhi_sightings", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_nhi_sightings_document", table_name="nhi_sightings")
    op.drop_index("ix_nhi_sightings_tenant_identity", table_name="nhi_sightings")
    op.drop_table("nhi_sightings")
