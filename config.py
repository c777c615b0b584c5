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
    _agent_settings(environ, overrides or {}, settings)
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
