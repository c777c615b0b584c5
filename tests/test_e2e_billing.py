"""The settlement core against the app as production serves it: gunicorn, SQLite, real HTTP.

Driven by signed requests (what Twilio would post, signed for the public URL) and by the
emulator (`flask simulate-call --url`), with the connector charged as Twilio's <Pay> would,
so that every check of a callback against the connector's own ledger runs for real.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.conftest import CONNECTOR_PASSWORD, CONNECTOR_USER, card_charge, signature
from tests.server import serve

PUBLIC = "https://payline-billing.example.net"
NOTHING_CHARGED = "Nothing has been charged"


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    server = serve(
        tmp_path_factory.mktemp("e2e-billing"),
        workers=2,
        PUBLIC_BASE_URL=PUBLIC,
        SANDBOX_SLOW_SECONDS="0.2",
        BUSINESS_PHONE="+18005550100",
    )
    yield server
    server.stop()


def add_invoice(server, number: str, amount: str, currency: str = "USD") -> None:
    result = server.flask("invoices", "add", number, amount, "--currency", currency)
    assert result.returncode == 0, result.stderr


def new_call() -> str:
    return "CA" + uuid.uuid4().hex


def signed(server, path: str, params: dict) -> requests.Response:
    """POST as Twilio does: form params, signed for the public URL."""
    headers = {"X-Twilio-Signature": signature(PUBLIC + path, params)}
    response = requests.post(server.base_url + path, data=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


def start_pay(server, call_sid: str, number: str) -> str:
    """The caller chose card at the method menu: the app answers <Pay> and holds the invoice."""
    answer = signed(
        server,
        f"/voice/method?invoice={number}&attempt=1&tries=1",
        {"CallSid": call_sid, "Digits": "1"},
    )
    assert "<Pay" in answer.text, answer.text
    return answer.text


def connector_charge(
    server, call_sid: str, number: str, amount: str, currency: str = "USD"
) -> tuple[str, str]:
    """What Twilio's <Pay> sends PayLine's connector for this call: (transaction_id, charge_id)."""
    transaction_id = uuid.uuid4().hex
    body = card_charge(
        transaction_id,
        amount,
        currency_code=currency,
        parameters={"invoice_number": number, "call_sid": call_sid},
    )
    answer = requests.post(
        server.base_url + "/connector",
        json=body,
        auth=(CONNECTOR_USER, CONNECTOR_PASSWORD),
        timeout=30,
    ).json()
    assert answer["charge_id"], answer
    return transaction_id, answer["charge_id"]


def complete(
    server, call_sid: str, number: str, amount: str, params: dict, *, currency="USD", fallback=False
) -> str:
    query = f"invoice={number}&purpose=pay&attempt=1&amount={amount}&currency={currency}"
    if fallback:
        query += "&fallback=1"
    return signed(server, f"/voice/pay/complete?{query}", {"CallSid": call_sid, **params}).text


def invoice(server, number: str) -> dict:
    rows = json.loads(server.flask("invoices", "list", "--json").stdout)
    return next(row for row in rows if row["number"] == number)


def payments(server, number: str) -> list[dict]:
    return server.query(
        "select * from payments where invoice_number = :number order by id", {"number": number}
    )


def success(transaction_id: str, charge_id: str) -> dict:
    return {
        "Result": "success",
        "PaymentConfirmationCode": charge_id,
        "PayConnector_transaction_id": transaction_id,
        "PaymentMethod": "credit-card",
        "PaymentCardNumber": "xxxxxxxxxxxx1111",
        "PaymentCardType": "visa",
    }


# -- a charge the callback does not report ----------------------------------------------------


def test_a_charge_followed_by_caller_hung_up_settles_the_invoice(server):
    add_invoice(server, "8101", "42.50")
    call = new_call()
    start_pay(server, call, "8101")
    _, charge_id = connector_charge(server, call, "8101", "42.50")

    answer = complete(server, call, "8101", "42.50", {"Result": "caller-hung-up"})

    assert NOTHING_CHARGED not in answer
    assert invoice(server, "8101")["status"] == "paid"
    assert invoice(server, "8101")["confirmation"] == charge_id
    [payment] = payments(server, "8101")
    assert (payment["result"], payment["outcome"]) == ("caller-hung-up", "settled")


def test_a_charge_the_callback_calls_a_connector_error_is_read_back_as_paid(server):
    add_invoice(server, "8102", "42.50")
    call = new_call()
    start_pay(server, call, "8102")
    _, charge_id = connector_charge(server, call, "8102", "42.50")

    answer = complete(
        server,
        call,
        "8102",
        "42.50",
        {"Result": "payment-connector-error", "PayErrorCode": "64002"},
    )

    assert NOTHING_CHARGED not in answer
    assert "Your payment was successful" in answer
    assert invoice(server, "8102")["status"] == "paid"


def test_a_charge_followed_by_the_fallback_redirect_settles_and_is_not_called_nothing(server):
    add_invoice(server, "8103", "42.50")
    call = new_call()
    start_pay(server, call, "8103")
    _, charge_id = connector_charge(server, call, "8103", "42.50")

    answer = complete(server, call, "8103", "42.50", {}, fallback=True)

    assert NOTHING_CHARGED not in answer
    assert "could not read your payment details" not in answer
    assert invoice(server, "8103")["confirmation"] == charge_id
    [payment] = payments(server, "8103")
    assert (payment["result"], payment["outcome"]) == ("too-many-failed-attempts", "settled")


def test_a_charge_for_an_invoice_another_call_paid_meanwhile_is_refund_due(server):
    add_invoice(server, "8104", "42.50")
    late = new_call()
    start_pay(server, late, "8104")
    _, late_charge = connector_charge(server, late, "8104", "42.50")
    # Meanwhile the invoice was paid another way (e.g. the late caller's hold lapsed).
    server.execute(
        "update invoices set status = 'paid', confirmation = 'ch_other' where number = '8104'"
    )

    answer = complete(server, late, "8104", "42.50", {}, fallback=True)

    assert NOTHING_CHARGED not in answer
    assert "refund the duplicate payment" in answer
    [payment] = payments(server, "8104")
    assert payment["outcome"] == "refund_due"
    assert payment["confirmation_code"] == late_charge


# -- a success the ledger does not back -------------------------------------------------------


@pytest.mark.parametrize("mismatch", ["not_in_ledger", "invoice", "call", "amount", "currency"])
def test_a_success_the_ledger_does_not_back_does_not_settle_and_is_flagged(server, mismatch):
    number = {
        "not_in_ledger": "8201",
        "invoice": "8202",
        "call": "8203",
        "amount": "8204",
        "currency": "8205",
    }[mismatch]
    add_invoice(server, number, "42.50")
    call = new_call()
    start_pay(server, call, number)
    if mismatch == "not_in_ledger":
        transaction_id, charge_id = "tx-forged", "ch_sbx_forged00"
    elif mismatch == "invoice":
        add_invoice(server, number + "9", "42.50")
        transaction_id, charge_id = connector_charge(server, call, number + "9", "42.50")
    elif mismatch == "call":
        transaction_id, charge_id = connector_charge(server, new_call(), number, "42.50")
    elif mismatch == "amount":
        transaction_id, charge_id = connector_charge(server, call, number, "1.00")
    else:
        transaction_id, charge_id = connector_charge(server, call, number, "42.50", "EUR")

    answer = complete(server, call, number, "42.50", success(transaction_id, charge_id))

    assert "Your payment was successful" not in answer
    assert "could not confirm" in answer
    assert invoice(server, number)["status"] == "open"
    [payment] = payments(server, number)
    assert payment["outcome"] == "needs_review"
    assert payment["review_reason"]
    assert "needs review" in server.logs()


def test_a_success_the_ledger_backs_settles(server):
    add_invoice(server, "8206", "42.50")
    call = new_call()
    start_pay(server, call, "8206")
    transaction_id, charge_id = connector_charge(server, call, "8206", "42.50")

    answer = complete(server, call, "8206", "42.50", success(transaction_id, charge_id))

    assert "Your payment was successful" in answer
    assert invoice(server, "8206")["status"] == "paid"
    assert payments(server, "8206")[0]["outcome"] == "settled"


# -- replays and holds ------------------------------------------------------------------------


def test_a_replayed_unknown_outcome_callback_changes_no_hold(server):
    add_invoice(server, "8301", "42.50")
    first = new_call()
    start_pay(server, first, "8301")
    unknown = {"Result": "payment-connector-error", "ConnectorError": "processing_error"}
    complete(server, first, "8301", "42.50", unknown)
    assert invoice(server, "8301")["hold"]["reason"] == "unknown"
    assert server.flask("invoices", "release", "8301").returncode == 0  # an operator checked
    second = new_call()
    start_pay(server, second, "8301")

    replayed = complete(server, first, "8301", "42.50", unknown)

    hold = invoice(server, "8301")["hold"]
    assert (hold["call_sid"], hold["reason"]) == (second, "paying")
    assert "could not confirm" in replayed
    assert len(payments(server, "8301")) == 1


def test_an_unknown_outcome_from_a_call_that_does_not_hold_the_invoice_moves_no_hold(server):
    add_invoice(server, "8302", "42.50")
    holder = new_call()
    start_pay(server, holder, "8302")

    complete(
        server,
        new_call(),
        "8302",
        "42.50",
        {"Result": "payment-connector-error", "ConnectorError": "processing_error"},
    )

    hold = invoice(server, "8302")["hold"]
    assert (hold["call_sid"], hold["reason"]) == (holder, "paying")


def test_a_second_callers_pay_is_not_offered_while_the_first_calls_charge_is_booked(tmp_path):
    # Holds that lapse at once: only the connector's ledger stands between the two callers.
    server = serve(tmp_path, workers=1, PUBLIC_BASE_URL=PUBLIC, INVOICE_HOLD_SECONDS="0")
    try:
        add_invoice(server, "8401", "42.50")
        first = new_call()
        start_pay(server, first, "8401")
        connector_charge(server, first, "8401", "42.50")  # booked; its callback is still to come

        result = server.flask(
            "simulate-call", "--url", server.base_url, "--json", "--digits", "1,8401#,1"
        )
        second = json.loads(result.stdout)

        assert second["payments"] == []
        assert "in progress or being confirmed" in " ".join(
            line for step in second["steps"] for line in step["said"]
        )
    finally:
        server.stop()


# -- card on file, ACH by phone ---------------------------------------------------------------


def simulate(server, *args: str) -> dict:
    result = server.flask("simulate-call", "--url", server.base_url, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def said(transcript: dict) -> str:
    return " ".join(line for step in transcript["steps"] for line in step["said"])


def test_the_saved_card_path_end_to_end(server):
    add_invoice(server, "8501", "30.00")
    saved = simulate(server, "--digits", "2,8501#")
    assert saved["result"]["PaymentToken"] and invoice(server, "8501")["card_on_file"]

    paying = simulate(server, "--digits", "1,8501#,1")

    assert "To pay with your saved Visa ending 1 1 1 1, press 1" in said(paying)
    assert paying["payments"] == []
    paid = invoice(server, "8501")
    assert paid["status"] == "paid"
    assert ", ".join(paid["confirmation"].rsplit("_", 1)[-1].upper()) in said(paying)
    assert [p["outcome"] for p in payments(server, "8501")] == ["saved", "settled"]


def test_a_declined_saved_card_offers_the_other_methods_end_to_end(server):
    add_invoice(server, "8502", "30.51")  # the sandbox declines .51, a token charge too
    simulate(server, "--digits", "2,8502#")

    declined = simulate(server, "--digits", "1,8502#,1")

    assert "Your saved card could not be charged" in said(declined)
    assert "To pay by card, press 1. To pay from a bank account, press 2." in said(declined)
    assert invoice(server, "8502")["status"] == "open"
    assert invoice(server, "8502")["hold"] is None


def test_a_saved_card_webhook_sent_five_times_at_once_charges_once(server):
    from concurrent.futures import ThreadPoolExecutor

    add_invoice(server, "8503", "30.00")
    simulate(server, "--digits", "2,8503#")
    params = {"CallSid": new_call(), "Digits": "1"}

    with ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(
                lambda _: signed(
                    server, "/voice/saved-card?invoice=8503&attempt=1&tries=1", params
                ),
                range(5),
            )
        )

    assert all("Your payment was successful" in a.text for a in answers), [a.text for a in answers]
    key = f"{params['CallSid']}:card-on-file:1"
    booked = server.query("select * from sandbox_ledger where idempotency_key = :key", {"key": key})
    assert len(booked) == 1
    assert [p["outcome"] for p in payments(server, "8503")] == ["saved", "settled"]


def test_ach_by_phone_is_authorised_before_the_debit_end_to_end(server):
    add_invoice(server, "8601", "75.00")

    transcript = simulate(server, "--digits", "1,8601#,2,1")

    heard = said(transcript)
    assert "single, one time ACH debit of seventy five dollars" in heard
    assert "1, 8, 0, 0, 5, 5, 5, 0, 1, 0, 0" in heard  # BUSINESS_PHONE
    assert transcript["result"]["Result"] == "success"
    [agreement] = server.query("select * from ach_authorizations where invoice_number = '8601'")
    [payment] = payments(server, "8601")
    assert agreement["payment_id"] == payment["id"] and payment["outcome"] == "settled"
    assert agreement["statement"] in heard and agreement["statement_version"]

    declined = simulate(server, "--digits", "1,8601#")
    assert "already paid" in said(declined)
