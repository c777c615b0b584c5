"""Settings: development defaults only in development, production names what is missing."""

from __future__ import annotations

import pytest

from config import DEVELOPMENT_SECRETS, ConfigError, load_settings

PRODUCTION = {
    "SECRET_KEY": "k3Vq9-tXz0LrW8yB2nHs5JcP7mQa1dEf4gU6iO",
    "TWILIO_AUTH_TOKEN": "t",
    "CONNECTOR_USERNAME": "u",
    "CONNECTOR_PASSWORD": "Zp4-rT8wQm2Lx7Vn9Bc",
}


def test_development_fills_in_the_shared_development_secrets():
    settings = load_settings({"PAYLINE_ENV": "development"})

    assert settings["TWILIO_AUTH_TOKEN"] == DEVELOPMENT_SECRETS["TWILIO_AUTH_TOKEN"]
    assert settings["CONNECTOR_PASSWORD"] == DEVELOPMENT_SECRETS["CONNECTOR_PASSWORD"]


def test_production_is_the_default_and_names_every_missing_secret():
    with pytest.raises(ConfigError) as error:
        load_settings({})

    for name in PRODUCTION:
        assert name in str(error.value)


def test_production_refuses_the_development_values():
    with pytest.raises(ConfigError, match="development values"):
        load_settings({**PRODUCTION, "TWILIO_AUTH_TOKEN": DEVELOPMENT_SECRETS["TWILIO_AUTH_TOKEN"]})


def test_production_starts_with_its_secrets_and_strips_the_public_url_slash():
    settings = load_settings({**PRODUCTION, "PUBLIC_BASE_URL": "https://pay.example.com/"})

    assert settings["PUBLIC_BASE_URL"] == "https://pay.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONNECTOR_MODE", "sandbox"),
        ("PROCESSOR", "stripe"),
        ("SANDBOX_SLOW_SECONDS", "soon"),
        ("PUBLIC_BASE_URL", "pay.example.com"),
        ("VOICE_LANGUAGE", "pt-BR"),
        ("PROCESSOR_URL", "http://gateway.example.com"),
    ],
)
def test_a_bad_value_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({**PRODUCTION, name: value})
