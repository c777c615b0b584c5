"""Start-up that fails loudly: which environment PayLine reads, and the check run before it serves.

- `.env` files are for development only. `flask --app app …` loads `.env` and `.flaskenv` by
  itself (Flask's own dotenv loading, before PayLine's code runs), so a stray `.env` with
  `PAYLINE_ENV=development` would switch every operator command, the Procfile's release step
  included, into development. `prepare_environment()` undoes that load unless the process's own
  environment (what the shell or the platform set) says development.
- `check()` is what gunicorn's master runs before it forks a worker (gunicorn.conf.py): a
  configuration error exits the whole server non-zero with its message, within a second,
  instead of leaving a master bound to its port while workers crash-loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dotenv import dotenv_values, find_dotenv, load_dotenv

from config import ConfigError, load_settings

DOTENV_FILES = (".env", ".flaskenv")


def initial_environment() -> Mapping[str, str] | None:
    """The environment this process was started with (before any dotenv loader ran), or None
    where the platform cannot tell (no /proc)."""
    try:
        with open("/proc/self/environ", "rb") as file:
            raw = file.read()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _dotenv_files() -> list[str]:
    return [path for name in DOTENV_FILES if (path := find_dotenv(name, usecwd=True))]


def forget_dotenv_outside_development() -> list[str]:
    """Remove the variables a dotenv loader set, unless the real environment says development.

    A variable counts as loaded from a file when the file sets it to the value it has now and
    the process was not started with it. Returns the names removed.
    """
    initial = initial_environment()
    if initial is None:  # cannot tell a file's value from the shell's: trust neither to be dev
        initial = {}
    if initial.get("PAYLINE_ENV") == "development":
        return []
    removed = []
    for path in _dotenv_files():
        for key, value in dotenv_values(path).items():
            if key not in initial and value is not None and os.environ.get(key) == value:
                del os.environ[key]
                removed.append(key)
    return removed


def prepare_environment() -> None:
    """The environment create_app reads: `.env` in development only, whoever loaded it."""
    forget_dotenv_outside_development()
    if os.environ.get("PAYLINE_ENV") == "development":
        load_dotenv()


def check(environ: Mapping[str, str] | None = None) -> dict:
    """The settings, validated; raises ConfigError with the message an operator needs."""
    if environ is None:
        prepare_environment()
        environ = os.environ
    return load_settings(environ)


def check_or_exit() -> None:
    """For gunicorn's master: a configuration error ends the server, non-zero, with its message."""
    try:
        check()
    except ConfigError as error:
        raise SystemExit(str(error)) from None
