"""The call emulator against the fake app: the ways a caller goes through <Gather> and <Pay>."""

from __future__ import annotations

import base64
import json

import pytest

from emulator import Caller, ConnectorEndpoint, HttpTransport
from emulator.call import gathered_digits
from tests.emulator.fakeapp import CONNECTOR_PASSWORD, CONNECTOR_USERNAME, serve

VISA = "4111111111111111"
AMEX = "378282246310005"
STATUS_STEPS = [
    "payment-card-number",
    "expiration-date",
    "security-code",
    "postal-code",
    "payment-processing",
]


def test_card_charge_succeeds_signed_for_the_public_url_while_delivered_to_loopback(
    fake_app, fake_transport, place_call
):
    transcript = place_call(fake_transport, Caller(digits=["1"]))
    state = fake_app.extensions["fake"]

    assert state.signature_failures == []
    assert transcript.ended == "hangup"
    result = transcript.result
    assert result["Result"] == "success"
    assert result["PaymentConfirmationCode"] == "ch_0001"
    assert result["PaymentCardNumber"] == "xxxxxxxxxxxx1111"
    assert result["PaymentCardType"] == "visa"
    assert result["SecurityCode"] == "xxx"
    assert result["PaymentCardPostalCode"] == "94111"
    assert result["PayConnector_processor"] == "fake"
    assert state.callbacks == [result]  # the app got exactly what the transcript says
    urls = [step.url for step in transcript.steps]
    assert urls == [
        "https://pay.example.com/voice/incoming",
        "https://pay.example.com/voice/menu",
        "https://pay.example.com/voice/pay/complete",
    ]
    delivered = [step.delivered_to for step in transcript.steps]
    assert all(url.startswith(fake_transport.base_url) for url in delivered)
    assert transcript.steps[-1].said == ["Result success."]


def test_card_charge_sends_the_contracts_connector_request(fake_app, wsgi_transport, place_call):
    transcript = place_call(wsgi_transport, Caller(digits=["1"], expiry="0839", cvv="739"))
    state = fake_app.extensions["fake"]

    [body] = state.connector_requests
    tx = body.pop("transaction_id")
    assert body == {
        "method": "charge",
        "cardnumber": VISA,
        "cvv": "739",
        "expiry_month": "08",
        "expiry_year": "39",
        "postal_code": "94111",
        "amount": "10.00",
        "currency_code": "USD",
        "description": "Invoice A-1001",
        "parameters": {"order_id": "A-1001"},
    }
    expected_auth = base64.b64encode(f"{CONNECTOR_USERNAME}:{CONNECTOR_PASSWORD}".encode())
    assert state.connector_auth == [f"Basic {expected_auth.decode()}"]
    payment = transcript.payments[0]
    assert payment.connector_request["cardnumber"] == "xxxxxxxxxxxx1111"
    assert payment.connector_request["cvv"] == "***"
    assert payment.connector_request["transaction_id"] == tx
    assert payment.connector_attempts == 1


def test_status_callbacks_follow_each_step_signed(fake_app, wsgi_transport, place_call):
    place_call(wsgi_transport, Caller(digits=["1"]))
    statuses = fake_app.extensions["fake"].statuses

    assert [s["For"] for s in statuses] == STATUS_STEPS
    assert all(s["Attempt"] == "1" and "ErrorType" not in s for s in statuses)
    assert statuses[-1]["PaymentCardNumber"] == "xxxxxxxxxxxx1111"
    assert fake_app.extensions["fake"].signature_failures == []


def test_ach_charge_reports_masked_account_and_sends_bank_fields(
    fake_app, fake_transport, place_call
):
    transcript = place_call(fake_transport, Caller(digits=["2"]))
    state = fake_app.extensions["fake"]

    result = transcript.result
    assert result["Result"] == "success"
    assert result["PaymentMethod"] == "ach-debit"
    assert result["BankAccountNumber"] == "*******89"
    assert result["BankRoutingNumber"] == "121000358"
    assert result["BankAccountType"] == "consumer-checking"
    assert "PaymentCardNumber" not in result
    [body] = state.connector_requests
    assert body["bankaccountnumber"] == "123456789"
    assert body["routingnumber"] == "121000358"
    assert "cardnumber" not in body and "cvv" not in body
    assert [s["For"] for s in state.statuses] == [
        "bank-routing-number",
        "bank-account-number",
        "payment-processing",
    ]


