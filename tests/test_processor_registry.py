"""Processors from the registry: PROCESSOR names one, each declares and validates its settings."""

from __future__ import annotations

import base64
import logging

import pytest

from config import ConfigError, load_settings
from connector.processors.authorize_net import AuthorizeNetProcessor
from connector.processors.http import HttpGatewayProcessor
from connector.processors.registry import build, processors
from connector.processors.transport import GatewayClient, GatewayUnavailable

PRODUCTION = {
    "SECRET_KEY": "s-Hq7vN2xR9tLm4pW8zB3cY6jK1sD5fG0aQ",
    "TWILIO_AUTH_TOKEN": "t",
    "CONNECTOR_USERNAME": "u",
    "CONNECTOR_PASSWORD": "p-Hq7vN2xR9tLm4pW8",
}
ANET = {
    **PRODUCTION,
    "PROCESSOR": "authorize_net",
    "AUTHORIZE_NET_API_LOGIN_ID": "5KP3u95bQpv",
    "AUTHORIZE_NET_TRANSACTION_KEY": "346HZ32z3fP4hTG2",
}


def test_the_registry_finds_every_processor_module_by_its_spec():
    assert {"sandbox", "http", "authorize_net"} <= set(processors())


def test_authorize_net_defaults_to_the_sandbox_endpoint_a_telephone_order_and_a_window():
    settings = load_settings(ANET)

    assert settings["AUTHORIZE_NET_ENVIRONMENT"] == "sandbox"
    assert settings["AUTHORIZE_NET_MARKET_TYPE"] == "1"
    assert settings["AUTHORIZE_NET_DUPLICATE_WINDOW_SECONDS"] == 1800
    processor = build("authorize_net", settings)(None)
    assert isinstance(processor, AuthorizeNetProcessor)
    assert processor.settings.url == "https://apitest.authorize.net/xml/v1/request.api"


def test_production_environment_uses_the_production_endpoint():
    settings = load_settings({**ANET, "AUTHORIZE_NET_ENVIRONMENT": "production"})

    processor = build("authorize_net", settings)(None)
    assert processor.settings.url == "https://api.authorize.net/xml/v1/request.api"


def test_missing_authorize_net_credentials_are_named_and_the_app_refuses_to_start():
    with pytest.raises(ConfigError) as error:
        load_settings({**PRODUCTION, "PROCESSOR": "authorize_net"})

    assert "AUTHORIZE_NET_API_LOGIN_ID" in str(error.value)
    assert "AUTHORIZE_NET_TRANSACTION_KEY" in str(error.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTHORIZE_NET_TRANSACTION_KEY", "short-key"),
        ("AUTHORIZE_NET_ENVIRONMENT", "staging"),
        ("AUTHORIZE_NET_API_URL", "http://gateway.example.com/xml/v1/request.api"),
        ("AUTHORIZE_NET_API_URL", "ftp://gateway.example.com"),
        ("AUTHORIZE_NET_DUPLICATE_WINDOW_SECONDS", "30"),
        ("AUTHORIZE_NET_DUPLICATE_WINDOW_SECONDS", "a day"),
        ("AUTHORIZE_NET_MARKET_TYPE", "mail"),
        ("AUTHORIZE_NET_TIMEOUT_SECONDS", "12"),
        ("PROCESSOR_TIMEOUT_SECONDS", "30"),
    ],
)
def test_a_malformed_processor_setting_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({**ANET, name: value})


def test_a_secret_settings_value_is_never_repeated_in_the_message():
    with pytest.raises(ConfigError) as error:
        load_settings({**ANET, "AUTHORIZE_NET_TRANSACTION_KEY": "not-the-16-chars-key"})

    assert "not-the-16-chars-key" not in str(error.value)


def test_an_unknown_processor_lists_the_known_ones():
    with pytest.raises(ConfigError) as error:
        load_settings({**PRODUCTION, "PROCESSOR": "stripe"})

    assert "authorize_net" in str(error.value) and "sandbox" in str(error.value)


def test_plain_http_is_allowed_only_on_loopback_for_a_fake_gateway():
    settings = load_settings(
        {**ANET, "AUTHORIZE_NET_API_URL": "http://127.0.0.1:8089/xml/v1/request.api"}
    )

    assert settings["AUTHORIZE_NET_API_URL"].startswith("http://127.0.0.1")


def test_production_with_the_sandbox_processor_starts_with_a_loud_warning(caplog):
    with caplog.at_level(logging.WARNING):
        settings = load_settings(PRODUCTION)

    assert settings["PROCESSOR"] == "sandbox"
    assert any("no real money moves" in r.getMessage() for r in caplog.records)


def test_the_http_adapter_sends_an_empty_password_not_the_text_none(requests_mock):
    url = "https://gateway.example.com/v1/payments"
    requests_mock.post(url, json={"id": "gw_1"})
    processor = HttpGatewayProcessor(url=url, username="pk", password=None, timeout_seconds=8)

    processor.void(_charge_ref(), "void-1")

    header = requests_mock.last_request.headers["Authorization"]
    assert base64.b64decode(header.split()[1]) == b"pk:"


def test_the_http_adapter_implements_lookup_refund_and_token_charges(requests_mock):
    from decimal import Decimal

    from connector.processors import LookupStatus

    url = "https://gateway.example.com/v1/payments"
    processor = HttpGatewayProcessor(url=url, username="pk", password="sk", timeout_seconds=8)
    requests_mock.post(url, status_code=404, json={})
    assert processor.lookup("tx-1").status == LookupStatus.NOT_FOUND
    requests_mock.post(url, json={"status": "charged", "id": "gw_1", "amount": "10.00"})
    assert (processor.lookup("tx-1").id, processor.lookup("tx-1").amount) == (
        "gw_1",
        Decimal("10.00"),
    )
    requests_mock.post(url, json={"id": "re_1"})
    assert processor.refund(_charge_ref(), Decimal("4.00"), "refund-1").id == "re_1"
    assert requests_mock.last_request.json() == {
        "type": "refund",
        "charge_id": "gw_1",
        "amount": "4.00",
        "currency": "USD",
    }
    assert processor.charge_token("tok_1", Decimal("2.00"), "USD", "tx-2").id == "re_1"
    assert requests_mock.last_request.json()["type"] == "charge_token"


def test_a_connection_never_made_is_unavailable_and_known_not_sent():
    client = GatewayClient("http://127.0.0.1:9/never", timeout_seconds=1)

    with pytest.raises(GatewayUnavailable) as failure:
        client.post(b"{}", headers={})

    assert failure.value.sent is False


def _charge_ref():
    from decimal import Decimal

    from connector.processors import ChargeRef

    return ChargeRef("gw_1", Decimal("10.00"), "USD", "card", last4="1111")
