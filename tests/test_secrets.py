"""Production refuses weak and development secrets, naming each one; development does not."""

from __future__ import annotations

import pytest

from config import DEVELOPMENT_SECRETS, ConfigError, estimated_entropy_bits, load_settings

STRONG = {
    "SECRET_KEY": "k3Vq9-tXz0LrW8yB2nHs5JcP7mQa1dEf4gU6iO",
    "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
    "CONNECTOR_USERNAME": "twilio",
    "CONNECTOR_PASSWORD": "Zp4-rT8wQm2Lx7Vn9Bc",
    "ADMIN_USERNAME": "operator",
    "ADMIN_PASSWORD": "op-Hq7vN2xR9tLm4pW8",
}


def test_production_starts_with_strong_secrets():
    settings = load_settings(STRONG)

    assert settings["SECRET_KEY"] == STRONG["SECRET_KEY"]


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SECRET_KEY", "s", "too short"),
        ("SECRET_KEY", "x" * 40, "too guessable"),
        ("SECRET_KEY", "ab" * 20, "too guessable"),
        ("SECRET_KEY", DEVELOPMENT_SECRETS["SECRET_KEY"], "development value"),
        ("SECRET_KEY", DEVELOPMENT_SECRETS["SECRET_KEY"] + " ", "development value"),
        ("SECRET_KEY", " " + DEVELOPMENT_SECRETS["SECRET_KEY"].upper(), "development value"),
        ("SECRET_KEY", STRONG["SECRET_KEY"] + "\n", "whitespace"),
        ("CONNECTOR_PASSWORD", "admin", "too short"),
        ("CONNECTOR_PASSWORD", "passwordpassword", "too guessable"),
        ("CONNECTOR_PASSWORD", "Password1234567!", "too guessable"),
        ("CONNECTOR_PASSWORD", DEVELOPMENT_SECRETS["CONNECTOR_PASSWORD"], "development value"),
        ("CONNECTOR_PASSWORD", DEVELOPMENT_SECRETS["CONNECTOR_PASSWORD"] + "\t", "development"),
        ("ADMIN_PASSWORD", "admin", "too short"),
        ("ADMIN_PASSWORD", "s3cret", "too short"),
        ("ADMIN_PASSWORD", "aaaaaaaaaaaaaaaaaaaa", "too guessable"),
        ("ADMIN_PASSWORD", " " + DEVELOPMENT_SECRETS["CONNECTOR_PASSWORD"], "development value"),
        ("TWILIO_AUTH_TOKEN", DEVELOPMENT_SECRETS["TWILIO_AUTH_TOKEN"] + " ", "development value"),
    ],
)
def test_production_refuses_a_weak_or_development_secret_naming_it(name, value, reason):
    with pytest.raises(ConfigError) as error:
        load_settings({**STRONG, name: value})

    message = str(error.value)
    assert f"{name} " in message and reason in message
    if len(value.strip()) > 5:
        assert value.strip() not in message  # the message names the secret, never shows it
    others = set(STRONG) - {name, "ADMIN_USERNAME", "CONNECTOR_USERNAME"}
    assert not any(f"{other} is" in message for other in others)


def test_every_weak_secret_is_named_at_once():
    with pytest.raises(ConfigError) as error:
        load_settings(
            {**STRONG, "SECRET_KEY": "x", "CONNECTOR_PASSWORD": "y", "ADMIN_PASSWORD": "z"}
        )

    for name in ("SECRET_KEY", "CONNECTOR_PASSWORD", "ADMIN_PASSWORD"):
        assert name in str(error.value)


def test_a_password_equal_to_its_username_is_refused():
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD must not equal ADMIN_USERNAME"):
        load_settings({**STRONG, "ADMIN_USERNAME": STRONG["ADMIN_PASSWORD"]})


def test_development_keeps_its_shared_values():
    settings = load_settings({"PAYLINE_ENV": "development", "ADMIN_PASSWORD": "admin"})

    assert settings["SECRET_KEY"] == DEVELOPMENT_SECRETS["SECRET_KEY"]
    assert settings["ADMIN_PASSWORD"] == "admin"


def test_the_entropy_estimate_scores_random_tokens_above_patterns():
    import secrets

    assert estimated_entropy_bits(secrets.token_urlsafe(32)) > 150
    assert estimated_entropy_bits("a" * 64) == 0
    assert estimated_entropy_bits("correct horse battery staple") > 64


def test_the_throttle_settings_must_be_numbers():
    with pytest.raises(ConfigError, match="LOGIN_FAILURE_LIMIT"):
        load_settings({**STRONG, "LOGIN_FAILURE_LIMIT": "many"})
