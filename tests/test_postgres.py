"""The PostgreSQL side of the connection layer: parameters, errors, transactions, the clock."""

from __future__ import annotations

import time
import uuid

import pytest

from storage.db import IntegrityError
from storage.postgres import close_pools, connect_postgres, display_url, normalise_url, translate


def test_named_parameters_become_psycopg_ones_and_casts_and_quotes_are_left_alone():
    sql = "select x::int, :a, ':b 50%' as s, \"c:d\" from t where y like '%' || :c_2"
    assert translate(sql) == (
        "select x::int, %(a)s, ':b 50%%' as s, \"c:d\" from t where y like '%%' || %(c_2)s"
    )


def test_the_displayed_url_never_carries_the_password():
    url = "postgres://payline:s3cret@db.example.com:5433/payline?sslmode=require"
    assert display_url(url) == "postgresql://payline@db.example.com:5433/payline"
    assert "s3cret" not in display_url(url)


def test_herokus_postgres_spelling_is_postgresql():
    assert normalise_url("postgres://u@h/d") == "postgresql://u@h/d"
    assert normalise_url("postgresql://u@h/d") == "postgresql://u@h/d"


@pytest.fixture
def connection(postgres_server):
    name = "conn_" + uuid.uuid4().hex[:8]
    url = postgres_server.create_database(name)
    connection = connect_postgres(url)
    connection.execute("create table t (k text primary key, v text not null)")
    yield connection
    connection.close()
    close_pools()
    postgres_server.drop_database(name)


def test_a_unique_violation_is_the_layers_integrity_error_without_the_rows_values(connection):
    connection.execute("insert into t (k, v) values (:k, :v)", {"k": "4111111111111111", "v": "x"})

    with pytest.raises(IntegrityError) as raised:
        connection.execute(
            "insert into t (k, v) values (:k, :v)", {"k": "4111111111111111", "v": "y"}
        )

    assert "4111111111111111" not in str(raised.value)  # psycopg's DETAIL line is dropped


def test_atomic_commits_together_and_a_nested_block_is_a_savepoint(connection):
    with connection.atomic():
        connection.execute("insert into t (k, v) values ('a', '1')")
        with pytest.raises(IntegrityError):
            with connection.atomic():
                connection.execute("insert into t (k, v) values ('b', '2')")
                connection.execute("insert into t (k, v) values ('b', '3')")
        connection.execute("insert into t (k, v) values ('c', '4')")
    with pytest.raises(RuntimeError):
        with connection.atomic():
            connection.execute("insert into t (k, v) values ('d', '5')")
            raise RuntimeError("roll back")

    assert [row["k"] for row in connection.query("select k from t order by k")] == ["a", "c"]


def test_rowcount_says_who_won_a_compare_and_set(connection):
    connection.execute("insert into t (k, v) values ('x', 'open')")
    update = "update t set v = :new where k = 'x' and v = 'open'"

    assert connection.execute(update, {"new": "mine"}) == 1
    assert connection.execute(update, {"new": "theirs"}) == 0


def test_the_database_clock_moves_inside_a_transaction(connection):
    with connection.atomic():
        first = connection.one(f"select {connection.now} as t")
        time.sleep(0.05)
        second = connection.one(f"select {connection.now} as t")

    assert first is not None and second is not None
    assert second["t"] - first["t"] >= 0.04
    assert abs(first["t"] - time.time()) < 5
