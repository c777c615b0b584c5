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
    problems += security_problems(settings)
    if problems:
        raise ConfigError("PayLine cannot start: " + "; ".join(problems))


# -- Secret strength and login throttling (issue 11) -----------------------------------------

STRONG_SECRETS: dict[str, tuple[int, float]] = {
    "SECRET_KEY": (32, 100.0),
    "CONNECTOR_PASSWORD": (16, 64.0),
    "ADMIN_PASSWORD": (16, 64.0),
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
    ):
        if settings.get(password) and settings.get(password) == settings.get(user):
            problems.append(f"{password} must not equal {user}")
    return problems
