"""The operators' dashboard: operator accounts, the audit log, and the indexes its pages read by.

Revision ID: dashboard_0001
Revises:
Create Date: 2026-12-01

Index names carry `dash_` so that they never collide with another branch's.
Every list page is keyset-paginated (never OFFSET) and searched by exact keys, so each search
column gets an index that ends with the sort key: a page is an index range, never a table scan.
(Invoice number, confirmation code and outcome are indexed by billing_0001.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dashboard_0001"
down_revision = None
branch_labels = ("dashboard",)
depends_on = "core_0001"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("action_key", sa.Text, nullable=False),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("payment_id", sa.BigInteger),
        sa.Column("invoice_number", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("idx_audit_log_action_key", "audit_log", ["action_key"], unique=True)
    op.create_index("idx_audit_log_payment", "audit_log", ["payment_id", "id"])
    op.create_index("idx_audit_log_invoice", "audit_log", ["invoice_number", "id"])
    for column in ("last4", "caller"):
        op.create_index(f"idx_dash_payments_{column}", "payments", [column, "id"])
    op.create_index("idx_dash_payments_method", "payments", ["payment_method", "id"])
    # payments (call_sid, id), payments.transaction_id and the ledger's (created_at,
    # transaction_id) are indexed by the `indexes` branch.
    op.create_index("idx_dash_invoices_customer", "invoices", [sa.text("lower(customer)")])
    op.create_index("idx_dash_invoices_status", "invoices", ["status", "number"])


def downgrade() -> None:
    for name, table in (
        ("idx_dash_invoices_status", "invoices"),
        ("idx_dash_invoices_customer", "invoices"),
        ("idx_dash_payments_method", "payments"),
    ):
        op.drop_index(name, table_name=table)
    for column in ("last4", "caller"):
        op.drop_index(f"idx_dash_payments_{column}", table_name="payments")
    op.drop_table("audit_log")
    op.drop_table("operators")
