"""Card on file and ACH by phone, walked by the emulator in-process (simulate-call --json).

Demo invoices: 1001 (42.50 USD), 1002 (120.00), 1003 (15.51: the sandbox declines it).
"""

from __future__ import annotations

import pytest

from tests.conftest import PUBLIC_BASE_URL, signature
from tests.test_ivr_flow import call, invoice, make_app, payments, said


@pytest.fixture
def ivr(tmp_path):
    return make_app(tmp_path, BUSINESS_PHONE="+18005550100")


def post(app, path: str, params: dict):
    headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + path, params)}
    return app.test_client().post(path, data=params, headers=headers)


def test_a_saved_card_is_offered_first_and_pays_the_invoice_without_pay(ivr):
    saved = call(ivr, "--digits", "2,1001#")
    assert saved["result"]["PaymentToken"]

    transcript = call(ivr, "--digits", "1,1001#,1")

    assert "To pay with your saved Visa ending 1 1 1 1, press 1" in said(transcript)
    assert transcript["payments"] == []  # no <Pay>: the processor charged the token
    paid = invoice(ivr, "1001")
    assert paid["status"] == "paid" and paid["confirmation"].startswith("ch_sbx_")
    assert ", ".join(paid["confirmation"].rsplit("_", 1)[-1].upper()) in said(transcript)
    assert "Your payment was successful" in said(transcript)
    settled = payments(ivr)[-1]
    assert (settled["outcome"], settled["result"]) == ("settled", "success")
    assert settled["payment_token"] == saved["result"]["PaymentToken"]


def test_another_way_skips_the_saved_card(ivr):
    call(ivr, "--digits", "2,1001#")

    transcript = call(ivr, "--digits", "1,1001#,2,1")

    assert [p["pay"]["paymentMethod"] for p in transcript["payments"]] == ["credit-card"]
    assert invoice(ivr, "1001")["status"] == "paid"


def test_a_declined_saved_card_offers_the_other_ways_to_pay(ivr):
    call(ivr, "--digits", "2,1003#")

    transcript = call(ivr, "--digits", "1,1003#,1,2,1")

    assert "Your saved card could not be charged. Nothing has been charged." in said(transcript)
    assert "To pay by card, press 1. To pay from a bank account, press 2." in said(transcript)
    assert [p["pay"]["paymentMethod"] for p in transcript["payments"]] == ["ach-debit"]
    assert invoice(ivr, "1003")["status"] == "open"
    outcomes = [p["outcome"] for p in payments(ivr) if p["invoice_number"] == "1003"]
    assert outcomes == ["saved", "refused", "refused"]


def test_a_saved_card_webhook_retried_five_times_charges_once(ivr):
    call(ivr, "--digits", "2,1002#")
    params = {"CallSid": "CA" + "3" * 32, "Digits": "1"}

    answers = [
        post(ivr, "/voice/saved-card?invoice=1002&attempt=1&tries=1", params).data for _ in range(5)
    ]

    assert len(set(answers)) == 1 and b"Your payment was successful" in answers[0]
    store = ivr.extensions["payline"].open_store()
    try:
        charges = store.db.query("select * from sandbox_ledger where kind = 'charge'")
        requests = store.db.query("select * from sandbox_requests where idempotency_key like 'CA%'")
    finally:
        store.close()
    assert len(charges) == 1
    assert requests == [] or requests[0]["requests"] == 1
    assert [p["outcome"] for p in payments(ivr) if p["invoice_number"] == "1002"] == [
        "saved",
        "settled",
    ]


def test_an_ach_debit_is_authorised_by_the_caller_and_recorded_with_the_payment(ivr):
    transcript = call(ivr, "--digits", "1,1002#,2,1")

    heard = said(transcript)
    assert "you authorize PayLine to make a single, one time ACH debit" in heard
    assert "one hundred twenty dollars" in heard
    assert "1, 8, 0, 0, 5, 5, 5, 0, 1, 0, 0" in heard
    assert "To agree, press 1" in heard
    assert transcript["result"]["Result"] == "success"
    store = ivr.extensions["payline"].open_store()
    try:
        [agreement] = store.db.query("select * from ach_authorizations")
        payment = store.payment(agreement["payment_id"])
    finally:
        store.close()
    assert agreement["statement"] in heard
    assert agreement["statement_version"] and agreement["agreed_at"]
    assert agreement["call_sid"] == payment["call_sid"]
    assert payment["payment_method"] == "ach-debit" and payment["outcome"] == "settled"


def test_declining_the_ach_authorisation_runs_no_pay_and_offers_the_other_ways(ivr):
    transcript = call(ivr, "--digits", "1,1002#,2,2,1")

    assert "You did not authorize the bank debit. Nothing has been charged." in said(transcript)
    assert [p["pay"]["paymentMethod"] for p in transcript["payments"]] == ["credit-card"]
    store = ivr.extensions["payline"].open_store()
    try:
        assert store.db.query("select * from ach_authorizations") == []
    finally:
        store.close()


def test_the_ach_statement_template_and_version_are_configurable(tmp_path):
    app = make_app(
        tmp_path,
        ACH_AUTHORIZATION_TEMPLATE="{business} will debit {amount} once on {date}. Call {phone}.",
        ACH_AUTHORIZATION_VERSION="v7",
    )

    transcript = call(app, "--digits", "1,1002#,2,1", "--to", "+14155550199")

    assert "PayLine will debit one hundred twenty dollars once on" in said(transcript)
    store = app.extensions["payline"].open_store()
    try:
        [agreement] = store.db.query("select * from ach_authorizations")
    finally:
        store.close()
    assert agreement["statement_version"] == "v7"
    assert "1, 4, 1, 5, 5, 5, 5, 0, 1, 9, 9" in agreement["statement"]  # the number dialled


def test_an_ach_template_without_a_required_field_stops_the_start():
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="must name date, phone"):
        load_settings(
            {"PAYLINE_ENV": "development"},
            {"ACH_AUTHORIZATION_TEMPLATE": "{business} debits {amount}"},
        )


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("0", False)])
def test_ledger_reconciliation_is_a_flag(text, value):
    from config import load_settings

    assert (
        load_settings({"PAYLINE_ENV": "development", "LEDGER_RECONCILIATION": text})[
            "LEDGER_RECONCILIATION"
        ]
        is value
    )


def test_a_saved_card_is_not_offered_when_the_processor_cannot_charge_tokens(tmp_path, monkeypatch):
    from connector.processors.http import HttpGatewayProcessor

    monkeypatch.delattr(HttpGatewayProcessor, "charge_token", raising=False)
    app = make_app(tmp_path, PROCESSOR="http", PROCESSOR_URL="http://127.0.0.1:9/gateway")
    store = app.extensions["payline"].open_store()
    try:
        store.keep_card_on_file("1001", "tok_elsewhere", "visa", "4444")
    finally:
        store.close()

    transcript = call(app, "--digits", "1,1001#")

    assert "saved" not in said(transcript)
    assert "To pay by card, press 1" in said(transcript)
