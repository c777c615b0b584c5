"""One schema, two backends: the migrations give SQLite and PostgreSQL the same tables, and two
instances running `init-db` at once against an empty PostgreSQL database leave one schema."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import psycopg
import sqlalchemy as sa

from storage import schema
from tests.conftest import settings
from tests.server import PROJECT

TYPE_FAMILIES = {
    "TEXT": "text",
    "VARCHAR": "text",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "SMALLINT": "integer",
    "FLOAT": "float",
    "REAL": "float",
    "DOUBLE": "float",
    "DOUBLE_PRECISION": "float",
    "DOUBLE PRECISION": "float",
    "NUMERIC": "numeric",
}


def family(column_type: Any) -> str:
    name = type(column_type).__name__.upper()
    return TYPE_FAMILIES.get(name, TYPE_FAMILIES.get(str(column_type).upper(), name))


def described(database_url: str) -> dict[str, Any]:
    """Tables → columns (name, nullability, type family), primary key, indexes; as migrated."""
    engine = sa.create_engine(schema.sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        tables = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            tables[table] = {
                "columns": sorted(
                    (c["name"], bool(c["nullable"]), family(c["type"]))
                    for c in inspector.get_columns(table)
                ),
                "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(_indexes(engine, inspector, table)),
            }
        return tables
    finally:
        engine.dispose()


def _indexes(engine: Any, inspector: Any, table: str) -> list[tuple[str, tuple, bool]]:
    """Every index, an expression index (`lower(customer)`) named with no columns: PostgreSQL
    reflects its column as None, SQLAlchemy's SQLite reflection leaves it out altogether."""
    found = [
        (i["name"], tuple(c for c in i["column_names"] if c), bool(i["unique"]))
        for i in inspector.get_indexes(table)
    ]
    if engine.dialect.name == "sqlite":
        known = {name for name, _, _ in found}
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "select name, sql from sqlite_master where type = 'index' and tbl_name = ?"
                " and sql is not null",
                (table,),
            ).fetchall()
        found += [
            (name, (), "unique index" in sql.lower()) for name, sql in rows if name not in known
        ]
    return found


def heads(database_url: str) -> set[str]:
    engine = sa.create_engine(schema.sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.exec_driver_sql("select * from alembic_version")}
    finally:
        engine.dispose()


def test_both_backends_get_the_same_schema_from_the_migrations(tmp_path, postgres_server):
    sqlite_url = f"sqlite:///{tmp_path / 'schema.sqlite3'}"
    postgres_url = postgres_server.create_database("schema_compare")
    try:
        schema.migrate(sqlite_url)
        schema.migrate(postgres_url)

        on_sqlite, on_postgres = described(sqlite_url), described(postgres_url)
        assert on_sqlite == on_postgres
        assert {"connector_transactions", "payments", "invoices", "sandbox_ledger"} <= set(
            on_postgres
        )
        assert heads(sqlite_url) == heads(postgres_url)
        assert schema.schema_problem(heads(postgres_url)) is None
    finally:
        postgres_server.drop_database("schema_compare")


def test_two_init_db_at_once_on_an_empty_postgresql_database_leave_one_schema(
    tmp_path, postgres_server
):
    url = postgres_server.create_database("concurrent_init")
    env = {
        "PATH": "/usr/bin:/bin",
        **{k: str(v) for k, v in settings(tmp_path).items() if isinstance(v, (str, float))},
        "PAYLINE_ENV": "development",
        "DATABASE_URL": url,
    }
    lock = psycopg.connect(url, autocommit=True)  # advisory locks are per database
    lock.execute("select pg_advisory_lock(%s)", [schema.MIGRATION_LOCK])
    try:
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "init-db"],
                cwd=PROJECT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        _until_both_wait_for_the_migration_lock(lock)
        lock.execute("select pg_advisory_unlock(%s)", [schema.MIGRATION_LOCK])
        outputs = [run.communicate(timeout=120) for run in runs]

        assert [run.returncode for run in runs] == [0, 0], outputs
        applied = sorted(int(out.split("(")[1].split(" ")[0]) for out, _ in outputs)
        everything = len(schema.migrate(f"sqlite:///{tmp_path / 'reference.sqlite3'}"))
        assert applied == [0, everything], outputs  # one applied them all, then the other none
        assert schema.schema_problem(heads(url)) is None
        assert described(url) == described(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    finally:
        lock.close()
        postgres_server.drop_database("concurrent_init")


def _until_both_wait_for_the_migration_lock(lock, timeout: float = 60) -> None:
    """Both init-db processes are connected and blocked on the lock: they truly overlap."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = lock.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted"
        ).fetchone()[0]
        if waiting == 2:
            return
        time.sleep(0.05)
    raise AssertionError("the two init-db runs never both waited for the migration lock")
