"""Which processors PayLine can run, each declaring its own settings: `PROCESSOR=<name>`.

A processor module under `connector/processors/` that defines `SPEC = ProcessorSpec(...)` is a
processor; its module name is what `PROCESSOR` names. Adding a gateway is one new module (its
settings, their validation, how to build it) plus its tests: nothing else lists processors.
The built-in sandbox is declared here, beside the registry, since its module predates it.

Settings are read from the environment (or the test config), parsed and validated once at
start-up; every problem is reported by name, so that the app refuses to start with a message
that says what to set.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from connector.processors import Processor

log = logging.getLogger(__name__)


class SettingError(ValueError):
    """A setting's value is malformed; the message says what it must be (never the value of a
    secret)."""


@dataclass(frozen=True)
class Setting:
    """One environment variable a processor reads."""

    name: str
    parse: Callable[[str], Any] = str
    """Turns the text into the value; raises SettingError (or ValueError) when malformed."""
    default: Any = None
    required: bool = False
    secret: bool = False
    help: str = ""


@dataclass(frozen=True)
class BuildContext:
    """What a processor may use besides its own settings."""

    settings: Mapping[str, Any]
    """All of PayLine's settings (its own included), e.g. SECRET_KEY for keyed hashes."""


StoreBound = Callable[[Any], Processor]
"""Given the request's store, the processor for that request."""


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    build: Callable[[BuildContext], StoreBound]
    """Called once per app (sessions and pools live as long as it); the function it returns
    binds the request's store."""
    settings: tuple[Setting, ...] = ()
    check: Callable[[Mapping[str, Any]], list[str]] = field(default=lambda settings: [])
    """Problems that involve several settings (or PAYLINE_ENV); [] when all is well."""
    moves_money: bool = True
    """False for the sandbox: production with it starts, with a loud warning."""


def _build_sandbox(context: BuildContext) -> StoreBound:
    from connector.processors.sandbox import SandboxProcessor

    slow = context.settings["SANDBOX_SLOW_SECONDS"]
    # cast: the sandbox grows the after-the-charge methods in its own module (another change).
    return lambda store: cast(Processor, SandboxProcessor(store, slow_seconds=slow))


SANDBOX = ProcessorSpec(name="sandbox", build=_build_sandbox, moves_money=False)
"""SANDBOX_SLOW_SECONDS stays among the core settings (config.py), where it always was."""


@cache
def processors() -> dict[str, ProcessorSpec]:
    """Every processor: the sandbox and each module of this package that defines SPEC."""
    import connector.processors as package

    found = {SANDBOX.name: SANDBOX}
    for module in pkgutil.iter_modules(package.__path__):
        if module.name in ("registry", "transport", "sandbox") or module.name.startswith("_"):
            continue
        spec = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "SPEC", None)
        if isinstance(spec, ProcessorSpec):
            found[spec.name] = spec
    return found


def load_processor_settings(
    name: str,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any],
    core: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """Every processor's settings (defaults, environment, test overrides), and the problems.

    A malformed value is reported for any processor (a typo is a typo), a missing required one
    only for the chosen processor. An unknown `name` is reported with the known names.
    """
    specs = processors()
    values: dict[str, Any] = {}
    problems: list[str] = []
    if name not in specs:
        problems.append("PROCESSOR must be one of: " + ", ".join(sorted(specs)))
    for spec in specs.values():
        for setting in spec.settings:
            raw = overrides.get(setting.name, environ.get(setting.name))
            if raw is None or raw == "":
                values[setting.name] = setting.default
                if setting.required and spec.name == name:
                    problems.append(f"PROCESSOR={name} needs {setting.name}")
                continue
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                raw = str(raw)  # a test config passes typed values: validated all the same
            if not isinstance(raw, str):
                values[setting.name] = raw
                continue
            try:
                values[setting.name] = setting.parse(raw.strip())
            except ValueError as error:
                values[setting.name] = setting.default
                shown = "" if setting.secret else f", got {raw!r}"
                problems.append(f"{setting.name} {error}{shown}")
    chosen = specs.get(name)
    if chosen is not None and not problems:
        problems += chosen.check({**core, **values})
    return values, problems


def warn_if_sandbox_in_production(name: str, environment: str) -> None:
    spec = processors().get(name)
    if spec is not None and not spec.moves_money and environment == "production":
        log.warning(
            "!!! PROCESSOR=%s IN PRODUCTION: no real money moves. Every charge is simulated; "
            "callers will hear that they paid while nothing was charged. Set PROCESSOR to a "
            "real gateway (see README, Processors). !!!",
            name,
        )


def build(name: str, settings: Mapping[str, Any]) -> StoreBound:
    return processors()[name].build(BuildContext(settings=settings))


# -- parsers shared by the adapters' settings ------------------------------------------------


def number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise SettingError(f"must be a number of seconds from {low:g} to {high:g}") from None
        if not low <= value <= high:
            raise SettingError(f"must be from {low:g} to {high:g}")
        return value

    return parse


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit():
            raise SettingError(f"must be a whole number from {low} to {high}")
        value = int(text)
        if not low <= value <= high:
            raise SettingError(f"must be from {low} to {high}")
        return value

    return parse


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise SettingError("must be one of: " + ", ".join(choices))
        return text

    return parse
