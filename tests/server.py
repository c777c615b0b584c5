"""Run PayLine the way production does: the Procfile's release and web commands, on loopback.

The processes get a temporary database and write their logs under the test's tmp_path (inside
pytest's basetemp), where the card-data check searches them at the end of the session.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests import backends
from tests.conftest import AUTH_TOKEN, CONNECTOR_PASSWORD, CONNECTOR_USER

PROJECT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, list[str]]:
    """The Procfile's process types, with their executables run from this interpreter."""
    commands = {}
    for line in (PROJECT / "Procfile").read_text().splitlines():
        if ":" in line:
            name, command = line.split(":", 1)
            argv = shlex.split(command)
            commands[name.strip()] = [sys.executable, "-m", argv[0], *argv[1:]]
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    directory: Path
    env: dict[str, str]
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    starts: int = 0
    database_url: str = ""

    def __post_init__(self) -> None:
        self.database_url = self.database_url or backends.current.database_url(self.directory)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        """The SQLite file (SQLite backend only; `query` reads either backend)."""
        return self.directory / "payline.sqlite3"

    def query(self, sql: str, params: dict | None = None) -> list[dict]:
        """Rows of the server's database, read directly (portable SQL, `:name` parameters)."""
        from storage.db import connect

        connection = connect(self.database_url)
        try:
            return connection.query(sql, params or {})
        finally:
            connection.close()

    def execute(self, sql: str, params: dict | None = None) -> int:
        """One write to the server's database, as an operator's SQL console would make it."""
        from storage.db import connect

        connection = connect(self.database_url)
        try:
            return connection.execute(sql, params or {})
        finally:
            connection.close()

    def run_release(self) -> None:
        subprocess.run(
            procfile()["release"],
            cwd=PROJECT,
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """A `flask --app app ...` operator command against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=PROJECT,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> Server:
        self.starts += 1
        log = open(self.directory / f"gunicorn-{self.starts}.log", "ab")
        self.process = subprocess.Popen(
            procfile()["web"],
            cwd=PROJECT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_until_healthy()
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9 the master and every worker: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.directory.glob("gunicorn-*.log"))
        )

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYLINE_", "GUNICORN"))}
        env.update(
            {
                "PAYLINE_ENV": "production",
                "DATABASE_URL": self.database_url,
                "SECRET_KEY": "e2e-Hq7vN2xR9tLm4pW8zB3cY6jK1sD5fG0a",
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "CONNECTOR_USERNAME": CONNECTOR_USER,
                "CONNECTOR_PASSWORD": CONNECTOR_PASSWORD,
                "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --workers {self.workers}",
                "PYTHONUNBUFFERED": "1",
                **self.env,
            }
        )
        return env

    def _wait_until_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                if requests.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            time.sleep(0.1)
        self.kill()  # never leave a half-started server behind (it would hold its port)
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.logs()}")


def serve(directory: Path, *, workers: int = 2, **env: str) -> Server:
    server = Server(directory=directory, env={k: str(v) for k, v in env.items()}, workers=workers)
    server.run_release()
    return server.start()
