"""Indexes for every query the app and the dashboard run, so that latency holds at a million rows.

Revision ID: indexes_0001
Revises:
Create Date: 2026-12-01

The primary keys already serve the per-request lookups (a ledger row by transaction_id, an
invoice by number, the sandbox's rows by key, the newest payments by id). These serve the rest:
a call's payments, an invoice's payments, a transaction's payment, the ledger in time order.
"""

from __future__ import annotations

from alembic import op

revision = "indexes_0001"
down_revision = None
branch_labels = ("indexes",)
depends_on = "core_0001"

INDEXES = {
    "idx_payments_call_sid": ("payments", ["call_sid", "id"]),
    "idx_payments_invoice_number": ("payments", ["invoice_number"]),
    "idx_payments_transaction_id": ("payments", ["transaction_id"]),
    "idx_connector_transactions_created_at": (
        "connector_transactions",
        ["created_at", "transaction_id"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
