"""The one small connection layer: SQL written once, run on SQLite (sqlite-utils) or PostgreSQL.

Statements use named parameters (`:name`) and the SQL both databases agree on (`INSERT … ON
CONFLICT`, single-statement compare-and-set, `RETURNING`, `rowcount`). What differs between the
two lives here and nowhere else: parameter style, the database clock (`Connection.now`), error
classes, transactions.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Params = Mapping[str, Any] | Sequence[Any]


class IntegrityError(Exception):
    """A unique or not-null constraint refused a write (either backend)."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused the statement for a reason not our own."""


class Connection(Protocol):
    """What every storage module uses; one per thread, never shared between threads."""

    dialect: str
    now: str
    """A SQL expression for the database's clock, in epoch seconds (a float). Leases and holds
    are compared with it, so that instances whose clocks drift still agree on who owns what."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]: ...

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None: ...

    def atomic(self) -> Any:
        """A context manager: everything inside commits together or not at all (nestable)."""
        ...

    def close(self) -> None: ...


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///relative/path` (relative to the project) or `sqlite:////absolute/path`."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("DATABASE_URL must be sqlite:///relative/path or sqlite:////absolute/path")
    path = Path(database_url[len(prefix) :])
    return path if path.is_absolute() else PROJECT_ROOT / path


def dialect_of(database_url: str) -> str:
    if database_url.startswith("sqlite:"):
        return "sqlite"
    if database_url.startswith(("postgresql:", "postgres:")):
        return "postgresql"
    raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")


def connect(database_url: str) -> Connection:
    """A connection for the URL's backend, to `close()` when done.

    SQLite: this thread's connection to the file, kept open between requests (opening one
    costs more CPU than a whole JSON echo); PostgreSQL: one borrowed from the process's pool.
    """
    if dialect_of(database_url) == "sqlite":
        return _thread_sqlite(sqlite_path(database_url))
    from storage.postgres import connect_postgres

    return connect_postgres(database_url)


_threads = threading.local()
THREAD_SQLITE_FILES = 4
"""SQLite connections one thread keeps open (one per file; the least recently used closes)."""


def _thread_sqlite(path: Path) -> SqliteConnection:
    cache: OrderedDict[tuple[int, Path], SqliteConnection] | None = getattr(
        _threads, "sqlite", None
    )
    if cache is None:
        cache = _threads.sqlite = OrderedDict()
    key = (os.getpid(), path)  # a forked child never uses its parent's connection
    connection = cache.get(key)
    if connection is None or connection.closed:
        connection = cache[key] = SqliteConnection(path, reusable=True)
    cache.move_to_end(key)
    while len(cache) > THREAD_SQLITE_FILES:
        _, oldest = cache.popitem(last=False)
        oldest.close_for_good()
    return connection


def _plain(params: Params) -> dict[str, Any] | Sequence[Any]:
    """What sqlite-utils accepts: a dict for named parameters, else a sequence."""
    return dict(params) if isinstance(params, Mapping) else params


class SqliteConnection:
    """SQLite through sqlite-utils: WAL, a busy timeout, autocommit outside `atomic()`."""

    dialect = "sqlite"
    # julianday('now') has millisecond resolution on every SQLite version Python ships.
    now = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path: Path, *, reusable: bool = False):
        self.reusable = reusable
        self.closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        self.db = sqlite_utils.Database(conn)
        self.path = path

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self.db.execute(sql, _plain(params)).rowcount
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from None

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        try:
            return list(self.db.query(sql, _plain(params)))
        except sqlite3.IntegrityError as error:  # INSERT … RETURNING
            raise IntegrityError(str(error)) from None

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """BEGIN IMMEDIATE, not sqlite-utils' deferred BEGIN: a transaction that reads before it
        writes would otherwise fail with SQLITE_BUSY (no wait) when another writer got there
        first. Nested blocks are savepoints."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Done with it: a thread's reusable connection stays open for its next request (any
        transaction left open is rolled back); any other one closes."""
        if not self.reusable:
            self.close_for_good()
            return
        if self.db.conn.in_transaction:
            self.db.conn.execute("ROLLBACK")

    def close_for_good(self) -> None:
        if not self.closed:
            self.closed = True
            self.db.close()
