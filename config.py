"""Settings read once from the environment (12-factor), with development defaults that only
apply when PAYLINE_ENV=development, so that production can never run on a known secret."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from connector.processors.registry import load_processor_settings, warn_if_sandbox_in_production

log = logging.getLogger(__name__)

DEVELOPMENT_SECRETS = {
    "SECRET_KEY": "dev-secret-key-not-for-production",
    "TWILIO_AUTH_TOKEN": "dev-auth-token-not-for-production",
    "CONNECTOR_USERNAME": "payline",
    "CONNECTOR_PASSWORD": "dev-connector-password",
}
"""Shared by the app and the emulator in development; refused anywhere else."""

REQUIRED_OUTSIDE_DEVELOPMENT = (
    "SECRET_KEY",
    "TWILIO_AUTH_TOKEN",
    "CONNECTOR_USERNAME",
    "CONNECTOR_PASSWORD",
)

DEFAULTS: dict[str, Any] = {
    "PAYLINE_ENV": "production",
    "DATABASE_URL": "sqlite:///instance/payline.sqlite3",
    "TWILIO_ACCOUNT_SID": None,
    "PUBLIC_BASE_URL": None,
    "PROXY_FIX_HOPS": 0,
    "PAY_CONNECTOR": "Default",
    "CONNECTOR_MODE": "test",
    "PROCESSOR": "sandbox",
    "ADMIN_USERNAME": None,
    "ADMIN_PASSWORD": None,
    "SANDBOX_SLOW_SECONDS": 12.0,
    "IDEMPOTENCY_WAIT_SECONDS": 50.0,
    "IDEMPOTENCY_LEASE_SECONDS": 15.0,
    "AGENT_NUMBER": None,
    "VOICE_LANGUAGE": "en-US",
    "VOICE_NAME": "Polly.Joanna",
    "BUSINESS_NAME": "PayLine",
    "LOG_LEVEL": "INFO",
    "PROCESSOR_RETRY_SECONDS": 40.0,
    "INVOICE_HOLD_SECONDS": 600.0,
    "UNKNOWN_HOLD_SECONDS": 1800.0,
    # The dashboard shows times (and counts "today") in the operators' time zone (IANA name).
    "OPERATOR_TIMEZONE": "UTC",
    # Flask refuses larger bodies with 413 before a webhook reads its form.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # PostgreSQL connection pool, per process (see README "Pool settings"); the maximum
    # defaults to the gunicorn threads of a worker + 2 (the lease renewer, a health check).
    "DATABASE_POOL_MIN": 1,
    "DATABASE_POOL_MAX": None,
    "DATABASE_POOL_TIMEOUT": 10.0,
}

PAY_LANGUAGES = frozenset(
    "en-au en-ca en-gb en-in en-us es-es es-mx fr-ca fr-fr de-de it-it".split()
)
"""The languages Twilio's <Pay> speaks (card prompts); every prompt of the call uses one."""

_FLOATS = (
    "PROCESSOR_RETRY_SECONDS",
    "INVOICE_HOLD_SECONDS",
    "UNKNOWN_HOLD_SECONDS",
    "SANDBOX_SLOW_SECONDS",
    "IDEMPOTENCY_WAIT_SECONDS",
    "IDEMPOTENCY_LEASE_SECONDS",
    "DATABASE_POOL_TIMEOUT",
)
_INTS = ("PROXY_FIX_HOPS", "MAX_CONTENT_LENGTH", "DATABASE_POOL_MIN")


# -- billing (issue 8): whose ledger the callbacks are checked against; ACH by phone (TEL) ----
DEFAULTS.update(
    {
        # true: Twilio sends card data to PayLine's own /connector, so every <Pay> callback is
        # checked against its ledger; false: another (e.g. branded) connector is installed.
        "LEDGER_RECONCILIATION": "true",
        # Read in the ACH authorisation statement; unset: the number the caller dialled.
        "BUSINESS_PHONE": None,
        "ACH_AUTHORIZATION_TEMPLATE": None,  # None: billing.ach.DEFAULT_STATEMENT
        "ACH_AUTHORIZATION_VERSION": None,  # None: billing.ach.DEFAULT_VERSION
    }
)
_FLAGS = ("LEDGER_RECONCILIATION",)


