"""The emulator's Payments API stand-in: Twilio's REST answers, the caller's keys, signed status
callbacks, the connector request on complete — checked without any app."""

from __future__ import annotations

import base64
import json
import threading
import uuid

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from agent.api import BaseUrlHttpClient
from emulator.errors import DeliveryFailed
from emulator.pay import ConnectorEndpoint
from emulator.payments_api import AgentCaller, PaymentsApi
from emulator.transport import Reply

ACCOUNT = "AC" + "d" * 32
TOKEN = "stand-in-token"
STATUS = "https://app.example.com/agent/payments/status"
CONNECTOR = "https://connector.example.com/"
AUTH = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
VISA = "4111111111111111"


class FakeTransport:
    """Records what the stand-in sends; the connector answers with a charge (or times out)."""

    base_url = "https://app.example.com"

    def __init__(self, connector_timeouts: int = 0, answer: dict | None = None) -> None:
        self.callbacks: list[dict] = []
        self.connector: list[dict] = []
        self.connector_timeouts = connector_timeouts
        self.answer = answer or {"charge_id": "ch_1", "error_code": None, "error_message": None}
        self.lock = threading.Lock()

    def send(self, method, url, form, headers, timeout):
        with self.lock:
            if url.startswith(CONNECTOR):
                self.connector.append({"body": json.loads(form), "headers": dict(headers)})
                if len(self.connector) <= self.connector_timeouts:
                    raise DeliveryFailed("no answer", timed_out=True)
                return Reply(200, json.dumps(self.answer).encode(), url, 0.01)
            self.callbacks.append({"url": url, "form": dict(form), "headers": dict(headers)})
            return Reply(204, b"", url, 0.01)


@pytest.fixture
def transport():
    return FakeTransport()


def make_api(transport, **kwargs) -> PaymentsApi:
    return PaymentsApi(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        transport=transport,
        connectors={"Default": ConnectorEndpoint(CONNECTOR, "u", "p")},
        **kwargs,
    )


@pytest.fixture
def api(transport):
    return make_api(transport)


def create_path(call: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}/Payments.json"


def update_path(call: str, sid: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}/Payments/{sid}.json"


def create(api, call, key="k-create", **fields):
    form = {
        "IdempotencyKey": key,
        "StatusCallback": STATUS,
        "ChargeAmount": "42.50",
        "Currency": "USD",
        "PaymentMethod": "credit-card",
        **fields,
    }
    return api.handle("POST", create_path(call), form, AUTH)


def update(api, call, sid, key, **fields):
    form = {"IdempotencyKey": key, "StatusCallback": STATUS, **fields}
    return api.handle("POST", update_path(call, sid), form, AUTH)


def started(api, caller=None, **fields):
    call = api.add_call(caller)
    status, body = create(api, call, **fields)
    assert status == 201, body
    api.wait_idle(body["sid"])
    return call, body["sid"]


def capture_all(api, call, sid, names):
    for name in names:
        assert update(api, call, sid, f"k-{uuid.uuid4()}", Capture=name)[0] == 200
        api.wait_idle(sid)


def test_create_needs_the_accounts_credentials(api):
    call = api.add_call()

    status, body = api.handle("POST", create_path(call), {"IdempotencyKey": "k"}, "Basic eDp5")

    assert status == 401 and body["code"] == 20003


def test_create_on_a_call_the_stand_in_does_not_know_is_404(api):
    status, body = create(api, "CA" + "9" * 32)

    assert status == 404 and body["code"] == 20404


def test_create_starts_a_session_and_posts_a_signed_callback(api, transport):
    call, sid = started(api)

    assert sid.startswith("PK") and len(sid) == 34
    [first] = transport.callbacks
    assert first["form"]["Sid"] == sid and first["form"]["CallSid"] == call
    assert first["form"]["Required"] == (
        "payment-card-number,expiration-date,security-code,postal-code"
    )
    assert RequestValidator(TOKEN).validate(
        STATUS, first["form"], first["headers"]["X-Twilio-Signature"]
    )


