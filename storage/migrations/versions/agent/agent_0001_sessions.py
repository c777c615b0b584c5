"""Agent assist: Payments API sessions keyed by Payment SID, one idempotency key per API call,
and every status callback Twilio posted.

Revision ID: agent_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agent_0001"
down_revision = None
branch_labels = ("agent",)
depends_on = "core_0001"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_operations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("call_sid", sa.Text, nullable=False),
        sa.Column("payment_sid", sa.Text),
        sa.Column("agent", sa.Text),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_code", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_index(
        "idx_agent_operations_key", "agent_operations", ["idempotency_key"], unique=True
    )
    op.create_index("idx_agent_operations_call", "agent_operations", ["call_sid"])
    op.create_table(
        "agent_sessions",
        sa.Column("payment_sid", sa.Text, primary_key=True),
        sa.Column("call_sid", sa.Text, nullable=False),
        sa.Column("agent", sa.Text),
        sa.Column("invoice_number", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("payment_method", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("requested_capture", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("confirmation_code", sa.Text),
        sa.Column("payment_token", sa.Text),
        sa.Column("connector_error", sa.Text),
        sa.Column("payment_error", sa.Text),
        sa.Column("pay_error_code", sa.Text),
        sa.Column("payment_id", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_index("idx_agent_sessions_call", "agent_sessions", ["call_sid"])
    op.create_table(
        "agent_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payment_sid", sa.Text, nullable=False),
        sa.Column("call_sid", sa.Text),
        sa.Column("capture", sa.Text),
        sa.Column("partial_result", sa.Text),
        sa.Column("required", sa.Text),
        sa.Column("error_type", sa.Text),
        sa.Column("card_number", sa.Text),
        sa.Column("card_type", sa.Text),
        sa.Column("expiration_date", sa.Text),
        sa.Column("postal_code", sa.Text),
        sa.Column("security_code", sa.Text),
        sa.Column("routing_number", sa.Text),
        sa.Column("account_number", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("received_at", sa.Text, nullable=False),
    )
    op.create_index("idx_agent_events_payment", "agent_events", ["payment_sid"])


def downgrade() -> None:
    for table in ("agent_events", "agent_sessions", "agent_operations"):
        op.drop_table(table)