def _flag(key: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable PayLine; the message says what to set."""


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> dict:
    """Merge defaults, the environment and test overrides; fill development secrets; validate."""
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update({k: None for k in DEVELOPMENT_SECRETS})
    for key in settings:
        if environ.get(key):
            settings[key] = environ[key]
    settings.update(overrides or {})
    for key in _FLOATS:
        settings[key] = _number(key, settings[key], float)
    for key in _INTS:
        settings[key] = _number(key, settings[key], int)
    for key in _FLAGS:
        settings[key] = _flag(key, settings[key])
    settings["PUBLIC_BASE_URL"] = (settings["PUBLIC_BASE_URL"] or "").rstrip("/") or None
    _database_settings(settings, environ)
    _fill_development_secrets(settings)
    _agent_settings(environ, overrides or {}, settings)
    processor_problems = _load_processor_settings(settings, environ, overrides or {})
    _validate(settings, processor_problems)
    warn_if_sandbox_in_production(settings["PROCESSOR"], settings["PAYLINE_ENV"])
    return settings


def _database_settings(settings: dict[str, Any], environ: Mapping[str, str]) -> None:
    """DATABASE_URL's shape, and the pool sized from the worker model (threads per worker)."""
    url = str(settings["DATABASE_URL"] or "")
    if url.startswith("postgres://"):  # Heroku's spelling
        url = "postgresql://" + url[len("postgres://") :]
    settings["DATABASE_URL"] = url
    if url.startswith("postgresql://"):
        rest = url[len("postgresql://") :]
        if not rest.split("/", 1)[0] and "host=" not in rest:
            raise ConfigError(
                "PayLine cannot start: DATABASE_URL names no PostgreSQL server"
                " (postgresql://user:password@host:5432/database)"
            )
        if "/" not in rest or not rest.split("/", 1)[1].split("?", 1)[0]:
            raise ConfigError(
                "PayLine cannot start: DATABASE_URL names no database"
                " (postgresql://user:password@host:5432/database)"
            )
    elif not url.startswith("sqlite:///"):
        raise ConfigError(
            "PayLine cannot start: DATABASE_URL must be sqlite:///path or"
            " postgresql://user:password@host:5432/database"
        )
    if settings["DATABASE_POOL_MAX"] in (None, ""):
        threads = _number("GUNICORN_THREADS", environ.get("GUNICORN_THREADS") or 16, int)
        settings["DATABASE_POOL_MAX"] = threads + 2
    settings["DATABASE_POOL_MAX"] = _number("DATABASE_POOL_MAX", settings["DATABASE_POOL_MAX"], int)
    if not 1 <= settings["DATABASE_POOL_MIN"] <= settings["DATABASE_POOL_MAX"]:
        raise ConfigError(
            "PayLine cannot start: DATABASE_POOL_MIN must be at least 1 and at most"
            " DATABASE_POOL_MAX"
        )


def _load_processor_settings(
    settings: dict[str, Any], environ: Mapping[str, str], overrides: Mapping[str, Any]
) -> list[str]:
    """The processors' own settings, declared by each adapter (connector/processors/)."""
    values, problems = load_processor_settings(settings["PROCESSOR"], environ, overrides, settings)
    settings.update(values)
    return problems


def _number(key: str, value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {value!r}") from None


def _fill_development_secrets(settings: dict[str, Any]) -> None:
    if settings["PAYLINE_ENV"] != "development":
        return
    used = [k for k, v in DEVELOPMENT_SECRETS.items() if not settings.get(k)]
    for key in used:
        settings[key] = DEVELOPMENT_SECRETS[key]
    if used:
        log.warning(
            "DEVELOPMENT MODE: using built-in development values for %s. "
            "Never expose this server to real callers.",
            ", ".join(used),
        )


def _validate(settings: dict[str, Any], processor_problems: list[str]) -> None:
    problems = list(processor_problems)
    if settings["PAYLINE_ENV"] not in ("development", "production"):
        problems.append("PAYLINE_ENV must be 'development' or 'production'")
    if settings["PAYLINE_ENV"] != "development":
        missing = [k for k in REQUIRED_OUTSIDE_DEVELOPMENT if not settings.get(k)]
        if missing:
            problems.append("missing required settings: " + ", ".join(missing))
        reused = [
            k
            for k, v in DEVELOPMENT_SECRETS.items()
            if k != "CONNECTOR_USERNAME" and settings.get(k) == v
        ]
        if reused:
            problems.append(
                "development values are not allowed in production: " + ", ".join(reused)
            )
    if settings["VOICE_LANGUAGE"].lower() not in PAY_LANGUAGES:
        problems.append(
            "VOICE_LANGUAGE must be one <Pay> speaks: " + ", ".join(sorted(PAY_LANGUAGES))
        )
    if settings["CONNECTOR_MODE"] not in ("test", "live"):
        problems.append("CONNECTOR_MODE must be 'test' or 'live'")
    if settings["PUBLIC_BASE_URL"] and not settings["PUBLIC_BASE_URL"].startswith(
        ("https://", "http://")
    ):
        problems.append("PUBLIC_BASE_URL must start with https:// (or http:// for local use)")
    problems += security_problems(settings)
    problems.extend(_operator_timezone_problems(settings))
    if settings.get("ACH_AUTHORIZATION_TEMPLATE"):
        from billing.ach import StatementError, check_template

        try:
            check_template(settings["ACH_AUTHORIZATION_TEMPLATE"])
        except StatementError as error:
            problems.append(str(error))
    if problems:
        raise ConfigError("PayLine cannot start: " + "; ".join(problems))


# -- agent assist (the /agent console and Twilio's Payments API) ---------------------------------

AGENT_DEFAULTS: dict[str, Any] = {
    "TWILIO_API_BASE_URL": None,  # None: https://api.twilio.com; the emulator's stand-in locally
    "TWILIO_API_TIMEOUT_SECONDS": 10.0,
    "TWILIO_API_RETRIES": 2,  # further tries of an unanswered call, with the same key
    "AGENT_USERNAME": None,  # the console's HTTP Basic pair (else the ADMIN_* pair)
    "AGENT_PASSWORD": None,
    "AGENT_CAPTURE_TIMEOUT_SECONDS": None,  # Twilio's per-digit Timeout (default 5, max 600)
}


def _agent_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any], settings: dict[str, Any]
) -> None:
    """Read and check the agent-assist block; the REST base URL carries the auth token, so it
    is https unless it is this machine (the emulator's stand-in)."""
    for key, default in AGENT_DEFAULTS.items():
        value = overrides.get(key, environ.get(key) or default)
        settings[key] = value
    settings["TWILIO_API_TIMEOUT_SECONDS"] = _number(
        "TWILIO_API_TIMEOUT_SECONDS", settings["TWILIO_API_TIMEOUT_SECONDS"], float
    )
    settings["TWILIO_API_RETRIES"] = _number(
        "TWILIO_API_RETRIES", settings["TWILIO_API_RETRIES"], int
    )
    if settings["AGENT_CAPTURE_TIMEOUT_SECONDS"] is not None:
        timeout = _number(
            "AGENT_CAPTURE_TIMEOUT_SECONDS", settings["AGENT_CAPTURE_TIMEOUT_SECONDS"], int
        )
        if not 1 <= timeout <= 600:
            raise ConfigError("AGENT_CAPTURE_TIMEOUT_SECONDS must be 1 to 600")
        settings["AGENT_CAPTURE_TIMEOUT_SECONDS"] = timeout
    base = (settings["TWILIO_API_BASE_URL"] or "").rstrip("/") or None
    settings["TWILIO_API_BASE_URL"] = base
    if base:
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ConfigError(
                "PayLine cannot start: TWILIO_API_BASE_URL must be https:// "
                "(http:// only for this machine, e.g. the emulator's stand-in)"
            )
    if not 0 <= settings["TWILIO_API_RETRIES"] <= 5:
        raise ConfigError("TWILIO_API_RETRIES must be 0 to 5")


