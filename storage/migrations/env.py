"""Alembic's environment for PayLine: one set of migrations for SQLite and PostgreSQL.

Run by `storage.schema.migrate` (`flask --app app init-db`, the Procfile's release step), which
passes an open SQLAlchemy connection. On PostgreSQL an advisory lock makes two instances that
start at once apply the migrations one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

MIGRATION_LOCK = 7_242_001  # pg_advisory_xact_lock key: any constant unique to PayLine


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"select pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("PayLine's migrations run online only (flask --app app init-db)")
run_migrations_online()