def test_tokenize_when_charge_amount_is_zero(fake_app, wsgi_transport, place_call):
    transcript = place_call(wsgi_transport, Caller(digits=["3"], card=AMEX))
    [body] = fake_app.extensions["fake"].connector_requests

    assert body["method"] == "tokenize"
    assert "amount" not in body and "currency_code" not in body
    assert body["cvv"] == "1234"  # the caller's default code fits an amex card
    assert transcript.result["Result"] == "success"
    assert transcript.result["PaymentToken"] == "tok_0001"
    assert "PaymentConfirmationCode" not in transcript.result


def test_gather_input_ends_at_finish_on_key_which_is_not_in_digits(fake_app, place_call):
    with serve(fake_app) as base_url:
        transcript = place_call(HttpTransport(base_url), Caller(digits=["4", "1234#"]))

    invoice_step = transcript.steps[2]
    assert invoice_step.sent["Digits"] == "1234"
    assert invoice_step.said[0] == "Invoice 1234"
    assert transcript.steps[1].pressed == ["1234#"]
    assert transcript.result["Result"] == "success"


@pytest.mark.parametrize(
    ("entry", "finish_on_key", "num_digits", "digits"),
    [
        ("1234#", "#", None, "1234"),
        ("12#34", "#", None, "12"),
        ("12345", "#", "3", "123"),
        ("12*", "*", None, "12"),
        ("12#", "", None, "12#"),
        ("#", "#", None, ""),
        ("", "#", None, ""),
    ],
)
def test_gathered_digits_follow_finish_on_key_and_num_digits(
    entry, finish_on_key, num_digits, digits
):
    assert gathered_digits(entry, finish_on_key, num_digits) == digits


def test_gather_with_no_keys_left_goes_on_with_the_next_verb(fake_app, wsgi_transport, place_call):
    transcript = place_call(wsgi_transport, Caller(digits=[]))

    assert len(transcript.steps) == 1
    assert transcript.steps[0].said[-1] == "We did not get a choice. Goodbye."
    assert transcript.ended == "hangup"
    assert transcript.payments == [] and transcript.result is None


def test_gather_with_action_on_empty_result_posts_empty_digits(
    fake_app, wsgi_transport, place_call
):
    fake_app.config["GATHER_EMPTY_ACTION"] = True
    transcript = place_call(wsgi_transport, Caller(digits=[]))

    assert transcript.steps[1].sent["Digits"] == ""
    assert transcript.steps[1].said == ["You pressed nothing."]


def test_redirect_is_followed_and_the_next_gather_takes_the_next_entry(
    fake_app, wsgi_transport, place_call
):
    transcript = place_call(wsgi_transport, Caller(digits=["9", "1"]))

    assert transcript.steps[1].next == "redirect -> https://pay.example.com/voice/incoming"
    assert transcript.steps[2].url == "https://pay.example.com/voice/incoming"
    assert transcript.result["Result"] == "success"


def test_star_at_a_step_ends_pay_and_the_app_answer_is_played(fake_app, fake_transport, place_call):
    transcript = place_call(fake_transport, Caller(digits=["1"], star_at="expiration-date"))

    assert transcript.result["Result"] == "caller-interrupted-with-star"
    assert transcript.result["PaymentCardNumber"] == "xxxxxxxxxxxx1111"
    assert "ExpirationDate" not in transcript.result
    assert fake_app.extensions["fake"].connector_requests == []
    assert transcript.steps[-1].said == ["Result caller-interrupted-with-star."]
    assert transcript.ended == "hangup"


def test_hangup_at_a_step_posts_the_callback_but_plays_nothing_more(
    fake_app, fake_transport, place_call
):
    transcript = place_call(fake_transport, Caller(digits=["1"], hangup_at="security-code"))
    state = fake_app.extensions["fake"]

    assert [c["Result"] for c in state.callbacks] == ["caller-hung-up"]
    assert state.callbacks[0]["CallStatus"] == "completed"
    assert transcript.ended == "caller-hung-up"
    last = transcript.steps[-1]
    assert last.executed is False and last.said == []
    assert state.connector_requests == []


def test_a_bad_card_fails_every_attempt_then_too_many_failed_attempts(
    fake_app, wsgi_transport, place_call
):
    fake_app.config["MAX_ATTEMPTS"] = 2
    transcript = place_call(wsgi_transport, Caller(digits=["1"], card="4111111111111112"))
    state = fake_app.extensions["fake"]

    assert transcript.result["Result"] == "too-many-failed-attempts"
    assert transcript.result["PaymentError"] == "invalid-card-number"
    assert "PaymentCardNumber" not in transcript.result
    prompts = transcript.payments[0].prompts
    assert [(p["attempt"], p["error"]) for p in prompts] == [
        (1, "invalid-card-number"),
        (2, "invalid-card-number"),
    ]
    assert prompts[0]["said"] == "Enter your card number, then press pound."
    assert prompts[1]["said"] == "That card number is not valid. Enter it again."
    assert [(s["Attempt"], s.get("ErrorType")) for s in state.statuses] == [
        ("1", None),
        ("2", "invalid-card-number"),
    ]
    assert state.connector_requests == []


