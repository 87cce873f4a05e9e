"""The job row is the outbox: `published_at` is set when a worker's dispatcher hands the job to the broker.

A job committed with `published_at` NULL is waiting to be published (worker/outbox.py); the partial index keeps
the dispatcher's poll cheap however many jobs the table holds. Rows from before this revision count as published,
except the queued ones that no worker has leased yet: their message may never have left an API process that
died, and a second message for a job is harmless (only the lease holder runs it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNPUBLISHED = sa.text("published_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as b:
        b.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE jobs SET published_at = created_at WHERE NOT (state = 'queued' AND lease_expires_at IS NULL)")
    op.create_index("ix_jobs_unpublished", "jobs", ["created_at"], sqlite_where=UNPUBLISHED,
                    postgresql_where=UNPUBLISHED)


def downgrade() -> None:
    op.drop_index("ix_jobs_unpublished", table_name="jobs")
    with op.batch_alter_table("jobs") as b:
        b.drop_column("published_at")
