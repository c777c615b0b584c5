"""Every command in the README's shell blocks runs as written, and does what the README says.

The commands are read from README.md itself (every fenced ``sh``/``bash``/``shell``/``console``
block, one command a line, ``\\``-continued lines joined, comment lines skipped), so a command
added to the README is picked up and run here without touching this file. Each runs through
``bash`` from the project directory, in README order, with only these differences from a
reader's terminal, all in the environment, none in the command:

- ``DATABASE_URL`` points at a fresh database under pytest's basetemp (so that the card-data
  check at the end of the session searches it) instead of ``instance/``;
- the server started by the set-up command binds a free loopback port (``GUNICORN_CMD_ARGS``,
  which the README documents) instead of 8000, which another process may hold; commands that
  name ``127.0.0.1:8000`` get that port in its place;
- ``PAYLINE_ENV`` is removed, so that a command that forgets it fails as it would for a reader.

The set-up command runs with the virtualenv already present (re-running ``python3 -m venv`` and
``pip install`` on it is quick and changes nothing); its last step, gunicorn, keeps running in
the background, as in the README's "in a second terminal", until the module's commands are done.

What "does what the README says" means for a command is in ``EXPECTATIONS`` (a regular
expression on the command, and a check of its result); a command without one must exit 0.

A command that cannot or should not run here is *covered elsewhere*, and says where, in one of
two ways; both are verified (the file, and the test when one is named, must exist):

- in the README, an HTML comment on the line before its block:
  ``<!-- readme-test: covered by tests/test_x.py::test_name (why) -->``;
- in ``COVERED_ELSEWHERE`` below, keyed by the command exactly as written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
MARK = re.compile(r"<!--\s*readme-test:\s*covered by\s+(?P<where>\S+)(?P<why>.*?)-->")
README_ADDRESS = "127.0.0.1:8000"
COMMAND_TIMEOUT = 180


@dataclass(frozen=True)
class Command:
    """One command of the README, as written, with where it stands."""

    text: str
    line: int
    section: str
    covered_by: str | None = None  # from a README mark

    @property
    def id(self) -> str:
        return f"README:{self.line}"


def readme_commands(text: str) -> list[Command]:
    """The commands of every shell block, in README order."""
    commands: list[Command] = []
    section, fence, info, mark, pending, start = "", None, "", None, "", 0
    previous = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            if stripped.startswith("#"):
                section = stripped.lstrip("#").strip()
            if stripped.startswith("```"):
                fence, info = stripped[:3], stripped[3:].strip().split(" ")[0].lower()
                found = MARK.search(previous)
                mark = found.group("where") if found else None
            if stripped:
                previous = stripped
            continue
        if stripped.startswith(fence):
            fence = None
            continue
        if info not in SHELL_BLOCKS:
            continue
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        body = stripped[2:] if not pending and stripped.startswith("$ ") else stripped
        if body.endswith("\\"):
            pending += body[:-1].rstrip() + " "
            continue
        commands.append(Command(pending + body, start, section, mark))
        pending = ""
    return commands


@dataclass(frozen=True)
class Covered:
    """Where a command that is not run here is covered, and why it is not run here."""

    where: str
    why: str


COVERED_ELSEWHERE: dict[str, Covered] = {
    "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/pytest": (
        Covered(".ci/run", "it is this very suite; CI runs the line verbatim on a clean checkout")
    ),
}


def covered(command: Command) -> Covered | None:
    if command.covered_by:
        return Covered(command.covered_by, "marked in the README")
    return COVERED_ELSEWHERE.get(command.text)


@dataclass
class Ran:
    """A finished command."""

    command: str
    returncode: int
    stdout: str
    stderr: str


Check = Callable[[Ran, "ReadmeEnvironment"], None]


def _simulate_ok(result_fragments: tuple[str, ...]) -> Check:
    def check(ran: Ran, env: ReadmeEnvironment) -> None:
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
        assert "never came into play" not in ran.stderr
        result = [line for line in ran.stdout.splitlines() if line.startswith("result: ")]
        assert result, ran.stdout[-2000:]
        for fragment in result_fragments:
            assert fragment in result[-1], result[-1]
        assert "4111111111111111" not in ran.stdout + ran.stderr
        assert "5555555555554444" not in ran.stdout.replace("--card 5555555555554444", "")

    return check


def _first_call(ran: Ran, env: ReadmeEnvironment) -> None:
    _simulate_ok(("Result=success", "PaymentConfirmationCode=", "PaymentCardType=visa"))(ran, env)
    assert "keys" not in ran.stderr
    [invoice] = [row for row in env.invoices() if row["number"] == "1001"]
    assert invoice["status"] == "paid"


def _decline_then_bank(ran: Ran, env: ReadmeEnvironment) -> None:
    _simulate_ok(("Result=payment-connector-error", "PaymentMethod=ach-debit"))(ran, env)
    callbacks = [line for line in ran.stdout.splitlines() if "action callback" in line]
    assert len(callbacks) == 2
    assert "PaymentMethod=credit-card" in callbacks[0] and "card_declined" in callbacks[0]
    assert "PaymentMethod=ach-debit" in callbacks[1] and "card_declined" in callbacks[1]


def _saved_card(ran: Ran, env: ReadmeEnvironment) -> None:
    _simulate_ok(("Result=success", "PaymentToken="))(ran, env)
    [invoice] = [row for row in env.invoices() if row["number"] == "1002"]
    assert invoice["card_on_file"]


def _json_transcript(ran: Ran, env: ReadmeEnvironment) -> None:
    assert ran.returncode == 0, ran.stderr[-2000:]
    document = json.loads(ran.stdout)
    keys = {"steps", "payments", "result", "warnings", "twilio_warnings", "unused_options"}
    assert keys <= set(document)
    assert document["result"]["Result"] == "payment-connector-error"
    assert document["unused_options"] == []


def _check_connector(ran: Ran, env: ReadmeEnvironment) -> None:
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert ran.stdout.strip().endswith("cases passed")
    assert ran.stdout.strip().splitlines()[-1].startswith("0 failed")
    assert "budget 10 s" in ran.stdout


#: (pattern searched in the command, its check); the first match wins.
EXPECTATIONS: list[tuple[str, Check]] = [
    (r"simulate-call .*--digits 1,1001#,1$", _first_call),
    (r"simulate-call .*--digits 1,1003#,1,2,1$", _decline_then_bank),
    (r"simulate-call .*--digits 2,1002#$", _saved_card),
    (r"--star-at security-code$", _simulate_ok(("Result=caller-interrupted-with-star",))),
    (r"--hangup-at expiration-date$", _simulate_ok(("Result=caller-hung-up",))),
    (
        r"--card 5555555555554444$",
        _simulate_ok(("Result=success", "PaymentCardNumber=xxxxxxxxxxxx4444")),
    ),
    (r"simulate-call .* --json$", _json_transcript),
    (r"check-connector ", _check_connector),
]


def _default_check(ran: Ran, env: ReadmeEnvironment) -> None:
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]


def expectation(command: str) -> Check:
    for pattern, check in EXPECTATIONS:
        if re.search(pattern, command):
            return check
    return _default_check


def _starts_a_server(command: str) -> bool:
    return bool(re.search(r"\bgunicorn\b", command))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReadmeEnvironment:
    """A reader's machine: the project directory, a fresh database, a server once started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.server: subprocess.Popen | None = None
        env = {k: v for k, v in os.environ.items() if k != "PAYLINE_ENV"}
        env["DATABASE_URL"] = f"sqlite:///{directory / 'readme.sqlite3'}"
        env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{self.port} --workers 2"
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env

    def written(self, command: str) -> str:
        return command.replace(README_ADDRESS, f"127.0.0.1:{self.port}")

    def run(self, command: str) -> Ran:
        done = subprocess.run(
            ["bash", "-c", self.written(command)],
            cwd=PROJECT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        return Ran(command, done.returncode, done.stdout, done.stderr)

    def start_server(self, command: str) -> Ran:
        """Run a command whose last step serves forever; return once it answers /healthz."""
        log = (self.directory / "server.log").open("w")
        self.server = subprocess.Popen(
            ["bash", "-c", self.written(command)],
            cwd=PROJECT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                break
            try:
                answer = requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if answer.status_code == 200:
                    return Ran(command, 0, self.server_log(), "")
            except requests.RequestException:
                pass
            time.sleep(0.2)
        code = self.server.poll()
        return Ran(command, code if code is not None else -1, self.server_log(), "not healthy")

    def server_log(self) -> str:
        return (self.directory / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        os.killpg(self.server.pid, signal.SIGTERM)  # the session this fixture started
        try:
            self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(timeout=10)

    def invoices(self) -> list[dict]:
        ran = self.run("PAYLINE_ENV=development .venv/bin/flask --app app invoices list --json")
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)


COMMANDS = readme_commands(README.read_text())


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Iterator[ReadmeEnvironment]:
    environment = ReadmeEnvironment(tmp_path_factory.mktemp("readme"))
    try:
        yield environment
    finally:
        environment.stop()


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_the_readme_command_runs_as_written_and_does_what_the_readme_says(command, reader):
    elsewhere = covered(command)
    if elsewhere is not None:
        _verify_covered(elsewhere)
        return
    if _starts_a_server(command.text):
        ran = reader.start_server(command.text)
        assert ran.returncode == 0, f"the server never answered /healthz:\n{ran.stdout[-3000:]}"
        return
    if README_ADDRESS in command.text and reader.server is None:
        pytest.fail(f"{command.id} needs the server that an earlier README command starts")
    expectation(command.text)(reader.run(command.text), reader)


def _verify_covered(elsewhere: Covered) -> None:
    path, _, test = elsewhere.where.partition("::")
    target = PROJECT / path
    assert target.is_file(), f"covered by {elsewhere.where}: no such file"
    if test:
        assert re.search(rf"^def {re.escape(test)}\(", target.read_text(), re.M), (
            f"covered by {elsewhere.where}: no such test"
        )


def test_the_readme_has_the_commands_this_module_knows():
    texts = [command.text for command in COMMANDS]

    assert any(_starts_a_server(text) for text in texts)
    assert sum("simulate-call" in text for text in texts) >= 7
    assert any("check-connector" in text for text in texts)
    for pattern, _ in EXPECTATIONS:
        assert any(re.search(pattern, text) for text in texts), f"no README command: {pattern}"


def test_every_covered_elsewhere_entry_is_still_a_readme_command():
    texts = {command.text for command in COMMANDS}

    assert set(COVERED_ELSEWHERE) <= texts, set(COVERED_ELSEWHERE) - texts


def test_ci_runs_the_readme_test_command_verbatim():
    [command] = [t for t, c in COVERED_ELSEWHERE.items() if c.where == ".ci/run"]

    assert command in (PROJECT / ".ci" / "run").read_text().splitlines()


def test_the_parser_reads_blocks_continuations_and_marks():
    text = (
        "## A\n\n```sh\n# a comment\n$ echo one \\\n  two\necho three\n```\n\n"
        "<!-- readme-test: covered by tests/x.py::test_y (slow) -->\n```bash\nmake all\n```\n"
        "```\nnot a shell block\n```\n"
    )

    commands = readme_commands(text)

    assert [(c.text, c.line, c.section, c.covered_by) for c in commands] == [
        ("echo one two", 5, "A", None),
        ("echo three", 7, "A", None),
        ("make all", 12, "A", "tests/x.py::test_y"),
    ]
