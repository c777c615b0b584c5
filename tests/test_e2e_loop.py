"""The call-to-charge loop against the real server: gunicorn (the Procfile), SQLite, HTTP."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import PUBLIC_BASE_URL, basic_auth, card_charge, signature
from tests.server import serve

CALL = {
    "CallSid": "CA" + uuid.uuid4().hex,
    "AccountSid": "AC" + "2" * 32,
    "From": "+15005550006",
    "To": "+15005550001",
    "CallStatus": "in-progress",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}


@pytest.fixture
def server(tmp_path):
    server = serve(tmp_path, PUBLIC_BASE_URL=PUBLIC_BASE_URL)
    yield server
    server.stop()


def signed_post(server, public_url: str, params: dict) -> requests.Response:
    """Deliver to the loopback server what Twilio would send to the public URL."""
    parts = urlsplit(public_url)
    local = server.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"X-Twilio-Signature": signature(public_url, params)}
    return requests.post(local, data=params, headers=headers, timeout=10)


def gather_action(twiml: requests.Response) -> str:
    gather = ET.fromstring(twiml.content).find("./Gather")
    assert gather is not None and gather.get("action")
    return str(gather.get("action"))


def test_call_to_charge_loop_records_the_payment_with_the_connector_charge_id(server):
    assert server.flask("invoices", "add", "1001", "42.50", "--customer", "Ada").returncode == 0
    menu = signed_post(server, PUBLIC_BASE_URL + "/voice/incoming", CALL)
    ask = signed_post(server, gather_action(menu), {**CALL, "Digits": "1"})
    balance = signed_post(server, gather_action(ask), {**CALL, "Digits": "1001"})
    twiml = signed_post(server, gather_action(balance), {**CALL, "Digits": "1"})
    pay = ET.fromstring(twiml.content).find("./Pay")
    parameters = {p.get("name"): p.get("value") for p in pay.findall("./Parameter")}
    assert pay.get("chargeAmount") == "42.50"

    charge = requests.post(
        server.base_url + "/connector",
        json=card_charge(
            "tx-" + uuid.uuid4().hex, amount=pay.get("chargeAmount"), parameters=parameters
        ),
        headers=basic_auth(),
        timeout=10,
    ).json()
    assert charge["error_code"] is None

    callback = {
        **CALL,
        "Result": "success",
        "PaymentConfirmationCode": charge["charge_id"],
        "PaymentCardNumber": "xxxxxxxxxxxx1111",
        "PaymentCardType": "visa",
        "PaymentMethod": "credit-card",
        **{f"PayConnector_{k}": v for k, v in charge["parameters"].items()},
    }
    answer = signed_post(server, pay.get("action"), callback)
    assert answer.status_code == 200
    assert ET.fromstring(answer.content).find("./Say") is not None

    [row] = server.query("select * from payments where call_sid = :sid", {"sid": CALL["CallSid"]})
    assert row["result"] == "success"
    assert row["confirmation_code"] == charge["charge_id"]
    assert row["amount"] == "42.50"
    assert row["invoice_number"] == "1001"
    assert row["last4"] == "1111"
    [invoice] = server.query("select confirmation from invoices where number = '1001'")
    assert invoice["confirmation"] == charge["charge_id"]


def test_the_served_app_refuses_unsigned_webhooks_and_bad_credentials(server):
    unsigned = requests.post(server.base_url + "/voice/incoming", data=CALL, timeout=10)
    no_auth = requests.post(server.base_url + "/connector", json=card_charge("x"), timeout=10)

    assert unsigned.status_code == 403
    assert no_auth.status_code == 401


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    import subprocess
    import sys

    from tests.server import PROJECT

    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "init-db"],
        cwd=PROJECT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "missing required settings" in result.stderr
    assert "TWILIO_AUTH_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
