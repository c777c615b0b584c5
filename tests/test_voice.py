"""The /voice webhooks over the test client: TwiML shape, signatures, recording every Result."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import PUBLIC_BASE_URL

CALL = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": "AC" + "2" * 32,
    "From": "+15005550006",
    "To": "+15005550001",
    "CallStatus": "in-progress",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}

RESULTS = [
    "success",
    "too-many-failed-attempts",
    "payment-connector-error",
    "caller-interrupted-with-star",
    "caller-hung-up",
    "validation-error",
    "internal-error",
]


def parse(response) -> ET.Element:
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


@pytest.fixture
def invoices(runner):
    runner.invoke(args=["invoices", "add", "1001", "42.50", "--customer", "Ada Lovelace"])
    runner.invoke(args=["invoices", "add", "1002", "9.99", "--currency", "EUR"])


def test_incoming_call_gets_the_menu_gather(twilio_post):
    root = parse(twilio_post("/voice/incoming", CALL))
    gather = root.find("./Gather")

    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_BASE_URL}/voice/menu?tries=1"
    assert "press 1" in " ".join(say.text for say in gather.iter("Say"))
    assert "press 0" not in " ".join(say.text for say in gather.iter("Say"))
    assert root.find("./Redirect").text == f"{PUBLIC_BASE_URL}/voice/incoming?tries=2"


def test_card_pay_carries_amount_connector_callbacks_parameters_and_prompts(twilio_post, invoices):
    root = parse(
        twilio_post("/voice/method?invoice=1001&attempt=1&tries=1", {**CALL, "Digits": "1"})
    )
    pay = root.find("./Pay")

    assert pay.get("chargeAmount") == "42.50"
    assert pay.get("currency") == "usd"
    assert pay.get("paymentConnector") == "Default"
    assert pay.get("paymentMethod") == "credit-card"
    assert pay.get("action").startswith(f"{PUBLIC_BASE_URL}/voice/pay/complete?")
    assert "invoice=1001" in pay.get("action")
    assert pay.get("statusCallback") == f"{PUBLIC_BASE_URL}/voice/pay/status"
    parameters = {p.get("name"): p.get("value") for p in pay.findall("./Parameter")}
    assert parameters == {
        "invoice_number": "1001",
        "customer": "Ada Lovelace",
        "call_sid": CALL["CallSid"],
    }
    prompts = {(p.get("for"), p.get("errorType")) for p in pay.findall("./Prompt")}
    assert ("payment-card-number", None) in prompts
    assert ("payment-card-number", "invalid-card-number") in prompts
    assert ("expiration-date", "invalid-date") in prompts
    assert ("security-code", "timeout") in prompts


def test_pay_connector_name_comes_from_the_environment(tmp_path):
    from app import create_app
    from tests.conftest import settings, signature

    app = create_app(settings(tmp_path, PAY_CONNECTOR="Acme_GPC"))
    app.test_cli_runner().invoke(args=["init-db", "--demo"])
    url = "/voice/method?invoice=1001&attempt=1&tries=1"
    params = {**CALL, "Digits": "1"}
    headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + url, params)}
    response = app.test_client().post(url, data=params, headers=headers)

    assert parse(response).find("./Pay").get("paymentConnector") == "Acme_GPC"


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/pay/complete", "/voice/pay/status"])
def test_unsigned_webhook_is_refused_with_403(twilio_post, path):
    assert twilio_post(path, CALL, signed=False).status_code == 403


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/pay/complete", "/voice/pay/status"])
def test_webhook_signed_with_another_token_is_refused_with_403(twilio_post, path):
    assert twilio_post(path, CALL, token="forged").status_code == 403


def test_signature_for_the_internal_url_is_refused_when_a_public_url_is_configured(client):
    from tests.conftest import signature

    headers = {"X-Twilio-Signature": signature("http://localhost/voice/incoming", CALL)}
    assert client.post("/voice/incoming", data=CALL, headers=headers).status_code == 403


def test_tampered_parameters_break_the_signature(client):
    from tests.conftest import signature

    headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + "/voice/incoming", CALL)}
    tampered = {**CALL, "From": "+15550000000"}
    assert client.post("/voice/incoming", data=tampered, headers=headers).status_code == 403


def test_without_public_base_url_the_request_url_is_what_is_signed(tmp_path):
    from app import create_app
    from tests.conftest import settings, signature

    app = create_app(settings(tmp_path, PUBLIC_BASE_URL=None))
    headers = {"X-Twilio-Signature": signature("http://localhost/voice/incoming", CALL)}
    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert parse(response).find("./Gather").get("action") == "http://localhost/voice/menu?tries=1"


def test_a_raw_query_string_is_signed_as_sent_without_public_base_url(tmp_path):
    from app import create_app
    from tests.conftest import settings, signature

    app = create_app(settings(tmp_path, PUBLIC_BASE_URL=None))
    url = "http://localhost/voice/incoming?tries=1&x=%7E&y=A%2FB"
    headers = {"X-Twilio-Signature": signature(url, CALL)}
    response = app.test_client().post(
        "/voice/incoming?tries=1&x=%7E&y=A%2FB", data=CALL, headers=headers
    )

    assert response.status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_host_and_scheme_are_what_is_signed(tmp_path):
    from app import create_app
    from tests.conftest import settings, signature

    app = create_app(settings(tmp_path, PUBLIC_BASE_URL=None, PROXY_FIX_HOPS=1))
    headers = {
        "X-Twilio-Signature": signature("https://abc.ngrok.app/voice/incoming", CALL),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "abc.ngrok.app",
    }
    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert (
        parse(response).find("./Gather").get("action") == "https://abc.ngrok.app/voice/menu?tries=1"
    )


def callback(result: str, **fields) -> dict:
    base = {**CALL, "Result": result, "PaymentMethod": "credit-card"}
    if result == "success":
        base.update(
            PaymentConfirmationCode="ch_sbx_0a1b2c3d4e5f6789",
            PaymentCardNumber="xxxxxxxxxxxx1111",
            PaymentCardType="visa",
            ExpirationDate="0839",
            PayConnector_transaction_id="tx-1",
            PayConnector_card_last4="1111",
        )
    if result == "payment-connector-error":
        base.update(
            ConnectorError="card_declined",
            PaymentError="The card was declined.",
            PayErrorCode="64008",
        )
    return {**base, **fields}


COMPLETE = "/voice/pay/complete?attempt=1&amount=10.00&currency=USD"


@pytest.mark.parametrize("result", RESULTS)
def test_each_result_is_answered_with_twiml_and_recorded(twilio_post, store, result):
    root = parse(twilio_post(COMPLETE, callback(result)))

    assert root.tag == "Response"
    assert root[-1].tag == "Hangup"
    [row] = store.payments_for_call(CALL["CallSid"])
    assert row["result"] == result
    assert row["amount"] == "10.00" and row["currency"] == "USD"


def test_success_reads_the_confirmation_code_character_by_character(
    app, twilio_post, store, runner
):
    # Another connector installed: the signed callback is the only source (no ledger to ask).
    app.config["LEDGER_RECONCILIATION"] = False
    runner.invoke(args=["invoices", "add", "1010", "10.00"])
    root = parse(twilio_post(COMPLETE + "&invoice=1010", callback("success")))
    spoken = " ".join(say.text for say in root.iter("Say"))

    assert "0, A, 1, B, 2, C, 3, D, 4, E, 5, F, 6, 7, 8, 9" in spoken
    [row] = store.payments_for_call(CALL["CallSid"])
    assert row["confirmation_code"] == "ch_sbx_0a1b2c3d4e5f6789"
    assert row["last4"] == "1111"
    assert row["card_type"] == "visa"
    assert row["transaction_id"] == "tx-1"


def test_a_decline_is_explained_in_words_never_as_a_code(twilio_post):
    root = parse(twilio_post(COMPLETE, callback("payment-connector-error")))
    spoken = " ".join(say.text for say in root.iter("Say"))

    assert "declined" in spoken
    assert "card_declined" not in spoken and "64008" not in spoken


def test_a_repeated_action_callback_is_recorded_once(twilio_post, store):
    first = twilio_post(COMPLETE, callback("success"))
    second = twilio_post(COMPLETE, callback("success"))

    assert first.data == second.data
    assert len(store.payments_for_call(CALL["CallSid"])) == 1


def test_card_shaped_text_in_callback_fields_is_masked_before_it_is_stored(twilio_post, store):
    twilio_post(COMPLETE, callback("validation-error", PaymentError="bad 4111111111111111"))

    [row] = store.payments_for_call(CALL["CallSid"])
    assert "4111111111111111" not in row["payment_error"]
    assert row["payment_error"].endswith("11")


def test_status_callbacks_are_recorded_in_order(twilio_post, store):
    for step in ("payment-card-number", "expiration-date", "payment-processing"):
        response = twilio_post("/voice/pay/status", {**CALL, "For": step, "Attempt": "1"})
        assert parse(response).tag == "Response"

    events = store.pay_events_for_call(CALL["CallSid"])
    assert [e["step"] for e in events] == [
        "payment-card-number",
        "expiration-date",
        "payment-processing",
    ]


def test_a_voice_handler_that_fails_apologises_in_twiml(app, twilio_post, monkeypatch):
    from storage import Store

    def broken(self, record):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "record_pay_result", broken)
    root = parse(twilio_post(COMPLETE, callback("success")))

    assert "Sorry" in root.find("./Say").text


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


def test_an_unlabelled_bank_account_number_in_error_text_is_masked():
    from ivr.records import pay_record

    record = pay_record(
        {
            "CallSid": "CA1",
            "Result": "payment-connector-error",
            "PaymentError": "Account 123456789 is closed",
            "ConnectorError": "acct 12345678 bad",
        },
        {},
    )

    assert record["payment_error"] == "Account *******89 is closed"
    assert "12345678" not in record["connector_error"]
