"""The overview's money window: payments and refunds read by time, covering what is summed.

Revision ID: dashboard_0002
Revises: dashboard_0001
Create Date: 2026-12-01

Depends on billing's columns (payments.outcome) and table (refunds). The overview groups one
window of days by (currency, outcome, amount): with these indexes that is an index range read,
never a visit to a million table rows.
"""

from __future__ import annotations

from alembic import op

revision = "dashboard_0002"
down_revision = "dashboard_0001"
branch_labels = None
depends_on = "billing_0001"


def upgrade() -> None:
    op.create_index(
        "idx_dash_payments_received",
        "payments",
        ["received_at", "outcome", "currency", "amount"],
    )
    op.create_index(
        "idx_dash_refunds_created", "refunds", ["created_at", "status", "currency", "amount"]
    )


def downgrade() -> None:
    op.drop_index("idx_dash_refunds_created", table_name="refunds")
    op.drop_index("idx_dash_payments_received", table_name="payments")
