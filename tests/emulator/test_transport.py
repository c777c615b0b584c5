"""Signing and delivery rules, and the emulator's independence from the app it tests."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from twilio.request_validator import RequestValidator

from emulator.commands import _connector_override
from emulator.transport import delivery_url, sign, signing_url, with_query

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"


def test_the_signature_of_the_reference_worked_example():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    url = "https://example.com/myapp.php?foo=1&bar=2"
    assert sign("12345", url, params) == "L/OH5YylLD5NRKLltdqwSvS0BnU="


@pytest.mark.parametrize(
    ("named", "signed"),
    [
        ("https://pay.example.com:8443/voice?a=1", "https://pay.example.com/voice?a=1"),
        ("http://127.0.0.1:5000/voice", "http://127.0.0.1:5000/voice"),
        ("https://user:pw@pay.example.com/voice", "https://pay.example.com/voice"),
    ],
)
def test_signing_drops_credentials_and_the_https_port(named, signed):
    assert signing_url(named) == signed


def test_a_signature_for_an_https_url_with_a_port_validates_as_twilio_python_checks_it():
    url = "https://pay.example.com:8443/voice/pay/complete?attempt=1"
    signature = sign("tok", url, {"Result": "success"})
    assert RequestValidator("tok").validate(url, {"Result": "success"}, signature)


@pytest.mark.parametrize(
    ("named", "delivered"),
    [
        (
            "https://pay.example.com/voice/pay/complete?attempt=1&x=%20",
            "http://127.0.0.1:5000/voice/pay/complete?attempt=1&x=%20",
        ),
        ("http://127.0.0.1:5000/voice/menu", "http://127.0.0.1:5000/voice/menu"),
        ("https://other.example.org", "http://127.0.0.1:5000/"),
    ],
)
def test_delivery_keeps_path_and_query_and_takes_the_base_origin(named, delivered):
    assert delivery_url(named, "http://127.0.0.1:5000") == delivered


def test_a_get_carries_its_params_in_the_query():
    assert with_query("https://a.example/x?k=1", {"Digits": "1 2"}) == (
        "https://a.example/x?k=1&Digits=1+2"
    )


def test_connector_override_takes_credentials_from_the_url():
    name, endpoint = _connector_override("Stripe=https://u:p%40ss@gw.example.com/c", "a", "b")
    assert (name, endpoint.url, endpoint.username, endpoint.password) == (
        "Stripe",
        "https://gw.example.com/c",
        "u",
        "p@ss",
    )
    assert "p@ss" not in repr(endpoint)
    with pytest.raises(click.BadParameter):
        _connector_override("no-equals-sign", "a", "b")


def test_the_emulator_imports_nothing_of_the_app_it_tests():
    forbidden = ("app", "blueprints", "connector", "storage", "config", "wiring", "ivr")
    found = []
    for path in EMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            tops = [n.split(".")[0] for n in names]
            found += [
                f"{path.name}: {top}"
                for top in tops
                if top in forbidden or top.startswith(("storage", "config"))
            ]
    assert found == []