def test_a_card_type_outside_valid_card_types_is_refused_at_the_card_step(
    fake_app, wsgi_transport, place_call
):
    transcript = place_call(wsgi_transport, Caller(digits=["1"], card="6011111111111117"))

    assert transcript.result["Result"] == "too-many-failed-attempts"
    assert transcript.result["PaymentError"] == "invalid-card-type"


def test_pressing_nothing_at_a_step_is_an_input_timeout(fake_app, wsgi_transport, place_call):
    transcript = place_call(wsgi_transport, Caller(digits=["1"], postal_code=""))

    assert transcript.result["Result"] == "too-many-failed-attempts"
    assert transcript.result["PaymentError"] == "invalid-postal-code"
    assert transcript.payments[0].prompts[-1]["error"] == "input-timeout"


def test_connector_timeout_then_success_on_retry_with_the_same_transaction_id(
    fake_app, fake_transport, place_call
):
    fake_app.config["CONNECTOR_DELAYS"] = [0.8]
    transcript = place_call(fake_transport, Caller(digits=["1"]), connector_timeout=0.5)
    state = fake_app.extensions["fake"]

    assert transcript.result["Result"] == "success"
    assert transcript.payments[0].connector_attempts == 2
    ids = {body["transaction_id"] for body in state.connector_requests}
    assert len(state.connector_requests) == 2 and len(ids) == 1
    assert state.charges == 1


def test_connector_never_answering_is_a_connector_error_after_six_tries(
    fake_app, wsgi_transport, place_call, closed_port_url
):
    endpoint = ConnectorEndpoint(closed_port_url, CONNECTOR_USERNAME, CONNECTOR_PASSWORD)
    transcript = place_call(wsgi_transport, Caller(digits=["1"]), connectors={"Default": endpoint})

    payment = transcript.payments[0]
    assert payment.connector_attempts == 6
    assert payment.connector_url == closed_port_url
    assert transcript.result["Result"] == "payment-connector-error"
    assert transcript.result["PaymentError"] == (
        "Payment Gateway rejected charge creation. Got malformed response from Payment Provider."
    )


def test_connector_always_too_slow_is_tried_six_times_with_one_transaction_id(
    fake_app, wsgi_transport, place_call
):
    fake_app.config["CONNECTOR_DELAY_ALL"] = 0.3
    transcript = place_call(wsgi_transport, Caller(digits=["1"]), connector_timeout=0.05)

    assert transcript.payments[0].connector_attempts == 6
    assert transcript.result["Result"] == "payment-connector-error"


def test_malformed_connector_answer_is_a_connector_error(fake_app, fake_transport, place_call):
    fake_app.config["CONNECTOR_MODE"] = "malformed"
    transcript = place_call(fake_transport, Caller(digits=["1"]))

    assert transcript.result["Result"] == "payment-connector-error"
    assert transcript.result["PayErrorCode"] == "64008"
    assert "malformed response" in transcript.result["PaymentError"]
    assert transcript.payments[0].connector_attempts == 1  # an answer is not retried


def test_connector_error_code_reaches_the_action_as_connector_error(
    fake_app, wsgi_transport, place_call
):
    fake_app.config["CONNECTOR_MODE"] = "decline"
    transcript = place_call(wsgi_transport, Caller(digits=["1"]))

    result = transcript.result
    assert result["Result"] == "payment-connector-error"
    assert result["ConnectorError"] == "card_declined"
    assert result["PaymentError"] == "card is declined"
    assert result["PayErrorCode"] == "64008"
    assert "PaymentConfirmationCode" not in result


def test_json_transcript_never_holds_the_card_number_or_the_cvv(fake_app, place_call):
    with serve(fake_app) as base_url:
        transcript = place_call(
            HttpTransport(base_url), Caller(digits=["1"], cvv="739", expiry="0839")
        )
    data = transcript.to_dict()
    text = json.dumps(data)

    assert VISA not in text
    random_ids = {data["steps"][0]["sent"]["CallSid"]}
    random_ids.add(data["payments"][0]["connector_request"]["transaction_id"])
    for value in random_ids:
        text = text.replace(value, "")
    strings = _strings(json.loads(text))
    assert not [s for s in strings if "739" in s]
    assert data["payments"][0]["connector_request"]["cvv"] == "***"
    assert "***#" in data["steps"][1]["pressed"]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_full_card_number_echoed_by_the_app_is_masked_and_warned(
    fake_app, wsgi_transport, place_call
):
    fake_app.config["RAW_TWIML"]["echo"] = f"<Response><Say>Your card {VISA}</Say></Response>"
    transcript = place_call(wsgi_transport, path="/voice/raw/echo")
    text = json.dumps(transcript.to_dict())

    assert VISA not in text
    assert "xxxxxxxxxxxx1111" in text
    assert any("full card" in w for w in transcript.warnings)


