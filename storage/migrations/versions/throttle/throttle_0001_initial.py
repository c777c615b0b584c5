"""Failed logins per surface and client address, for throttling across workers and instances.

Revision ID: throttle_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "throttle_0001"
down_revision = None
branch_labels = ("throttle",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("client", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
