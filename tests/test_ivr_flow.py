"""Every branch of the pay-by-phone IVR, walked by the emulator (which refuses what Twilio would).

In-process (WSGI) through `flask simulate-call --json`, against a fresh database seeded with
the demo invoices: 1001 (42.50 USD), 1002 (120.00), 1003 (15.51: the sandbox declines it),
1004 (9.99 EUR), 1005 (250.00).
"""

from __future__ import annotations

import json

import pytest

from app import create_app
from tests.conftest import settings


def make_app(tmp_path, **overrides):
    app = create_app(settings(tmp_path, **overrides))
    result = app.test_cli_runner().invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def ivr(tmp_path):
    return make_app(tmp_path)


def call(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=["simulate-call", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def invoice(app, number: str) -> dict:
    rows = json.loads(app.test_cli_runner().invoke(args=["invoices", "list", "--json"]).stdout)
    return next(row for row in rows if row["number"] == number)


def payments(app) -> list[dict]:
    store = app.extensions["payline"].open_store()
    try:
        return list(reversed(store.recent_payments()))
    finally:
        store.close()


def said(transcript: dict) -> str:
    return " ".join(line for step in transcript["steps"] for line in step["said"])


def test_paying_an_invoice_by_card_marks_it_paid_with_its_confirmation(ivr):
    transcript = call(ivr, "--digits", "1,1001#,1")

    [payment] = transcript["payments"]
    assert payment["pay"]["chargeAmount"] == "42.50"
    assert payment["pay"]["paymentMethod"] == "credit-card"
    assert payment["pay"]["parameters"]["invoice_number"] == "1001"
    assert transcript["result"]["Result"] == "success"
    confirmation = transcript["result"]["PaymentConfirmationCode"]
    assert invoice(ivr, "1001")["status"] == "paid"
    assert invoice(ivr, "1001")["confirmation"] == confirmation
    assert "forty two dollars and fifty cents" in said(transcript)
    assert ", ".join(confirmation.rsplit("_", 1)[-1].upper()) in said(transcript)


def test_paying_an_invoice_from_a_bank_account_marks_it_paid(ivr):
    transcript = call(ivr, "--digits", "1,1002#,2,1")

    [payment] = transcript["payments"]
    assert payment["pay"]["paymentMethod"] == "ach-debit"
    assert payment["pay"]["parameters"]["AVSName"] == "Grace Hopper"
    assert payment["connector_request"]["routingnumber"]
    assert transcript["result"]["Result"] == "success"
    assert invoice(ivr, "1002")["status"] == "paid"
    assert payments(ivr)[0]["payment_method"] == "ach-debit"


def test_a_paid_invoice_is_refused_without_a_pay(ivr):
    call(ivr, "--digits", "1,1001#,1")
    transcript = call(ivr, "--digits", "1,1001#")

    assert transcript["payments"] == []
    assert "already paid" in said(transcript)
    assert len(payments(ivr)) == 1


def test_a_declined_payment_offers_a_retry_and_leaves_the_invoice_open(ivr):
    transcript = call(ivr, "--digits", "1,1003#,1,1")

    assert [p["callback"]["Result"] for p in transcript["payments"]] == [
        "payment-connector-error",
        "payment-connector-error",
    ]
    assert "declined" in said(transcript)
    assert "card_declined" not in said(transcript)
    assert "To try again with a card, press 1" in said(transcript)
    assert invoice(ivr, "1003")["status"] == "open"
    recorded = payments(ivr)
    assert [(p["invoice_number"], p["connector_error"]) for p in recorded] == [
        ("1003", "card_declined"),
        ("1003", "card_declined"),
    ]


def test_a_retry_can_switch_to_a_bank_account(ivr):
    transcript = call(ivr, "--digits", "1,1003#,1,2,1")

    assert [p["pay"]["paymentMethod"] for p in transcript["payments"]] == [
        "credit-card",
        "ach-debit",
    ]


def test_after_three_failed_payments_the_caller_is_told_to_call_again(ivr):
    transcript = call(ivr, "--digits", "1,1003#,1,1,1,1")

    assert len(transcript["payments"]) == 3
    assert "call again later" in said(transcript)
    assert transcript["ended"] == "hangup"


@pytest.mark.parametrize(
    ("digits", "heard"),
    [
        ("1,9999#,9998#,9997#", "could not find invoice 9, 9, 9, 7"),
        ("1,,,", "did not receive an invoice number"),
        ("1,4111111111111111#,#,#", "That is not a valid invoice number"),
    ],
)
def test_an_unknown_or_missing_invoice_number_is_asked_three_times_then_goodbye(ivr, digits, heard):
    transcript = call(ivr, "--digits", digits)

    assert transcript["payments"] == []
    assert heard in said(transcript)
    assert said(transcript).count("Please enter your invoice number") == 3
    assert transcript["ended"] == "hangup"


def test_an_unknown_number_then_the_right_one_goes_on_to_pay(ivr):
    transcript = call(ivr, "--digits", "1,9999#,1005#,1")

    assert transcript["result"]["Result"] == "success"
    assert invoice(ivr, "1005")["status"] == "paid"


def test_saving_a_card_on_file_keeps_the_token_and_does_not_pay(ivr):
    transcript = call(ivr, "--digits", "2,1002#", "--card", "5555555555554444")

    [payment] = transcript["payments"]
    assert "chargeAmount" not in payment["pay"]
    assert payment["connector_request"]["method"] == "tokenize"
    assert transcript["result"]["PaymentToken"].startswith("tok_sbx_")
    saved = invoice(ivr, "1002")
    assert saved["status"] == "open"
    assert saved["card_on_file"] == {"brand": "mastercard", "last4": "4444"}
    assert "ending in 4, 4, 4, 4" in said(transcript)


@pytest.mark.parametrize(
    ("option", "step", "result"),
    [
        ("--star-at", "security-code", "caller-interrupted-with-star"),
        ("--hangup-at", "payment-card-number", "caller-hung-up"),
        ("--hangup-at", "expiration-date", "caller-hung-up"),
    ],
)
def test_star_and_hang_up_during_pay_leave_the_invoice_open_and_are_recorded(
    ivr, option, step, result
):
    transcript = call(ivr, "--digits", "1,1001#,1", option, step)

    assert transcript["result"]["Result"] == result
    assert invoice(ivr, "1001")["status"] == "open"
    [recorded] = payments(ivr)
    assert (recorded["result"], recorded["invoice_number"]) == (result, "1001")


def test_star_is_answered_with_the_retry_menu(ivr):
    transcript = call(ivr, "--digits", "1,1001#,2,1", "--star-at", "bank-account-number")

    assert "You cancelled. Nothing has been charged." in said(transcript)
    assert "To try again with a card, press 1" in said(transcript)


def test_an_invalid_card_ends_with_too_many_failed_attempts_and_the_retry_menu(ivr):
    transcript = call(ivr, "--digits", "1,1001#,1", "--card", "4111111111111112")

    assert transcript["result"]["Result"] == "too-many-failed-attempts"
    assert "could not read your payment details" in said(transcript)
    assert invoice(ivr, "1001")["status"] == "open"


def test_amounts_are_read_in_the_invoice_currency(ivr):
    transcript = call(ivr, "--digits", "1,1004#,1")

    assert "nine euros and ninety nine cents" in said(transcript)
    assert transcript["payments"][0]["pay"]["currency"] == "eur"
    assert transcript["payments"][0]["connector_request"]["currency_code"] == "EUR"


def test_no_choice_at_the_menu_is_asked_three_times_then_goodbye(ivr):
    transcript = call(ivr)

    assert said(transcript).count("To pay an invoice, press 1") == 3
    assert transcript["ended"] == "hangup"
    assert transcript["payments"] == []


def test_no_choice_at_the_method_menu_is_asked_three_times_then_goodbye(ivr):
    transcript = call(ivr, "--digits", "1,1001#")

    assert said(transcript).count("To pay by card, press 1") == 3
    assert said(transcript).endswith("We did not receive a choice. Goodbye.")
    assert transcript["ended"] == "hangup"
    assert transcript["payments"] == []


def test_a_key_that_is_not_a_choice_repeats_the_menu(ivr):
    transcript = call(ivr, "--digits", "7,1,1001#,1")

    assert "not one of the choices" in said(transcript)
    assert transcript["result"]["Result"] == "success"


def test_without_an_agent_number_zero_is_not_offered(ivr):
    transcript = call(ivr, "--digits", "0")

    assert "speak with a person" not in said(transcript)
    assert not any(step["dialed"] for step in transcript["steps"])


def test_with_an_agent_number_zero_dials_a_person_from_every_menu(tmp_path):
    app = make_app(tmp_path, AGENT_NUMBER="+15005550009")

    from_menu = call(app, "--digits", "0")
    from_method = call(app, "--digits", "1,1001#,0")
    from_retry = call(app, "--digits", "1,1003#,1,0")

    for transcript in (from_menu, from_method, from_retry):
        assert "press 0" in said(transcript)
        assert [d for step in transcript["steps"] for d in step["dialed"]] == ["+15005550009"]


def test_language_and_voice_are_configurable(tmp_path):
    app = make_app(tmp_path, VOICE_LANGUAGE="en-GB", VOICE_NAME="Polly.Amy")

    transcript = call(app, "--digits", "1,1001#,1")

    assert transcript["payments"][0]["pay"]["language"] == "en-GB"
    assert 'voice="Polly.Amy"' in transcript["steps"][0]["twiml"]


def test_a_repeated_action_callback_does_not_book_twice(ivr, twilio_post_for):
    transcript = call(ivr, "--digits", "1,1001#,1")
    payment = transcript["payments"][0]

    again = twilio_post_for(ivr, payment["action_url"], payment["callback"])

    assert again.status_code == 200
    assert len(payments(ivr)) == 1
    assert invoice(ivr, "1001")["confirmation"] == payment["callback"]["PaymentConfirmationCode"]


def test_a_second_payment_for_a_paid_invoice_is_recorded_but_does_not_settle_it_again(
    ivr, twilio_post_for
):
    first = call(ivr, "--digits", "1,1001#,1")["payments"][0]
    other_call = "CA" + "9" * 32
    charge_id = connector_charge(ivr, "tx-late", "1001", other_call, "42.50")
    late = {
        **first["callback"],
        "CallSid": other_call,
        "PaymentConfirmationCode": charge_id,
        "PayConnector_transaction_id": "tx-late",
    }

    answer = twilio_post_for(ivr, first["action_url"], late)

    assert b"refund the duplicate payment" in answer.data
    assert len(payments(ivr)) == 2
    assert "refund due" in payments(ivr)[1]["note"]
    assert invoice(ivr, "1001")["confirmation"] == first["callback"]["PaymentConfirmationCode"]


def connector_charge(app, transaction_id: str, number: str, call_sid: str, amount: str) -> str:
    """What Twilio's <Pay> sends the connector for this call and invoice; the charge id."""
    from tests.conftest import basic_auth, card_charge

    body = card_charge(
        transaction_id, amount, parameters={"invoice_number": number, "call_sid": call_sid}
    )
    answer = app.test_client().post("/connector", json=body, headers=basic_auth()).get_json()
    assert answer["charge_id"], answer
    return answer["charge_id"]


@pytest.fixture
def twilio_post_for():
    from urllib.parse import urlsplit

    from tests.conftest import signature

    def post(app, public_url: str, params: dict):
        parts = urlsplit(public_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"X-Twilio-Signature": signature(public_url, params)}
        return app.test_client().post(path, data=params, headers=headers)

    return post


def add_invoice(app, number: str, amount: str, *options: str) -> None:
    result = app.test_cli_runner().invoke(args=["invoices", "add", *options, number, amount])
    assert result.exit_code == 0, result.output


def test_a_card_number_keyed_as_an_invoice_number_is_never_read_back(ivr):
    transcript = call(ivr, "--digits", "1,4111111111111111#")

    assert "That is not a valid invoice number" in said(transcript)
    assert "4, 1, 1, 1" not in said(transcript)


def test_a_second_caller_cannot_pay_an_invoice_while_the_first_is_paying(ivr, twilio_post_for):
    first_call = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    url = "https://pay.example.com/voice/method?invoice=1001&attempt=1&tries=1"
    assert b"<Pay" in twilio_post_for(ivr, url, first_call).data

    second = call(ivr, "--digits", "1,1001#,1")

    assert second["payments"] == []
    assert "is in progress or being confirmed" in said(second)


def test_the_same_caller_may_retry_while_holding_the_invoice(ivr):
    transcript = call(ivr, "--digits", "1,1003#,1,1")

    assert len(transcript["payments"]) == 2


def test_a_connector_that_never_answers_is_an_unknown_outcome_not_a_retry(ivr):
    transcript = call(
        ivr, "--digits", "1,1001#,1,1", "--connector", "Default=http://127.0.0.1:9/connector"
    )

    assert transcript["result"]["Result"] == "payment-connector-error"
    assert "could not confirm whether your payment went through" in said(transcript)
    assert "Nothing has been charged" not in said(transcript)
    assert "try again with a card" not in said(transcript)
    assert len(transcript["payments"]) == 1
    assert "is in progress or being confirmed" in said(call(ivr, "--digits", "1,1001#"))


def test_a_processing_error_is_an_unknown_outcome(ivr):
    add_invoice(ivr, "3005", "10.54")

    transcript = call(ivr, "--digits", "1,3005#,1")

    assert transcript["result"]["ConnectorError"] == "processing_error"
    assert "could not confirm" in said(transcript)
    assert "Nothing has been charged" not in said(transcript)


def test_a_bank_decline_is_not_called_a_card_decline(ivr):
    transcript = call(ivr, "--digits", "1,1003#,2,1")

    assert "Your bank declined the payment" in said(transcript)
    assert "card was declined" not in said(transcript)


def test_after_the_third_failed_payment_a_person_is_still_offered(tmp_path):
    app = make_app(tmp_path, AGENT_NUMBER="+15005550009")

    transcript = call(app, "--digits", "1,1003#,1,1,1,0")

    assert len(transcript["payments"]) == 3
    last_menu = transcript["steps"][-2]["said"]
    assert "try again" not in " ".join(last_menu)
    assert [d for step in transcript["steps"] for d in step["dialed"]] == ["+15005550009"]


def test_a_failed_card_save_can_be_retried_on_a_paid_invoice(ivr):
    call(ivr, "--digits", "1,1001#,1")

    transcript = call(ivr, "--digits", "2,1001#,1", "--star-at", "security-code")

    assert len(transcript["payments"]) == 2
    assert "To try again, press 1" in said(transcript)
    assert "Nothing was saved" in said(transcript)


def test_saving_a_card_uses_saving_words_not_payment_words(ivr):
    transcript = call(ivr, "--digits", "2,1002#")

    pay = transcript["payments"][0]
    assert "while we save your card" in json.dumps(pay) + said(transcript)
    assert "process your payment" not in json.dumps(pay) + said(transcript)


def test_wrong_keys_at_the_menu_count_as_tries(ivr):
    transcript = call(ivr, "--digits", "9,9,9,9,9")

    assert said(transcript).count("not one of the choices") == 3
    assert transcript["ended"] == "hangup"
    assert len(transcript["steps"]) <= 7


def test_wrong_keys_at_the_method_menu_count_as_tries_then_goodbye(ivr):
    transcript = call(ivr, "--digits", "1,1001#,7,7,7")

    assert said(transcript).endswith("We did not receive a choice. Goodbye.")
    assert transcript["payments"] == []


def test_bank_accounts_are_offered_for_dollar_invoices_only(ivr):
    transcript = call(ivr, "--digits", "1,1004#,2,1")

    assert "bank account" not in said(transcript)
    assert [p["pay"]["paymentMethod"] for p in transcript["payments"]] == ["credit-card"]


def test_a_yen_invoice_is_charged_and_read_without_cents(ivr):
    add_invoice(ivr, "5001", "1000", "--currency", "JPY")

    transcript = call(ivr, "--digits", "1,5001#,1")

    assert transcript["payments"][0]["pay"]["chargeAmount"] == "1000"
    assert "one thousand yen" in said(transcript)
    assert transcript["result"]["Result"] == "success"


def test_an_action_request_without_result_is_recorded_as_too_many_failed_attempts(
    ivr, twilio_post_for
):
    url = (
        "https://pay.example.com/voice/pay/complete?invoice=1001&purpose=pay&attempt=1"
        "&amount=42.50&currency=USD&fallback=1"
    )
    response = twilio_post_for(ivr, url, {"CallSid": "CA" + "4" * 32})

    assert b"could not read your payment details" in response.data
    assert payments(ivr)[0]["result"] == "too-many-failed-attempts"


def test_star_then_a_successful_retry_pays_the_invoice(ivr):
    transcript = call(ivr, "--digits", "1,1001#,1,1", "--star-at", "expiration-date")

    results = [p["callback"]["Result"] for p in transcript["payments"]]
    assert results == ["caller-interrupted-with-star", "success"]
    assert invoice(ivr, "1001")["status"] == "paid"


def hold_of(app, number: str) -> tuple:
    store = app.extensions["payline"].open_store()
    try:
        row = store.invoice(number)
        return row["paying_call"], row["hold_reason"]
    finally:
        store.close()


def test_after_an_unknown_outcome_even_the_same_caller_cannot_pay_again(tmp_path):
    app = make_app(tmp_path, AGENT_NUMBER="+15005550009")
    add_invoice(app, "3005", "10.54")

    transcript = call(app, "--digits", "1,3005#,1,1")

    assert len(transcript["payments"]) == 1
    assert "try again with a card" not in said(transcript)
    assert hold_of(app, "3005")[1] == "unknown"
    assert invoice(app, "3005")["hold"]["reason"] == "unknown"
    assert "being confirmed" in said(call(app, "--digits", "1,3005#"))

    released = app.test_cli_runner().invoke(args=["invoices", "release", "3005"])

    assert "hold lifted" in released.output
    assert invoice(app, "3005")["hold"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("--digits", "1,1003#,1"),
        ("--digits", "1,1001#,1", "--star-at", "security-code"),
        ("--digits", "1,1001#,1", "--hangup-at", "postal-code"),
    ],
)
def test_a_refused_payment_releases_the_invoice_for_the_next_caller(ivr, args):
    number = args[1].split(",")[1].rstrip("#")

    call(ivr, *args)

    assert hold_of(ivr, number) == (None, None)


def test_a_fallback_redirect_does_not_hide_the_real_callback_of_the_same_pay(ivr, twilio_post_for):
    query = "invoice=1001&purpose=pay&attempt=1&amount=42.50&currency=USD"
    base = f"https://pay.example.com/voice/pay/complete?{query}"
    call_sid = {"CallSid": "CA" + "5" * 32}
    twilio_post_for(ivr, base + "&fallback=1", call_sid)
    charge_id = connector_charge(ivr, "tx-5", "1001", call_sid["CallSid"], "42.50")

    twilio_post_for(
        ivr, base, {**call_sid, "Result": "success", "PaymentConfirmationCode": charge_id}
    )

    assert invoice(ivr, "1001")["confirmation"] == charge_id
    assert [p["result"] for p in payments(ivr)] == ["too-many-failed-attempts", "success"]


def test_a_bank_pay_first_does_not_use_up_a_star_meant_for_a_card_step(ivr):
    transcript = call(ivr, "--digits", "1,1003#,2,1,1", "--star-at", "security-code")

    results = [p["callback"]["Result"] for p in transcript["payments"]]
    assert results == ["payment-connector-error", "caller-interrupted-with-star"]


def test_the_paying_hold_lasts_invoice_hold_seconds(tmp_path, twilio_post_for):
    app = make_app(tmp_path, INVOICE_HOLD_SECONDS="0")
    first_call = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    url = "https://pay.example.com/voice/method?invoice=1001&attempt=1&tries=1"
    assert b"<Pay" in twilio_post_for(app, url, first_call).data  # then the caller goes quiet

    second = call(app, "--digits", "1,1001#,1")

    assert second["result"]["Result"] == "success"
