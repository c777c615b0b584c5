"""The sandbox processor's own tables: the requests it received and what it booked per key.

Revision ID: sandbox_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sandbox_0001"
down_revision = None
branch_labels = ("sandbox",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_requests",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("requests", sa.Integer),
    )
    op.create_table(
        "sandbox_ledger",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text),
        sa.Column("object_id", sa.Text),
        sa.Column("error_code", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("created_at", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("sandbox_ledger")
    op.drop_table("sandbox_requests")