def raw(fake_app, twiml: str) -> str:
    fake_app.config["RAW_TWIML"]["doc"] = twiml
    return "/voice/raw/doc"


PAY_OPEN = "<Response><Pay chargeAmount='7.00' action='/voice/pay/complete'"


def test_a_failing_status_callback_is_reported_and_the_call_goes_on(
    fake_app, wsgi_transport, place_call
):
    path = raw(fake_app, f"{PAY_OPEN} statusCallback='/voice/nowhere'/></Response>")
    transcript = place_call(wsgi_transport, path=path)

    assert transcript.result["Result"] == "success"
    assert any("statusCallback" in w and "404" in w for w in transcript.warnings)


def test_prompts_are_chosen_by_card_type_and_attempt(fake_app, wsgi_transport, place_call):
    twiml = (
        f"{PAY_OPEN} maxAttempts='2'>"
        "<Prompt for='security-code'><Say>Code please.</Say></Prompt>"
        "<Prompt for='security-code' cardType='amex'><Say>Four digits on the front.</Say></Prompt>"
        "<Prompt for='security-code' attempt='2' cardType='amex'><Say>Once more.</Say></Prompt>"
        "</Pay></Response>"
    )
    transcript = place_call(wsgi_transport, Caller(card=AMEX, cvv="123"), path=raw(fake_app, twiml))

    said = [(p["for"], p["said"]) for p in transcript.payments[0].prompts]
    assert ("security-code", "Four digits on the front.") in said
    assert said[-1] == (
        "security-code",
        "The security code you entered is not valid. Once more.",
    )
    assert transcript.result["PaymentError"] == "invalid-security-code"


def test_literal_postal_code_and_no_security_code(fake_app, wsgi_transport, place_call):
    twiml = f"{PAY_OPEN} postalCode='SW1A1AA' securityCode='false'/></Response>"
    transcript = place_call(wsgi_transport, path=raw(fake_app, twiml))
    [body] = fake_app.extensions["fake"].connector_requests

    assert [p["for"] for p in transcript.payments[0].prompts] == [
        "payment-card-number",
        "expiration-date",
    ]
    assert body["postal_code"] == "SW1A1AA" and "cvv" not in body
    assert transcript.result["PaymentCardPostalCode"] == "SW1A1AA"
    assert "SecurityCode" not in transcript.result


def test_require_matching_inputs_asks_the_account_number_twice(
    fake_app, wsgi_transport, place_call
):
    twiml = (
        f"{PAY_OPEN} paymentMethod='ach-debit'>"
        "<Prompt for='bank-account-number'><Say>Account number.</Say></Prompt>"
        "<Prompt for='bank-account-number' requireMatchingInputs='true'>"
        "<Say>Again, please.</Say></Prompt></Pay></Response>"
    )
    transcript = place_call(wsgi_transport, path=raw(fake_app, twiml))

    prompt = transcript.payments[0].prompts[-1]
    assert prompt["said"] == "Account number."
    assert prompt["confirmed"] == {"said": "Again, please.", "pressed": "*******89#"}
    assert transcript.result["Result"] == "success"


def test_gather_with_method_get_sends_digits_in_the_signed_query(
    fake_app, fake_transport, place_call
):
    twiml = "<Response><Gather method='GET' action='/voice/get'/></Response>"
    transcript = place_call(fake_transport, Caller(digits=["5"]), path=raw(fake_app, twiml))

    assert transcript.steps[1].method == "GET"
    assert transcript.steps[1].said == ["GET Digits 5"]
    assert fake_app.extensions["fake"].signature_failures == []


def test_a_pay_connector_name_that_is_not_installed_fails_with_64004(
    fake_app, wsgi_transport, place_call
):
    elsewhere = ConnectorEndpoint("http://localhost/connector", CONNECTOR_USERNAME, "x")
    transcript = place_call(
        wsgi_transport, Caller(digits=["1"]), installed_only=True, connectors={"Other": elsewhere}
    )

    assert transcript.result["Result"] == "payment-connector-error"
    assert transcript.result["PayErrorCode"] == "64004"
    assert fake_app.extensions["fake"].connector_requests == []