# -- Secret strength and login throttling (issue 11) -----------------------------------------

STRONG_SECRETS: dict[str, tuple[int, float]] = {
    "SECRET_KEY": (32, 100.0),
    "CONNECTOR_PASSWORD": (16, 64.0),
    "ADMIN_PASSWORD": (16, 64.0),
    "AGENT_PASSWORD": (16, 64.0),
}
"""Per secret: the minimum length and the minimum estimated entropy (bits), in production.
`python -c "import secrets; print(secrets.token_urlsafe(32))"` makes one that passes."""

DEFAULTS.update({"LOGIN_FAILURE_LIMIT": 10, "LOGIN_FAILURE_WINDOW_SECONDS": 300.0})


def estimated_entropy_bits(value: str) -> float:
    """Length × the Shannon entropy of the value's characters: repeats, small alphabets and
    patterns such as `aaaa…` or `abab…` score low; a random token scores close to its size."""
    import math
    from collections import Counter

    if not value:
        return 0.0
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def security_problems(settings: dict[str, Any]) -> list[str]:
    """What production refuses about secrets (each named), and the throttle's numbers."""
    problems = []
    for key, kind in (("LOGIN_FAILURE_LIMIT", int), ("LOGIN_FAILURE_WINDOW_SECONDS", float)):
        try:
            settings[key] = kind(settings[key])
        except (TypeError, ValueError):
            problems.append(f"{key} must be a number")
    if settings["PAYLINE_ENV"] == "development":
        return problems
    development = {v.strip().casefold() for v in DEVELOPMENT_SECRETS.values()}
    for key, (length, bits) in STRONG_SECRETS.items():
        value = settings.get(key)
        if not value:
            continue  # missing: reported with the other required settings
        text = str(value)
        if text.strip().casefold() in development:
            problems.append(f"{key} is a development value, refused in production")
        elif text != text.strip():
            problems.append(f"{key} has leading or trailing whitespace")
        elif len(text) < length:
            problems.append(f"{key} is too short: at least {length} characters")
        elif estimated_entropy_bits(text) < bits:
            problems.append(f"{key} is too guessable: use a random value of {length}+ characters")
    token = str(settings.get("TWILIO_AUTH_TOKEN") or "")
    exact = token == DEVELOPMENT_SECRETS["TWILIO_AUTH_TOKEN"]  # reported with the others above
    if not exact and token.strip().casefold() in development:
        problems.append("TWILIO_AUTH_TOKEN is a development value, refused in production")
    for user, password in (
        ("CONNECTOR_USERNAME", "CONNECTOR_PASSWORD"),
        ("ADMIN_USERNAME", "ADMIN_PASSWORD"),
        ("AGENT_USERNAME", "AGENT_PASSWORD"),
    ):
        if settings.get(password) and settings.get(password) == settings.get(user):
            problems.append(f"{password} must not equal {user}")
    return problems


def _operator_timezone_problems(settings: dict[str, Any]) -> list[str]:
    """OPERATOR_TIMEZONE must name a zone this machine knows (tzdata), e.g. America/New_York."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(settings["OPERATOR_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        zone = settings["OPERATOR_TIMEZONE"]
        return [f"OPERATOR_TIMEZONE must be an IANA time zone name, got {zone!r}"]
    return []
