"""The two storage backends the suite runs on: SQLite files, and a temporary PostgreSQL server.

The PostgreSQL server is the tests' own: one per session, started with the binaries of the
machine (`initdb`, `pg_ctl`; Debian's `postgresql` package) in a temporary directory, listening
on loopback only, and stopped at the end. Each test directory gets a fresh database in it, so
tests never see each other's rows. Where no PostgreSQL binaries exist the PostgreSQL half is
skipped with a message saying so, except under CI=true, where it is required.

`PAYLINE_TEST_BACKENDS=sqlite` (or `postgresql`) runs one half only.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

BACKENDS = tuple(
    name.strip()
    for name in os.environ.get("PAYLINE_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if name.strip()
)
SKIP_MESSAGE = (
    "PostgreSQL half SKIPPED: no PostgreSQL binaries (initdb, pg_ctl) on this machine; "
    "install Debian's `postgresql` package or set PAYLINE_PG_BIN to run it"
)


def required() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PAYLINE_PG_BIN, pg_config, Debian's layout, or PATH."""
    candidates = [os.environ.get("PAYLINE_PG_BIN", "")]
    if shutil.which("pg_config"):
        try:
            candidates.append(
                subprocess.run(
                    ["pg_config", "--bindir"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(os.path.realpath(which)).parent))
    for candidate in candidates:
        tools = [Path(candidate) / name for name in ("initdb", "pg_ctl")] if candidate else []
        if tools and all(tool.exists() for tool in tools):
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    """A throwaway cluster: trust auth on 127.0.0.1, small buffers.

    PostgreSQL refuses to run as root; when the tests are root (CI here is), the server runs as
    the `postgres` system user that Debian's package creates, in a directory it owns.
    """

    def __init__(self, bindir: Path, *, fsync: bool = False, max_connections: int = 250):
        self.bindir = bindir
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="payline-pg-"))
        self.data = self.directory / "data"
        self.fsync = fsync
        self.max_connections = max_connections
        self.user = self._run_as()
        self.created: list[str] = []

    @staticmethod
    def _run_as() -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root needs a `postgres` user for the server") from None
        return "postgres"

    def _command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> TemporaryPostgres:
        if self.user:
            shutil.chown(self.directory, self.user)
        subprocess.run(
            self._command(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
            f" -c max_connections={self.max_connections} -c shared_buffers=32MB"
            f" -c fsync={'on' if self.fsync else 'off'}"
            f" -c synchronous_commit={'on' if self.fsync else 'off'}"
            " -c full_page_writes=off -c log_min_messages=warning"
        )
        subprocess.run(
            self._command(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"),
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'create database "{name}"')
        self.created.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        for attempt in range(3):
            try:
                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(f'drop database if exists "{name}" with (force)')
                return
            except psycopg.Error:
                time.sleep(0.2 * (attempt + 1))


class Backend:
    """The backend of the tests running now; `database_url(directory)` names a test's database."""

    def __init__(self, name: str, server: TemporaryPostgres | None = None):
        self.name = name
        self.server = server
        self._databases: dict[str, str] = {}

    def database_url(self, directory: Path) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{directory / 'payline.sqlite3'}"
        assert self.server is not None
        key = str(directory)
        if key not in self._databases:
            name = "t_" + hashlib.sha1(key.encode()).hexdigest()[:16]
            self._databases[key] = self.server.create_database(name)
        return self._databases[key]

    def cleanup(self) -> None:
        """Drop the databases made since the last cleanup (and close this process's pools).

        Each database's rows are first written, as JSON lines, to `postgresql-rows.log` in its
        test directory, where the session's last test searches them for card data as it does
        the SQLite files (the server's own files live outside pytest's basetemp)."""
        if self.name != "postgresql":
            return
        from storage.postgres import close_pools

        close_pools()
        assert self.server is not None
        for directory, url in self._databases.items():
            _dump_rows(url, Path(directory) / "postgresql-rows.log")
            self.server.drop_database(url.rsplit("/", 1)[1])
        self._databases.clear()


def _dump_rows(url: str, path: Path) -> None:
    import json

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "select table_name from information_schema.tables where table_schema = 'public'"
                )
            ]
            lines = []
            for table in tables:
                cursor = conn.execute(f'select * from "{table}"')
                names = [column.name for column in cursor.description or []]
                for row in cursor:
                    cells = dict(zip(names, row, strict=True))
                    lines.append(json.dumps({"table": table, **cells}, default=str))
    except psycopg.Error:
        return
    if path.parent.exists():
        path.write_text("\n".join(lines) + "\n")


SQLITE = Backend("sqlite")
current: Backend = SQLITE