def test_a_repeated_key_gets_the_first_answer_and_does_nothing_twice(api):
    call = api.add_call()
    first = create(api, call)
    again = create(api, call)
    other = create(api, call, ChargeAmount="10.00")

    assert again == first and len(api.sessions) == 1
    assert other[0] == 422  # the same key for a different request
    assert [r.replayed for r in api.requests] == [False, True, False]


@pytest.mark.parametrize(
    "fields",
    [{"Capture": "payment-card-number", "Status": "complete"}, {}],
)
def test_capture_and_status_are_exclusive(api, fields):
    call, sid = started(api)

    status, body = update(api, call, sid, "k-bad", **fields)

    assert status == 400 and body["code"] == 64018


def test_complete_before_every_field_is_in_is_64019(api):
    call, sid = started(api)
    capture_all(api, call, sid, ["payment-card-number"])

    status, body = update(api, call, sid, "k-complete", Status="complete")

    assert status == 400 and body["code"] == 64019


def test_a_second_session_on_a_busy_call_is_64021(api):
    call, _ = started(api)

    status, body = create(api, call, key="k-second")

    assert status == 400 and body["code"] == 64021


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"ChargeAmount": "42.499999999999"}, 64003),
        ({"ChargeAmount": "4.25e1"}, 64003),
        ({"ChargeAmount": "1000000"}, 64003),
        ({"Currency": "JPY", "ChargeAmount": "1000.5"}, 64003),
        ({"PaymentMethod": "ach-debit"}, 64014),
        ({"BankAccountType": "consumer-savings"}, 64017),
        ({"RequireMatchingInputs": "bank-account-number"}, 64020),
        ({"TokenType": "forever"}, 64020),
    ],
)
def test_create_refuses_what_twilio_refuses(api, fields, code):
    call = api.add_call()

    status, body = create(api, call, **fields)

    assert (status, body["code"]) == (400, code)


def test_the_caller_keys_a_card_number_with_partial_results_and_masked_values(api, transport):
    call, sid = started(api)
    capture_all(api, call, sid, ["payment-card-number"])

    forms = [c["form"] for c in transport.callbacks[1:]]
    partial = [f for f in forms if f["PartialResult"] == "true"]
    final = forms[-1]
    assert [f["PaymentCardNumber"] for f in partial] == ["xxxx", "xxxxxxxx", "xxxxxxxxxxxx"]
    assert final["PartialResult"] == "false" and final["Capture"] == "payment-card-number"
    assert final["PaymentCardNumber"] == "xxxxxxxxxxxx1111"
    assert final["PaymentCardType"] == "visa"
    assert final["Required"] == "expiration-date,security-code,postal-code"
    assert VISA not in json.dumps(transport.callbacks)


def test_a_mistyped_expiry_is_an_error_and_stays_required_until_keyed_again(api, transport):
    call, sid = started(api, AgentCaller.keying(expiry=["1399", "1230"]))
    capture_all(api, call, sid, ["payment-card-number", "expiration-date"])

    wrong = transport.callbacks[-1]["form"]
    assert wrong["ErrorType"] == "invalid-date" and "expiration-date" in wrong["Required"]
    assert "ExpirationDate" not in wrong

    capture_all(api, call, sid, ["expiration-date"])
    right = transport.callbacks[-1]["form"]
    assert "ErrorType" not in right and right["ExpirationDate"] == "1230"
    assert right["Required"] == "security-code,postal-code"


def test_matching_inputs_add_matcher_captures(api, transport):
    caller = AgentCaller.keying(**{"payment-card-number-matcher": ["4111111111111112", VISA]})
    call, sid = started(api, caller, RequireMatchingInputs="payment-card-number")
    capture_all(api, call, sid, ["payment-card-number"])
    assert "payment-card-number-matcher" in transport.callbacks[-1]["form"]["Required"]

    capture_all(api, call, sid, ["payment-card-number-matcher"])
    assert transport.callbacks[-1]["form"]["ErrorType"] == "input-matching-failed"
    capture_all(api, call, sid, ["payment-card-number-matcher"])

    assert "matcher" not in transport.callbacks[-1]["form"]["Required"]
    assert "ErrorType" not in transport.callbacks[-1]["form"]


