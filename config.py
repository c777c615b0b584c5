"""Settings read once from the environment (12-factor), with development defaults that only
apply when PAYLINE_ENV=development, so that production can never run on a known secret."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

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
    "PROCESSOR_URL": None,
    "PROCESSOR_USERNAME": None,
    "PROCESSOR_PASSWORD": None,
    "PROCESSOR_TIMEOUT_SECONDS": 8.0,
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
}

PAY_LANGUAGES = frozenset(
    "en-au en-ca en-gb en-in en-us es-es es-mx fr-ca fr-fr de-de it-it".split()
)
"""The languages Twilio's <Pay> speaks (card prompts); every prompt of the call uses one."""

_FLOATS = (
    "PROCESSOR_TIMEOUT_SECONDS",
    "PROCESSOR_RETRY_SECONDS",
    "INVOICE_HOLD_SECONDS",
    "UNKNOWN_HOLD_SECONDS",
    "SANDBOX_SLOW_SECONDS",
    "IDEMPOTENCY_WAIT_SECONDS",
    "IDEMPOTENCY_LEASE_SECONDS",
)
_INTS = ("PROXY_FIX_HOPS", "MAX_CONTENT_LENGTH")


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
    _fill_development_secrets(settings)
    _validate(settings)
    return settings


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


def _validate(settings: dict[str, Any]) -> None:
    problems = []
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
    if settings["PROCESSOR"] not in ("sandbox", "http"):
        problems.append("PROCESSOR must be 'sandbox' or 'http'")
    if settings["PROCESSOR"] == "http" and not settings.get("PROCESSOR_URL"):
        problems.append("PROCESSOR=http needs PROCESSOR_URL")
    processor_url = settings.get("PROCESSOR_URL") or ""
    if processor_url.startswith("http://") and settings["PAYLINE_ENV"] != "development":
        problems.append("PROCESSOR_URL must be https:// outside development (card data)")
    if settings["PUBLIC_BASE_URL"] and not settings["PUBLIC_BASE_URL"].startswith(
        ("https://", "http://")
    ):
        problems.append("PUBLIC_BASE_URL must start with https:// (or http:// for local use)")
    problems.extend(_operator_timezone_problems(settings))
    if settings.get("ACH_AUTHORIZATION_TEMPLATE"):
        from billing.ach import StatementError, check_template

        try:
            check_template(settings["ACH_AUTHORIZATION_TEMPLATE"])
        except StatementError as error:
            problems.append(str(error))
    if problems:
        raise ConfigError("PayLine cannot start: " + "; ".join(problems))


def _operator_timezone_problems(settings: dict[str, Any]) -> list[str]:
    """OPERATOR_TIMEZONE must name a zone this machine knows (tzdata), e.g. America/New_York."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(settings["OPERATOR_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        zone = settings["OPERATOR_TIMEZONE"]
        return [f"OPERATOR_TIMEZONE must be an IANA time zone name, got {zone!r}"]
    return []
