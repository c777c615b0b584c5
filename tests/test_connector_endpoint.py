"""POST /connector over the Flask test client: the contract, card and ACH, every sandbox path."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import TEST_CARDS, ach_charge, basic_auth, card_charge, tokenize


def cvv_for(number: str) -> str:
    return "7391" if number.startswith(("34", "37")) else "739"


@pytest.mark.parametrize("number", TEST_CARDS)
def test_each_test_card_is_charged_and_tokenized(connector_post, number):
    charge = connector_post(card_charge(f"ch-{number[:6]}", cardnumber=number, cvv=cvv_for(number)))
    token = connector_post(
        tokenize(card_charge(f"tok-{number[:6]}", cardnumber=number, cvv=cvv_for(number)))
    )

    assert charge.status_code == 200
    assert charge.get_json()["charge_id"].startswith("ch_sbx_")
    assert charge.get_json()["error_code"] is None
    assert charge.get_json()["error_message"] is None
    assert token.status_code == 200
    assert token.get_json()["token_id"].startswith("tok_sbx_")
    assert "charge_id" not in token.get_json()


@pytest.mark.parametrize("account", ["12345678", "123456789"])
def test_ach_charge_and_tokenize_with_test_accounts(connector_post, account):
    charge = connector_post(ach_charge(f"ach-{len(account)}", bankaccountnumber=account)).get_json()
    token = connector_post(
        tokenize(ach_charge(f"acht-{len(account)}", bankaccountnumber=account))
    ).get_json()

    assert charge["charge_id"].startswith("ch_sbx_") and charge["error_code"] is None
    assert token["token_id"].startswith("tok_sbx_") and token["error_code"] is None


def test_custom_parameters_are_handed_back_with_card_summary(connector_post):
    body = connector_post(
        card_charge("params-1", parameters={"invoice": "1001", "n": 7})
    ).get_json()

    assert body["parameters"]["invoice"] == "1001"
    assert body["parameters"]["n"] == "7"
    assert body["parameters"]["card_brand"] == "visa"
    assert body["parameters"]["card_last4"] == "1111"
    assert body["parameters"]["transaction_id"] == "params-1"


def test_card_shaped_parameters_are_masked_in_the_answer(connector_post):
    body = connector_post(
        card_charge("params-2", parameters={"note": "4111111111111111"})
    ).get_json()

    assert body["parameters"]["note"] == "xxxxxxxxxxxx1111"


@pytest.mark.parametrize(
    ("amount", "error_code"),
    [("10.51", "card_declined"), ("10.52", "insufficient_funds"), ("10.54", "processing_error")],
)
def test_sandbox_magic_amounts_decline_with_the_id_key_present(connector_post, amount, error_code):
    body = connector_post(card_charge(f"magic-{amount}", amount=amount)).get_json()

    assert body["charge_id"] is None
    assert body["error_code"] == error_code
    assert body["error_message"]


def test_slow_amount_is_approved_after_the_configured_delay(connector_post):
    body = connector_post(card_charge("slow-1", amount="10.53")).get_json()

    assert body["charge_id"].startswith("ch_sbx_")


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"cardnumber": "4111111111111112"}, "invalid_card_number"),
        ({"cardnumber": "41111111"}, "invalid_card_number"),
        ({"cardnumber": "４１１１１１１１１１１１１１１１"}, "invalid_card_number"),
        ({"cardnumber": "4242424242424242"}, "test_mode_card_not_allowed"),
        ({"expiry_month": "13"}, "invalid_expiry"),
        ({"expiry_year": "20"}, "invalid_expiry"),
        ({"expiry_month": None}, "invalid_expiry"),
        ({"cvv": "12"}, "invalid_security_code"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "-5"}, "invalid_amount"),
        ({"amount": "ten"}, "invalid_amount"),
        ({"amount": "1.005"}, "invalid_amount"),
        ({"amount": "١٠"}, "invalid_amount"),
        ({"amount": "1e3"}, "invalid_amount"),
        ({"amount": "NaN"}, "invalid_amount"),
        ({"amount": "1000000.01"}, "invalid_amount"),
        ({"amount": None}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"currency_code": "US"}, "invalid_currency"),
        ({"currency_code": None}, "invalid_currency"),
        ({"parameters": ["a"]}, "invalid_request"),
        ({"description": {"a": 1}}, "invalid_request"),
        ({"bankaccountnumber": "123456789"}, "invalid_request"),
        ({"cardnumber": None}, "invalid_request"),
    ],
)
def test_invalid_card_charge_fields_get_a_named_error_code(connector_post, fields, error_code):
    response = connector_post(card_charge(f"bad-{uuid.uuid4()}", **fields))

    assert response.status_code == 200
    body = response.get_json()
    assert body["charge_id"] is None
    assert body["error_code"] == error_code
    assert body["error_message"]
    assert "4111111111111111" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"routingnumber": "121000359"}, "invalid_routing_number"),
        ({"routingnumber": "12100035"}, "invalid_routing_number"),
        ({"bankaccountnumber": "12a45678"}, "invalid_account_number"),
        ({"bankaccountnumber": "123"}, "invalid_account_number"),
        ({"bankaccountnumber": "987654321"}, "test_mode_account_not_allowed"),
    ],
)
def test_invalid_ach_fields_get_a_named_error_code(connector_post, fields, error_code):
    body = connector_post(ach_charge(f"badach-{uuid.uuid4()}", **fields)).get_json()

    assert body["charge_id"] is None
    assert body["error_code"] == error_code


def test_live_mode_accepts_a_luhn_valid_card_the_sandbox_then_declines(tmp_path):
    from app import create_app
    from tests.conftest import settings

    app = create_app(settings(tmp_path, CONNECTOR_MODE="live"))
    app.test_cli_runner().invoke(args=["init-db"])
    body = (
        app.test_client()
        .post(
            "/connector",
            json=card_charge("live-1", cardnumber="4242424242424242"),
            headers=basic_auth(),
        )
        .get_json()
    )

    assert body["error_code"] == "card_declined"


def test_cvv_may_be_absent_when_pay_does_not_ask_for_it(connector_post):
    body = connector_post(card_charge("nocvv-1", cvv="")).get_json()

    assert body["charge_id"].startswith("ch_sbx_")


def test_missing_content_type_is_still_parsed_as_json(client):
    import json

    response = client.post(
        "/connector",
        data=json.dumps(card_charge("noct-1")),
        headers={**basic_auth(), "Content-Type": ""},
    )

    assert response.get_json()["charge_id"].startswith("ch_sbx_")


@pytest.mark.parametrize(
    "auth",
    [
        {},
        basic_auth("twilio", "wrong"),
        basic_auth("other", "connector-secret"),
        {"Authorization": "Bearer x"},
    ],
)
def test_missing_or_wrong_credentials_get_401_with_a_challenge(connector_post, auth):
    response = connector_post(card_charge("auth-1"), auth=auth)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.get_json()["error_code"] == "invalid_request"


def test_a_refused_request_charges_nothing(connector_post, store):
    connector_post(card_charge("auth-2"), auth=basic_auth("twilio", "wrong"))

    assert list(store.ledger_report()) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'"charge"', "JSON object"),
        (b"{}", "method"),
        (b'{"method": "refund", "transaction_id": "x"}', "method"),
        (b'{"method": "charge"}', "transaction_id"),
        (b'{"method": "charge", "transaction_id": ""}', "transaction_id"),
        (b'{"method": "charge", "transaction_id": 5}', "transaction_id"),
        (b'{"method": "charge", "transaction_id": "a\\u0000b"}', "transaction_id"),
        (b'{"method": "charge", "transaction_id": "x", "amount": NaN}', "not valid JSON"),
        (b'{"method": "tokenize", "transaction_id": 5}', "transaction_id"),
        (b'{"method": "charge", "transaction_id": "4111111111111111"}', "not a card number"),
        (b'{"method": "charge", "transaction_id": "4111-1111-1111-1111"}', "not a card number"),
        (b'{"method": "charge", "transaction_id": "tx-4111111111111111"}', "not a card number"),
        (b'{"method": "charge", "transaction_id": "4111.1111.1111.1111"}', "not a card number"),
        (b'{"method": "charge", "transaction_id": "5555555555554444/1"}', "not a card number"),
        (b'{"method": "charge", "transaction_id": "98765432109876543"}', "not a card number"),
    ],
)
def test_a_body_that_is_not_a_connector_request_gets_400_json(connector_post, body, message):
    response = connector_post(body)

    assert response.status_code == 400
    assert response.is_json
    assert message in response.get_json()["error_message"]


def test_a_refusal_uses_the_id_key_of_the_method_when_it_is_known(connector_post):
    body = connector_post(b'{"method": "tokenize", "transaction_id": ""}').get_json()

    assert body["token_id"] is None and "charge_id" not in body


def test_a_body_of_nested_brackets_over_64_kib_gets_413(connector_post):
    response = connector_post(b"[" * 100000)

    assert response.status_code == 413
    assert "larger than" in response.get_json()["error_message"]


@pytest.mark.parametrize("amount", ["99999999999999999999999999999", 10**30, "1." + "0" * 40])
def test_an_amount_with_too_many_digits_is_invalid_not_a_crash(connector_post, amount):
    response = connector_post(card_charge(f"huge-{uuid.uuid4()}", amount=amount))

    assert response.status_code == 200
    assert response.get_json()["error_code"] == "invalid_amount"


@pytest.mark.parametrize("currency", ["QQQ", "usdx", "€"])
def test_a_currency_that_is_not_iso_4217_is_refused(connector_post, currency):
    body = connector_post(card_charge(f"cur-{uuid.uuid4()}", currency_code=currency)).get_json()

    assert body["error_code"] == "invalid_currency"


def test_non_ascii_whitespace_around_a_card_number_is_refused(connector_post):
    body = connector_post(card_charge("nbsp-1", cardnumber="\u00a04111111111111111")).get_json()

    assert body["error_code"] == "invalid_card_number"


def test_options_on_the_connector_is_405_json(client):
    response = client.options("/connector")

    assert response.status_code == 405 and response.is_json


def test_a_body_over_64_kib_gets_413(connector_post):
    response = connector_post(card_charge("big-1", description="x" * 70_000))

    assert response.status_code == 413
    assert response.get_json()["error_code"] == "invalid_request"


def test_get_on_the_connector_is_405_json(client):
    response = client.get("/connector")

    assert response.status_code == 405
    assert response.is_json


def test_retry_with_same_transaction_id_returns_original_charge(connector_post, store):
    first = connector_post(card_charge("retry-1")).get_json()
    second = connector_post(card_charge("retry-1")).get_json()

    assert second == first
    [row] = list(store.ledger_report())
    assert row["processor_requests"] == 1
    assert row["processor_charges"] == 1


def test_a_declined_answer_is_replayed_too(connector_post, store):
    first = connector_post(card_charge("retry-2", amount="10.51")).get_json()
    second = connector_post(card_charge("retry-2", amount="10.51")).get_json()

    assert second == first and first["error_code"] == "card_declined"
    assert list(store.ledger_report())[0]["processor_requests"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "11.00"},
        {"currency_code": "EUR"},
        {"cardnumber": "5555555555554444"},
        {"expiry_month": "09"},
        {"method": "tokenize"},
        {"expiry_year": "40"},
    ],
)
def test_same_transaction_id_with_other_details_is_refused_and_not_charged(
    connector_post, store, change
):
    first = connector_post(card_charge("mismatch-1")).get_json()
    second = connector_post(card_charge("mismatch-1", **change)).get_json()

    assert second["error_code"] == "idempotency_mismatch"
    assert second.get("charge_id", second.get("token_id")) is None
    [row] = list(store.ledger_report())
    assert row["response_id"] == first["charge_id"]
    assert row["processor_requests"] == 1


@pytest.mark.parametrize(
    "change", [{"bankaccountnumber": "12345678"}, {"routingnumber": "011000015"}]
)
def test_same_transaction_id_with_another_bank_account_is_refused(connector_post, store, change):
    connector_post(ach_charge("mismatch-ach"))
    second = connector_post(ach_charge("mismatch-ach", **change)).get_json()

    assert second["error_code"] == "idempotency_mismatch"
    assert list(store.ledger_report())[0]["processor_requests"] == 1


def test_the_same_card_written_differently_is_the_same_transaction(connector_post):
    first = connector_post(card_charge("same-card", expiry_month="8", expiry_year="39"))
    second = connector_post(card_charge("same-card", expiry_month="08", expiry_year="2039"))

    assert second.get_json() == first.get_json()
    assert first.get_json()["charge_id"]


def test_a_retry_after_the_card_expired_still_gets_the_original_answer(tmp_path):
    """A card expiring this month: charged on its last day, retried just after midnight."""
    import datetime as dt

    from app import create_app
    from tests.conftest import settings

    app = create_app(settings(tmp_path))
    app.test_cli_runner().invoke(args=["init-db"])
    body = card_charge("midnight-1", expiry_month="11", expiry_year="26")
    service = app.extensions["payline"]
    with app.test_request_context():
        first = service.connector_service()
        first.today = lambda: dt.date(2026, 11, 30)
        _, original = first.handle(json.dumps(body).encode())
        retry = service.connector_service()
        retry.today = lambda: dt.date(2026, 12, 1)
        _, replayed = retry.handle(json.dumps(body).encode())

    assert original["charge_id"] and replayed == original


@pytest.mark.parametrize(
    "transaction_id",
    ["3ce27a34-1272-4142-8901-987650432109", "PK" + "1" * 16 + "ab" * 8, "98765432109"],
)
def test_ids_that_are_not_card_numbers_are_accepted(connector_post, transaction_id):
    body = connector_post(card_charge(transaction_id)).get_json()

    assert body["charge_id"] and body["parameters"]["transaction_id"] == transaction_id


def test_amount_spelled_differently_is_the_same_transaction(connector_post):
    first = connector_post(card_charge("same-amount", amount="10.0")).get_json()
    second = connector_post(card_charge("same-amount", amount="10.00")).get_json()

    assert second == first
