"""The Authorize.Net adapter's own table: one attempt per idempotency key, written before sending.

It holds what the safe retry needs (the per-attempt invoice number, the amount, the last four,
the request's template with placeholders where card and account numbers go, an HMAC of the
request as sent) and never a card or account number.

Revision ID: authorize_net_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authorize_net_0001"
down_revision = None
branch_labels = ("authorize_net",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorize_net_attempts",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("invoice_number", sa.Text),
        sa.Column("ref_id", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("last4", sa.Text),
        sa.Column("reference", sa.Text),
        sa.Column("template", sa.Text),
        sa.Column("digest", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text),
        sa.Column("sends", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcome", sa.Text),
        sa.Column("gateway_id", sa.Text),
    )
    op.create_index("authorize_net_attempts_invoice", "authorize_net_attempts", ["invoice_number"])


def downgrade() -> None:
    op.drop_index("authorize_net_attempts_invoice", "authorize_net_attempts")
    op.drop_table("authorize_net_attempts")
