"""The settlement core's records: typed outcomes, refunds, notes, ACH authorisations.

Revision ID: billing_0001
Revises:
Create Date: 2026-12-01

Also names, on each connector transaction, the invoice and the call its <Parameter>s carried
(written when the connector decides, before the processor is asked), so that an action callback
can be checked against what the connector actually charged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0001"
down_revision = None
branch_labels = ("billing",)
depends_on = "core_0001"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("outcome", sa.Text))
        batch.add_column(sa.Column("review_reason", sa.Text))
        batch.add_column(sa.Column("refunded_amount", sa.Text))
        batch.add_column(sa.Column("channel", sa.Text))
        batch.add_column(sa.Column("updated_at", sa.Text))
    op.create_index("idx_payments_confirmation_code", "payments", ["confirmation_code"])
    op.create_index("idx_payments_outcome", "payments", ["outcome"])
    op.create_index("idx_payments_invoice_number", "payments", ["invoice_number"])
    with op.batch_alter_table("connector_transactions") as batch:
        batch.add_column(sa.Column("invoice_number", sa.Text))
        batch.add_column(sa.Column("call_sid", sa.Text))
    op.create_index(
        "idx_connector_transactions_invoice", "connector_transactions", ["invoice_number"]
    )
    op.create_index(
        "idx_connector_transactions_response_id", "connector_transactions", ["response_id"]
    )
    op.create_table(
        "refunds",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("operator", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("processor_refund_id", sa.Text),
        sa.Column("error_code", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text),
    )
    op.create_index("idx_refunds_idempotency_key", "refunds", ["idempotency_key"], unique=True)
    op.create_index("idx_refunds_payment_id", "refunds", ["payment_id"])
    op.create_table(
        "payment_notes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("operator", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("idx_payment_notes_payment_id", "payment_notes", ["payment_id"])
    op.create_table(
        "ach_authorizations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.Text, nullable=False),
        sa.Column("invoice_number", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("statement_version", sa.Text, nullable=False),
        sa.Column("caller", sa.Text),
        sa.Column("agreed_at", sa.Text, nullable=False),
        sa.Column("payment_id", sa.BigInteger),
    )
    op.create_index(
        "idx_ach_authorizations_attempt",
        "ach_authorizations",
        ["call_sid", "invoice_number", "attempt"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("ach_authorizations")
    op.drop_table("payment_notes")
    op.drop_table("refunds")
    op.drop_index("idx_connector_transactions_response_id", "connector_transactions")
    op.drop_index("idx_connector_transactions_invoice", "connector_transactions")
    with op.batch_alter_table("connector_transactions") as batch:
        batch.drop_column("call_sid")
        batch.drop_column("invoice_number")
    for name in ("invoice_number", "outcome", "confirmation_code"):
        op.drop_index(f"idx_payments_{name}", "payments")
    with op.batch_alter_table("payments") as batch:
        for column in ("updated_at", "channel", "refunded_amount", "review_reason", "outcome"):
            batch.drop_column(column)
