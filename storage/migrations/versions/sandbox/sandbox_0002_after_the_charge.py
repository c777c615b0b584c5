"""The sandbox's refunds and voids, and how much of each charge is refunded already.

Revision ID: sandbox_0002
Revises: sandbox_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sandbox_0002"
down_revision = "sandbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_ledger") as batch:
        batch.add_column(sa.Column("token", sa.Text))
        batch.add_column(sa.Column("refunded_minor", sa.BigInteger, server_default="0"))
    op.create_index("idx_sandbox_ledger_object_id", "sandbox_ledger", ["object_id"])
    op.create_table(
        "sandbox_refunds",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("charge_id", sa.Text, nullable=False),
        sa.Column("refund_id", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("error_code", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("sandbox_refunds")
    op.drop_index("idx_sandbox_ledger_object_id", "sandbox_ledger")
    with op.batch_alter_table("sandbox_ledger") as batch:
        batch.drop_column("refunded_minor")
        batch.drop_column("token")
