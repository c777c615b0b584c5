"""PayLine's core schema as of the first release: ledger, payments, progress events, invoices.

Revision ID: core_0001
Revises:
Create Date: 2026-12-01

Databases created by the earlier sqlite-utils migrations (m001-m004) hold exactly this schema;
`storage.schema.migrate` stamps them at this revision instead of creating it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0001"
down_revision = None
branch_labels = ("core",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid
EPOCH = sa.Float(precision=53)  # seconds on the database's clock


def upgrade() -> None:
    op.create_table(
        "connector_transactions",
        sa.Column("transaction_id", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("lease_expires_at", EPOCH),
        sa.Column("claims", sa.Integer, server_default="1"),
        sa.Column("processor_calls", sa.Integer, server_default="0"),
        sa.Column("response", sa.Text),
        sa.Column("response_id", sa.Text),
        sa.Column("error_code", sa.Text),
        sa.Column("payment_method", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("card_brand", sa.Text),
        sa.Column("last4", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("callback_key", sa.Text, nullable=False),
        sa.Column("call_sid", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("transaction_id", sa.Text),
        sa.Column("payment_method", sa.Text),
        sa.Column("amount", sa.Text),
        sa.Column("currency", sa.Text),
        sa.Column("card_type", sa.Text),
        sa.Column("last4", sa.Text),
        sa.Column("expiration_date", sa.Text),
        sa.Column("confirmation_code", sa.Text),
        sa.Column("payment_token", sa.Text),
        sa.Column("connector_error", sa.Text),
        sa.Column("payment_error", sa.Text),
        sa.Column("pay_error_code", sa.Text),
        sa.Column("connector_parameters", sa.Text),
        sa.Column("invoice_number", sa.Text),
        sa.Column("caller", sa.Text),
        sa.Column("received_at", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("idx_payments_callback_key", "payments", ["callback_key"], unique=True)
    op.create_table(
        "pay_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.Text),
        sa.Column("step", sa.Text),
        sa.Column("attempt", sa.Text),
        sa.Column("error_type", sa.Text),
        sa.Column("payment_method", sa.Text),
        sa.Column("last4", sa.Text),
        sa.Column("received_at", sa.Text),
    )
    op.create_index("idx_pay_events_call_sid", "pay_events", ["call_sid"])
    op.create_table(
        "invoices",
        sa.Column("number", sa.Text, primary_key=True),
        sa.Column("customer", sa.Text),
        sa.Column("amount", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("payment_id", sa.BigInteger),
        sa.Column("confirmation", sa.Text),
        sa.Column("paid_at", sa.Text),
        sa.Column("card_token", sa.Text),
        sa.Column("card_brand", sa.Text),
        sa.Column("card_last4", sa.Text),
        sa.Column("card_saved_at", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("paying_call", sa.Text),
        sa.Column("paying_until", EPOCH),
        sa.Column("hold_reason", sa.Text),
    )


def downgrade() -> None:
    for table in ("invoices", "pay_events", "payments", "connector_transactions"):
        op.drop_table(table)
