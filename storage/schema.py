"""The schema's one source of truth: alembic migrations applied to SQLite or PostgreSQL alike.

`migrate` is what `flask --app app init-db` and the Procfile's release step run: safe on every
deploy, and on PostgreSQL safe under two instances starting at once (env.py takes an advisory
lock). Each processor with tables of its own has its own branch of migrations
(`versions/<processor>/`), beside PayLine's `core` branch; every branch is applied.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import dialect_of, sqlite_path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 7_242_001
"""pg_advisory_xact_lock key (any constant unique to PayLine), also taken by migrations/env.py:
held until the migrating transaction commits, so instances starting at once migrate in turn."""
LEGACY_BASELINE = ("core_0001", "sandbox_0001")
"""What a database made by the earlier sqlite-utils migrations (m001-m004) already holds."""


def sqlalchemy_url(database_url: str) -> str:
    """The same database as SQLAlchemy names it (psycopg 3 as the PostgreSQL driver)."""
    if dialect_of(database_url) == "sqlite":
        return f"sqlite:///{sqlite_path(database_url)}"
    _, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = sorted(str(p) for p in (MIGRATIONS / "versions").iterdir() if p.is_dir())
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions this code expects (read from the scripts once per process)."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def migrate(database_url: str) -> list[str]:
    """Create or upgrade the schema to every head; the revisions this run applied."""
    if dialect_of(database_url) == "sqlite":
        sqlite_path(database_url).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            else:  # before reading the version: a second instance waits, then finds it done
                connection.exec_driver_sql(f"select pg_advisory_xact_lock({MIGRATION_LOCK})")
            before = _current(connection)
            config = _config()
            config.attributes["connection"] = connection
            if not before and _is_legacy_sqlite(connection):
                command.stamp(config, list(LEGACY_BASELINE))
                before = set(LEGACY_BASELINE)
            command.upgrade(config, "heads")
            after = _current(connection)
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(_config())
    applied = [
        rev.revision
        for rev in script.walk_revisions()
        if rev.revision in _closure(script, after) and rev.revision not in _closure(script, before)
    ]
    return list(reversed(applied))


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@functools.lru_cache(maxsize=64)
def applied_revisions(current: frozenset[str]) -> frozenset[str]:
    """Every revision a database whose version table holds `current` has applied.

    alembic keeps only heads in that table, and a revision that another branch `depends_on`
    (core_0001 under every feature branch) is no head there, though it is one in the scripts.
    """
    return frozenset(_closure(_script(), set(current)))


def schema_problem(current: set[str]) -> str | None:
    """Why a database at these revisions cannot serve this code, or None when it can."""
    if not current:
        return "the database schema has not been created: run `flask --app app init-db`"
    try:
        applied = applied_revisions(frozenset(current))
    except Exception:  # a revision this code does not know: a newer deploy migrated it
        return "the database schema is newer than the code: deploy the newer code"
    if not head_revisions() <= applied:
        return "the database schema is behind the code: run `flask --app app init-db`"
    return None


def _current(connection: Any) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _closure(script: ScriptDirectory, heads: set[str]) -> set[str]:
    seen: set[str] = set()
    for head in heads:
        for rev in script.iterate_revisions(head, "base"):
            if rev is not None:
                seen.add(rev.revision)
    return seen


def _is_legacy_sqlite(connection: Any) -> bool:
    if connection.dialect.name != "sqlite":
        return False
    names = set(sa.inspect(connection).get_table_names())
    if "_sqlite_migrations" not in names or "invoices" not in names:
        return False
    done = {
        row[0]
        for row in connection.exec_driver_sql("select name from _sqlite_migrations").fetchall()
    }
    return "m004_invoice_hold_reason" in done
