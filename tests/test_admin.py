"""The operators' dashboard: shut without credentials, behind Basic auth, never a card number."""

from __future__ import annotations

import json

import pytest

from app import create_app
from tests.conftest import basic_auth, settings

OPERATOR = basic_auth("operator", "s3cret")


@pytest.fixture
def dashboard(tmp_path):
    app = create_app(settings(tmp_path, ADMIN_USERNAME="operator", ADMIN_PASSWORD="s3cret"))
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db", "--demo"])
    paid = runner.invoke(args=["simulate-call", "--json", "--digits", "1,1001#,1"])
    runner.invoke(args=["simulate-call", "--digits", "1,1003#,1"])
    return app, json.loads(paid.stdout)


def test_without_admin_credentials_configured_the_dashboard_is_shut(client):
    response = client.get("/admin/", headers=OPERATOR)

    assert response.status_code == 403
    assert b"ADMIN_USERNAME" in response.data


@pytest.mark.parametrize(
    "headers", [{}, basic_auth("operator", "wrong"), basic_auth("x", "s3cret")]
)
def test_wrong_or_missing_credentials_get_401(dashboard, headers):
    app, _ = dashboard

    response = app.test_client().get("/admin/", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_payments_page_lists_attempts_with_last_four_only(dashboard):
    app, transcript = dashboard

    page = app.test_client().get("/admin/", headers=OPERATOR).get_data(as_text=True)

    assert transcript["result"]["PaymentConfirmationCode"] in page
    assert "card_declined" in page
    assert "…1111" in page
    assert "4111111111111111" not in page


def test_call_page_shows_attempts_and_progress_events(dashboard):
    app, transcript = dashboard
    call_sid = transcript["steps"][0]["sent"]["CallSid"]

    page = app.test_client().get(f"/admin/calls/{call_sid}", headers=OPERATOR).get_data(True)

    assert "payment-card-number" in page and "payment-processing" in page


def test_an_unknown_call_is_404(dashboard):
    app, _ = dashboard

    assert app.test_client().get("/admin/calls/CAnope", headers=OPERATOR).status_code == 404


def test_invoices_and_ledger_pages(dashboard):
    app, transcript = dashboard
    client = app.test_client()

    invoices = client.get("/admin/invoices", headers=OPERATOR).get_data(as_text=True)
    ledger = client.get("/admin/ledger", headers=OPERATOR).get_data(as_text=True)

    assert "Ada Lovelace" in invoices and 'class="paid"' in invoices
    assert transcript["result"]["PayConnector_transaction_id"] in ledger
    assert "4111111111111111" not in invoices + ledger


def test_free_text_is_escaped(dashboard, twilio_post_for_admin):
    app, _ = dashboard
    twilio_post_for_admin(app, {"Result": "validation-error", "PaymentError": "<script>x</script>"})

    page = app.test_client().get("/admin/", headers=OPERATOR).get_data(as_text=True)

    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


@pytest.fixture
def twilio_post_for_admin():
    from tests.conftest import PUBLIC_BASE_URL, signature

    def post(app, fields: dict):
        params = {"CallSid": "CA" + "7" * 32, **fields}
        path = "/voice/pay/complete?attempt=1"
        headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + path, params)}
        return app.test_client().post(path, data=params, headers=headers)

    return post


def test_a_payment_that_needs_a_refund_is_flagged_on_the_dashboard(
    dashboard, twilio_post_for_admin
):
    app, paid = dashboard
    from tests.conftest import PUBLIC_BASE_URL, basic_auth, card_charge, signature

    # A second caller's charge, booked by the connector, for the invoice already paid.
    late_call = "CA" + "8" * 32
    body = card_charge(
        "tx-late", "42.50", parameters={"invoice_number": "1001", "call_sid": late_call}
    )
    charged = app.test_client().post("/connector", json=body, headers=basic_auth()).get_json()
    late = {
        **paid["result"],
        "CallSid": late_call,
        "PaymentConfirmationCode": charged["charge_id"],
        "PayConnector_transaction_id": "tx-late",
    }

    url = paid["payments"][0]["action_url"]
    path = url.removeprefix(PUBLIC_BASE_URL)
    headers = {"X-Twilio-Signature": signature(url, late)}
    app.test_client().post(path, data=late, headers=headers)

    page = app.test_client().get("/admin/", headers=OPERATOR).get_data(as_text=True)

    assert "refund due" in page
