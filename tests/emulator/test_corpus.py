"""The emulator against recorded documents shaped like public apps' TwiML and connectors' answers.

The corpus (``tests/emulator/corpus/``) is written by the team from the published formats;
each TwiML document says in its first comment what the emulator must do with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import Caller, ConnectorEndpoint
from tests.emulator.connectors import answering, serve_wsgi

CORPUS = Path(__file__).parent / "corpus"


def document(name: str) -> bytes:
    return (CORPUS / "twiml" / name).read_bytes()


def connector_answer(name: str) -> dict:
    return json.loads((CORPUS / "connector" / name).read_text())


def play(fake_app, place_call, wsgi_transport, name: str, caller: Caller | None = None, **kw):
    fake_app.config["RAW_TWIML"][name] = document(name).decode()
    return place_call(wsgi_transport, caller or Caller(), path=f"/voice/raw/{name}", **kw)


@pytest.mark.parametrize(
    ("name", "warned"),
    [
        ("billpay-misspelled-prompt.xml", ["expiration-data"]),
        ("es-us-language.xml", []),
        ("en-ie-language.xml", []),
        ("ach-commercial-savings.xml", []),
        ("prompt-internal-error.xml", []),
        ("docs-style-card-types.xml", []),
        ("helper-library-extras.xml", ["confirmation", "<Say> is not allowed inside <Pay>", "pin"]),
    ],
)
def test_every_recorded_document_plays_to_a_successful_payment(
    fake_app, wsgi_transport, place_call, name, warned
):
    transcript = play(fake_app, place_call, wsgi_transport, name)

    assert transcript.result["Result"] == "success"
    assert transcript.ended == "hangup"
    codes = {w["code"] for w in transcript.twilio_warnings}
    assert codes == ({"12200"} if warned else set())
    messages = " ".join(w["message"] for w in transcript.twilio_warnings)
    for fragment in warned:
        assert fragment in messages
    assert len(transcript.twilio_warnings) == len(warned)


def test_the_misspelled_prompt_plays_twilios_default_expiry_wording(
    fake_app, wsgi_transport, place_call
):
    transcript = play(fake_app, place_call, wsgi_transport, "billpay-misspelled-prompt.xml")

    said = {p["for"]: p["said"] for p in transcript.payments[0].prompts}
    assert said["payment-card-number"].startswith("Please enter your card number")
    assert said["expiration-date"].startswith("Please enter your card's expiration date")
    assert said["security-code"].startswith("Please enter the security code on the back")
    assert fake_app.extensions["fake"].connector_requests[0]["parameters"] == {
        "account_number": "77120"
    }


def test_the_commercial_savings_account_type_reaches_the_callback(
    fake_app, wsgi_transport, place_call
):
    transcript = play(fake_app, place_call, wsgi_transport, "ach-commercial-savings.xml")

    assert transcript.result["BankAccountType"] == "commercial-savings"
    assert transcript.result["PaymentMethod"] == "ach-debit"


def _with_connector(answer: dict, fake_app, wsgi_transport, place_call, doc: str, caller=None):
    with serve_wsgi(answering(answer)) as url:
        endpoint = ConnectorEndpoint(url, "u", "p")
        return play(
            fake_app, place_call, wsgi_transport, doc, caller, connectors={"Default": endpoint}
        )


def test_a_stripe_style_answer_reaches_the_action_with_its_parameters(
    fake_app, wsgi_transport, place_call
):
    answer = connector_answer("stripe-style-charge.json")
    transcript = _with_connector(answer, fake_app, wsgi_transport, place_call, "en-ie-language.xml")

    assert transcript.result["PaymentConfirmationCode"] == answer["charge_id"]
    assert transcript.result["PayConnector_network_status"] == "approved_by_network"


def test_numeric_confirmation_codes_survive_the_json_transcript_of_a_bank_payment(
    fake_app, wsgi_transport, place_call
):
    """The caller's account is 123456789 and so is the gateway's confirmation: only the
    account is masked, where it stands as an account."""
    answer = connector_answer("numeric-confirmation.json")
    caller = Caller(bank_account="123456789")
    transcript = _with_connector(
        answer, fake_app, wsgi_transport, place_call, "ach-commercial-savings.xml", caller
    )
    data = transcript.to_dict()

    assert data["result"]["PaymentConfirmationCode"] == "123456789"
    assert data["result"]["PayConnector_confirmation_code"] == "000123456789"
    assert data["result"]["BankAccountNumber"] == "*******89"
    request = data["payments"][0]["connector_request"]
    assert request["bankaccountnumber"] == "*******89"
    assert data["payments"][0]["connector_response"]["json"]["charge_id"] == 123456789


def test_a_card_call_never_masks_the_unused_default_bank_account(
    fake_app, wsgi_transport, place_call
):
    answer = {"charge_id": "conf-123456789-A", "error_code": None, "error_message": None}
    transcript = _with_connector(answer, fake_app, wsgi_transport, place_call, "en-ie-language.xml")
    text = json.dumps(transcript.to_dict())

    assert "conf-123456789-A" in text
    assert "4111111111111111" not in text


def test_a_decline_with_a_message_reaches_the_action_as_connector_error(
    fake_app, wsgi_transport, place_call
):
    answer = connector_answer("decline-with-message.json")
    transcript = _with_connector(answer, fake_app, wsgi_transport, place_call, "en-ie-language.xml")

    assert transcript.result["Result"] == "payment-connector-error"
    assert transcript.result["ConnectorError"] == "card_declined"
    assert transcript.result["PaymentError"] == "Your card was declined."
    assert transcript.result["PayConnector_decline_code"] == "generic_decline"


def test_a_token_answer_reaches_the_action_as_payment_token(fake_app, wsgi_transport, place_call):
    answer = connector_answer("tokenize-token.json")
    fake_app.config["RAW_TWIML"]["tok"] = (
        "<Response><Pay chargeAmount='0' tokenType='reusable' "
        "action='https://pay.example.com/voice/pay/complete'/></Response>"
    )
    with serve_wsgi(answering(answer)) as url:
        transcript = place_call(
            wsgi_transport,
            Caller(),
            path="/voice/raw/tok",
            connectors={"Default": ConnectorEndpoint(url, "u", "p")},
        )

    assert transcript.result["Result"] == "success"
    assert transcript.result["PaymentToken"] == answer["token_id"]


def test_the_bill_pay_ivr_with_a_misspelled_prompt_exits_zero_and_three_with_strict(fake_app):
    fake_app.config["RAW_TWIML"]["billpay"] = document("billpay-misspelled-prompt.xml").decode()
    runner = fake_app.test_cli_runner()
    played = runner.invoke(args=["simulate-call", "--path", "/voice/raw/billpay"])
    strict = runner.invoke(args=["simulate-call", "--path", "/voice/raw/billpay", "--strict"])

    assert played.exit_code == 0, played.output
    assert "result: Result=success" in played.stdout
    assert "Twilio warning 12200" in played.stderr and "expiration-data" in played.stderr
    assert strict.exit_code == 3
    assert "result: Result=success" in strict.stdout