def test_complete_sends_the_connector_request_and_posts_the_result(api, transport):
    call, sid = started(api, Parameter=json.dumps({"invoice_number": "1001"}))
    capture_all(api, call, sid, ["payment-card-number", "expiration-date", "security-code"])
    capture_all(api, call, sid, ["postal-code"])

    assert update(api, call, sid, "k-complete", Status="complete")[0] == 200
    api.wait_idle(sid)

    [request] = transport.connector
    body = request["body"]
    assert body["method"] == "charge" and body["cardnumber"] == VISA
    assert body["amount"] == "42.50" and body["currency_code"] == "USD"
    assert body["parameters"] == {"invoice_number": "1001"}
    assert request["headers"]["Authorization"].startswith("Basic ")
    result = transport.callbacks[-1]["form"]
    assert result["Result"] == "success" and result["PaymentConfirmationCode"] == "ch_1"
    assert update(api, call, sid, "k-late", Capture="postal-code")[1]["code"] == 64021


def test_the_connector_is_retried_with_the_same_transaction_id_after_a_timeout(transport):
    transport.connector_timeouts = 2
    api = make_api(transport)
    call, sid = started(api)
    capture_all(
        api, call, sid, ["payment-card-number", "expiration-date", "security-code", "postal-code"]
    )

    update(api, call, sid, "k-complete", Status="complete")
    api.wait_idle(sid)

    ids = {request["body"]["transaction_id"] for request in transport.connector}
    assert len(transport.connector) == 3 and len(ids) == 1
    assert transport.callbacks[-1]["form"]["Result"] == "success"


def test_a_declined_card_posts_the_connector_error(transport):
    transport.answer = {"charge_id": None, "error_code": "card_declined", "error_message": "no"}
    api = make_api(transport)
    call, sid = started(api)
    capture_all(
        api, call, sid, ["payment-card-number", "expiration-date", "security-code", "postal-code"]
    )

    update(api, call, sid, "k-complete", Status="complete")
    api.wait_idle(sid)

    result = transport.callbacks[-1]["form"]
    assert result["Result"] == "payment-connector-error"
    assert result["ConnectorError"] == "card_declined" and result["PayErrorCode"] == "64008"


def test_the_caller_hanging_up_ends_the_session(api, transport):
    call, sid = started(api, AgentCaller(hangup_at="security-code"))
    capture_all(api, call, sid, ["payment-card-number", "security-code"])

    assert transport.callbacks[-1]["form"]["Result"] == "caller-hung-up"


def test_cancel_ends_the_session_without_asking_the_connector(api, transport):
    call, sid = started(api)

    assert update(api, call, sid, "k-cancel", Status="cancel")[0] == 200
    api.wait_idle(sid)

    assert transport.connector == []
    assert create(api, call, key="k-new")[0] == 201  # a new session may start


def test_twilio_pythons_client_speaks_to_the_stand_in_over_http(transport):
    api = make_api(transport)
    call = api.add_call()
    with api.serve() as server:
        client = Client(ACCOUNT, TOKEN, http_client=BaseUrlHttpClient(server.url, 5))
        payment = client.calls(call).payments.create(
            idempotency_key="k-1", status_callback=STATUS, charge_amount="42.50"
        )
        client.calls(call).payments(payment.sid).update(
            idempotency_key="k-2", status_callback=STATUS, capture="payment-card-number"
        )
        with pytest.raises(TwilioRestException) as refused:
            client.calls(call).payments(payment.sid).update(
                idempotency_key="k-3", status_callback=STATUS, status="complete"
            )

    assert payment.sid.startswith("PK") and payment.call_sid == call
    assert refused.value.code == 64019 and refused.value.status == 400
