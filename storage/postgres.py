"""The PostgreSQL side of the connection layer: psycopg 3 over a connection pool (psycopg-pool).

Everything that differs from SQLite lives here: the parameter style (the storage modules write
`:name`, psycopg wants `%(name)s`), the database clock, the error classes, transactions (a
transaction, savepoints inside it) and connections borrowed from a pool per `Store` instead of
opened per request.

One pool per process and database URL, created on first use. A pool made before a fork (a
gunicorn master that imported the app) is never used by the children: the registry is keyed by
the process id, so each worker makes its own.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from storage.db import DatabaseUnavailable, IntegrityError, Params


@dataclass(frozen=True)
class PoolSettings:
    """How many connections one process keeps open, and how long a caller waits for one.

    Size the maximum from the worker model: every gunicorn thread may hold one connection for
    its whole request (a retry waiting for its in-flight twin polls the ledger), plus one for
    the process's lease renewer and one for a health check; so `threads + 2`. A database must
    accept `instances × workers × max_size` connections.
    """

    min_size: int = 1
    max_size: int = 18
    timeout_seconds: float = 10.0
    max_idle_seconds: float = 300.0


_settings: dict[str, PoolSettings] = {}
_pools: dict[tuple[int, str], psycopg_pool.ConnectionPool] = {}
_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Heroku's `postgres://` spelling is the same thing as `postgresql://`."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def display_url(url: str) -> str:
    """The URL without its password, for logs and operators."""
    parts = urlsplit(normalise_url(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


def configure_pool(url: str, settings: PoolSettings) -> None:
    """The pool settings for a URL, applied when this process first opens its pool."""
    _settings[normalise_url(url)] = settings


def pool_for(url: str) -> psycopg_pool.ConnectionPool:
    """This process's pool for the URL (made and opened on first use)."""
    url = normalise_url(url)
    key = (os.getpid(), url)
    pool = _pools.get(key)
    if pool is not None:
        return pool
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            settings = _settings.get(url, PoolSettings())
            pool = psycopg_pool.ConnectionPool(
                url,
                min_size=settings.min_size,
                max_size=max(settings.max_size, settings.min_size),
                timeout=settings.timeout_seconds,
                max_idle=settings.max_idle_seconds,
                kwargs={"autocommit": True, "row_factory": dict_row},
                check=psycopg_pool.ConnectionPool.check_connection,
                name="payline",
                open=False,
            )
            pool.open(wait=False)
            if not _pools:
                atexit.register(close_pools)  # a worker's exit says goodbye to the server
            _pools[key] = pool
    return pool


def close_pools() -> None:
    """Close this process's pools (at worker exit; tests between databases)."""
    with _lock:
        for key in [k for k in _pools if k[0] == os.getpid()]:
            _pools.pop(key).close()


def connect_postgres(url: str) -> PostgresConnection:
    return PostgresConnection(pool_for(url))


_NAME = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_][A-Za-z0-9_]*)|%")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """`:name` parameters to psycopg's `%(name)s`; `::` casts and names inside quotes are left
    alone, a literal `%` (quoted or not) is doubled."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1):
            return f"%({match.group(1)})s"
        return token.replace("%", "%%")

    return _NAME.sub(replace, sql)


class PostgresConnection:
    """One connection borrowed from the process's pool, given back at `close()`.

    Outside `atomic()` every statement commits on its own (autocommit), as on SQLite.
    """

    dialect = "postgresql"
    # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    now = "extract(epoch from clock_timestamp())::float8"

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            try:
                self._conn = self.pool.getconn()
            except psycopg_pool.PoolTimeout as error:
                raise DatabaseUnavailable(f"no database connection: {error}") from None
            except psycopg.OperationalError as error:
                raise DatabaseUnavailable(str(error)) from None
        return self._conn

    def _run(self, sql: str, params: Params) -> psycopg.Cursor[Any]:
        query = translate(sql)
        values: Any = dict(params) if isinstance(params, Mapping) else tuple(params)
        try:
            return self.conn.execute(query, values)  # type: ignore[arg-type]
        except psycopg.errors.IntegrityError as error:
            raise IntegrityError(_first_line(error)) from None
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(_first_line(error)) from None

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._run(sql, params).rowcount

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        return list(cursor.fetchall()) if cursor.description else []

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction; nested blocks are savepoints (psycopg's `transaction()`)."""
        try:
            with self.conn.transaction():
                yield
        except psycopg.errors.IntegrityError as error:
            raise IntegrityError(_first_line(error)) from None
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(_first_line(error)) from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self.pool.putconn(conn)


def _first_line(error: Exception) -> str:
    # psycopg's messages carry DETAIL lines with the row's values; keep only the first line,
    # so that no caller-supplied value travels further in an exception message.
    return str(error).splitlines()[0] if str(error) else type(error).__name__
