"""Agent assist against a mocked Twilio REST API (requests-mock): every request's parameters
and its IdempotencyKey — one per logical call, the same one on every retry of that call."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import pytest
import requests
import requests_mock as rm

from app import create_app
from tests.conftest import PUBLIC_BASE_URL, settings, signature

ACCOUNT = "AC" + "a" * 32
CALL = "CA" + "1" * 32
OTHER_CALL = "CA" + "2" * 32
PK = "PK" + "b" * 32
BASE = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls"
CREATE = f"{BASE}/{CALL}/Payments.json"
UPDATE = f"{BASE}/{CALL}/Payments/{PK}.json"
STATUS_URL = f"{PUBLIC_BASE_URL}/agent/payments/status"
AGENT = {
    "Authorization": "Basic " + base64.b64encode(b"alice:agent-Zt5kP9wQ2mR7xV4c").decode(),
    "X-PayLine-Console": "1",
}


def instance(sid: str = PK, call: str = CALL) -> dict:
    return {
        "account_sid": ACCOUNT,
        "call_sid": call,
        "sid": sid,
        "date_created": "Tue, 01 Dec 2026 08:00:00 +0000",
        "date_updated": "Tue, 01 Dec 2026 08:00:00 +0000",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}/Payments/{sid}.json",
    }


def twilio_error(code: int, message: str, status: int = 400) -> dict:
    return {"json": {"code": code, "message": message, "status": status}, "status_code": status}


@pytest.fixture
def app(tmp_path):
    app = create_app(
        settings(
            tmp_path,
            TWILIO_ACCOUNT_SID=ACCOUNT,
            AGENT_USERNAME="alice",
            AGENT_PASSWORD="agent-Zt5kP9wQ2mR7xV4c",
            TWILIO_API_RETRIES=2,
        )
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    for args in (
        ["1001", "42.50", "--customer", "Ada Lovelace"],
        ["1002", "120.00", "--customer", "Grace Hopper"],
        ["2001", "1000", "--currency", "JPY"],
    ):
        assert runner.invoke(args=["invoices", "add", *args]).exit_code == 0
    return app


@pytest.fixture
def twilio():
    with rm.Mocker() as mocker:
        yield mocker


def form(request) -> dict[str, str]:
    return dict(parse_qsl(request.body, keep_blank_values=True))


def start(client, **body):
    return client.post(
        "/agent/api/sessions", json={"call_sid": CALL, "invoice": "1001", **body}, headers=AGENT
    )


def act(client, what: str, body: dict | None = None, sid: str = PK):
    return client.post(f"/agent/api/sessions/{sid}/{what}", json=body or {}, headers=AGENT)


def callback(client, params: dict, *, token: str | None = None):
    params = {"AccountSid": ACCOUNT, "CallSid": CALL, "Sid": PK, **params}
    sig = signature(STATUS_URL, params, token) if token else signature(STATUS_URL, params)
    return client.post("/agent/payments/status", data=params, headers={"X-Twilio-Signature": sig})


def test_each_logical_call_is_sent_with_its_own_key_and_the_session_parameters(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())

    assert start(client).status_code == 201
    assert act(client, "capture", {"capture": "payment-card-number"}).status_code == 200
    assert act(client, "capture", {"capture": "expiration-date"}).status_code == 200
    assert act(client, "capture", {"capture": "expiration-date"}).status_code == 200
    assert act(client, "complete").status_code == 200

    sent = [form(r) for r in twilio.request_history]
    create = sent[0]
    assert create == {
        "IdempotencyKey": create["IdempotencyKey"],
        "StatusCallback": STATUS_URL,
        "ChargeAmount": "42.50",
        "Currency": "USD",
        "Description": "PayLine invoice 1001",
        "Input": "dtmf",
        "PaymentConnector": "Default",
        "PaymentMethod": "credit-card",
        "PostalCode": "true",
        "SecurityCode": "true",
        "Confirmation": "false",
        "Parameter": create["Parameter"],
    }
    assert json.loads(create["Parameter"]) == {
        "invoice_number": "1001",
        "customer": "Ada Lovelace",
        "call_sid": CALL,
    }
    assert [s.get("Capture") or s.get("Status") for s in sent[1:]] == [
        "payment-card-number",
        "expiration-date",
        "expiration-date",
        "complete",
    ]
    assert all(s["StatusCallback"] == STATUS_URL for s in sent)
    keys = [s["IdempotencyKey"] for s in sent]
    assert len(set(keys)) == 5  # a re-capture of the same field is a new call: a new key
    assert all(r.headers["Authorization"].startswith("Basic ") for r in twilio.request_history)


def test_the_key_is_persisted_before_the_call_is_made(client, twilio, store):
    seen = {}

    def answer(request, context):
        key = form(request)["IdempotencyKey"]
        seen["row"] = store.db.one(
            "select * from agent_operations where idempotency_key = :key", {"key": key}
        )
        context.status_code = 201
        return instance()

    twilio.post(CREATE, json=answer)
    start(client)

    assert seen["row"]["state"] == "pending" and seen["row"]["kind"] == "create"
    assert seen["row"]["attempts"] == 1


def test_an_unanswered_try_is_retried_with_the_same_key(client, twilio, store):
    twilio.post(
        CREATE,
        [
            {"exc": requests.exceptions.ConnectTimeout},
            {"status_code": 503, "json": {"code": 20500, "message": "busy", "status": 503}},
            {"status_code": 201, "json": instance()},
        ],
    )

    answer = start(client)

    assert answer.status_code == 201 and answer.get_json()["payment_sid"] == PK
    keys = [form(r)["IdempotencyKey"] for r in twilio.request_history]
    assert len(keys) == 3 and len(set(keys)) == 1
    [op] = store.db.query("select * from agent_operations")
    assert op["attempts"] == 3 and op["state"] == "done" and op["payment_sid"] == PK


def test_the_agents_retry_of_an_unanswered_call_sends_its_key_and_a_new_call_a_new_one(
    client, twilio, store
):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, exc=requests.exceptions.ReadTimeout)
    start(client)

    unanswered = act(client, "capture", {"capture": "payment-card-number"})

    assert unanswered.status_code == 504
    body = unanswered.get_json()
    assert "Retry" in body["message"] and body["retry_operation"]
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["unanswered"] == [{"id": body["retry_operation"], "kind": "capture"}]

    twilio.post(UPDATE, json=instance())
    retried = client.post(
        f"/agent/api/operations/{body['retry_operation']}/retry", json={}, headers=AGENT
    )
    assert retried.status_code == 200
    again = client.post(
        f"/agent/api/operations/{body['retry_operation']}/retry", json={}, headers=AGENT
    )
    assert again.status_code == 409  # done: never sent a fourth time
    act(client, "capture", {"capture": "expiration-date"})

    updates = [form(r) for r in twilio.request_history[1:]]
    capture_keys = [u["IdempotencyKey"] for u in updates if u["Capture"] == "payment-card-number"]
    assert len(capture_keys) == 4 and len(set(capture_keys)) == 1  # 3 tries + the agent's retry
    [expiry] = [u for u in updates if u["Capture"] == "expiration-date"]
    assert expiry["IdempotencyKey"] not in capture_keys


def test_bank_payment_sends_the_account_type_and_avs_name(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)

    start(client, invoice="1002", method="bank", bank_account_type="consumer-savings")

    sent = form(twilio.last_request)
    assert sent["PaymentMethod"] == "ach-debit"
    assert sent["BankAccountType"] == "consumer-savings"
    assert sent["ChargeAmount"] == "120.00"
    assert json.loads(sent["Parameter"])["AVSName"] == "Grace Hopper"
    assert "PostalCode" not in sent and "SecurityCode" not in sent


def test_card_options_reach_twilio(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)

    start(
        client,
        confirmation=True,
        security_code=False,
        min_postal_code_length=5,
        require_matching_inputs=["payment-card-number", "postal-code"],
    )

    sent = form(twilio.last_request)
    assert sent["Confirmation"] == "true"
    assert sent["SecurityCode"] == "false" and sent["PostalCode"] == "true"
    assert sent["MinPostalCodeLength"] == "5"
    assert sent["RequireMatchingInputs"] == "payment-card-number,postal-code"
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["captures"] == [
        "payment-card-number",
        "expiration-date",
        "postal-code",
        "payment-card-number-matcher",
        "postal-code-matcher",
    ]
    twilio.post(UPDATE, json=instance())
    assert act(client, "capture", {"capture": "postal-code-matcher"}).status_code == 200
    assert form(twilio.last_request)["Capture"] == "postal-code-matcher"
    assert act(client, "capture", {"capture": "security-code"}).status_code == 400


def test_saving_a_card_sends_a_zero_charge_with_the_token_type(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)

    start(client, purpose="save", token_type="one-time")

    sent = form(twilio.last_request)
    assert sent["ChargeAmount"] == "0" and sent["TokenType"] == "one-time"


def test_a_yen_invoice_is_charged_in_whole_yen(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)

    start(client, invoice="2001")

    sent = form(twilio.last_request)
    assert (sent["ChargeAmount"], sent["Currency"]) == ("1000", "JPY")


@pytest.mark.parametrize(
    "code, words",
    [
        (64021, "already running on this call"),
        (20404, "does not know this call"),
        (64020, "refused one of the session's settings"),
    ],
)
def test_a_refused_start_explains_itself_and_releases_the_invoice(
    client, twilio, store, code, words
):
    twilio.post(CREATE, **twilio_error(code, "refused", 404 if code == 20404 else 400))

    answer = start(client)

    assert answer.status_code == 502
    assert words in answer.get_json()["message"]
    assert str(code) not in answer.get_json()["message"]
    assert not store.invoice("1001")["hold_active"]
    [op] = store.db.query("select * from agent_operations")
    assert op["state"] == "failed" and op["attempts"] == 1  # a refusal is never retried


def test_completing_too_early_is_explained_and_the_session_stays_open(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, **twilio_error(64019, "Set Status parameter to complete only after"))
    start(client)

    answer = act(client, "complete")

    assert answer.status_code == 502
    assert "still missing" in answer.get_json()["message"]
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["state"] == "active"


def test_capture_and_status_together_is_explained(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, **twilio_error(64018, "Capture and Status"))
    start(client)

    answer = act(client, "capture", {"capture": "payment-card-number"})

    assert "exactly one thing per request" in answer.get_json()["message"]


def test_two_sessions_for_one_invoice_are_refused_before_twilio_is_asked(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)
    start(client)

    second = client.post(
        "/agent/api/sessions",
        json={"call_sid": OTHER_CALL, "invoice": "1001"},
        headers=AGENT,
    )

    assert second.status_code == 409
    assert len(twilio.request_history) == 1


@pytest.mark.parametrize(
    "body, words",
    [
        ({"call_sid": "CA123"}, "Call SID"),
        ({"invoice": "9999"}, "no invoice"),
        ({"method": "cash"}, "card or bank"),
        ({"invoice": "2001", "method": "bank"}, "US dollars"),
        ({"token_type": "forever", "purpose": "save"}, "token type"),
        ({"require_matching_inputs": ["bank-account-number"]}, "Matching inputs"),
    ],
)
def test_bad_choices_are_refused_in_plain_words(client, twilio, body, words):
    answer = start(client, **body)

    assert 400 <= answer.status_code < 500
    assert words.lower() in answer.get_json()["message"].lower()
    assert twilio.request_history == []


def test_the_console_needs_the_agent_credentials(client):
    assert client.get("/agent/").status_code == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
    assert client.get("/agent/", headers=wrong).status_code == 401
    assert client.get("/agent/", headers=AGENT).status_code == 200


def test_the_console_is_shut_without_credentials(tmp_path):
    app = create_app(settings(tmp_path))
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0  # no operators
    assert app.test_client().get("/agent/", headers=AGENT).status_code == 403


def test_the_admin_pair_opens_the_console_when_no_agent_pair_is_set(tmp_path):
    app = create_app(settings(tmp_path, ADMIN_USERNAME="ops", ADMIN_PASSWORD="ops-secret"))
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    auth = {"Authorization": "Basic " + base64.b64encode(b"ops:ops-secret").decode()}
    assert app.test_client().get("/agent/api/sessions", headers=auth).status_code == 200


def test_a_post_without_the_console_header_is_refused(client, twilio):
    answer = client.post(
        "/agent/api/sessions",
        data={"call_sid": CALL, "invoice": "1001"},
        headers={"Authorization": AGENT["Authorization"]},
    )

    assert answer.status_code == 400 and answer.is_json
    assert twilio.request_history == []


def test_console_pages_carry_a_strict_content_security_policy(client):
    page = client.get("/agent/", headers=AGENT)

    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b"<script src=" in page.data and b"<script>" not in page.data


def test_a_forged_status_callback_is_refused(client, twilio, store):
    twilio.post(CREATE, json=instance(), status_code=201)
    start(client)

    forged = callback(client, {"Result": "success"}, token="not-the-token")
    unsigned = client.post("/agent/payments/status", data={"Sid": PK, "Result": "success"})

    assert forged.status_code == 403 and unsigned.status_code == 403
    assert store.agent_events(PK) == []
    assert store.invoice("1001")["status"] == "open"


def test_status_callbacks_are_recorded_masked_and_shown_live(client, twilio, store):
    twilio.post(CREATE, json=instance(), status_code=201)
    start(client)

    callback(client, {"Capture": "payment-card-number", "PartialResult": "true"})
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["capture"] == "payment-card-number" and view["partial_result"] is True
    callback(
        client,
        {
            "Capture": "payment-card-number",
            "PartialResult": "false",
            "PaymentCardNumber": "4111111111111111",  # never stored like this, whatever comes
            "PaymentCardType": "visa",
            "SecurityCode": "123",
            "Required": "ExpirationDate,SecurityCode,PostalCode",
        },
    )

    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["values"]["card_number"] == "xxxxxxxxxxxx1111"
    assert view["values"]["card_type"] == "visa"
    assert view["values"]["security_code"] == "xxx"
    assert view["required"] == ["expiration-date", "security-code", "postal-code"]
    rows = json.dumps(store.agent_events(PK))
    assert "4111111111111111" not in rows and "123" not in rows.replace(PK, "")


def test_a_success_the_connectors_ledger_does_not_hold_is_flagged_for_review(client, twilio, store):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())
    start(client)
    act(client, "complete")

    callback(client, {"Result": "success", "PaymentConfirmationCode": "ch_nowhere"})

    assert store.invoice("1001")["status"] == "open"
    [payment] = store.payments_for_call(CALL)
    assert payment["outcome"] == "needs_review" and payment["channel"] == "agent"
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["state"] == "review" and "review" in view["message"]


def test_a_successful_result_settles_the_invoice_once(tmp_path, twilio):
    app = create_app(
        settings(
            tmp_path,
            TWILIO_ACCOUNT_SID=ACCOUNT,
            AGENT_USERNAME="alice",
            AGENT_PASSWORD="agent-Zt5kP9wQ2mR7xV4c",
            LEDGER_RECONCILIATION="false",  # card data goes to another connector
        )
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["invoices", "add", "1001", "42.50"]).exit_code == 0
    client = app.test_client()
    store = app.extensions["payline"].open_store()
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())
    start(client)
    act(client, "complete")
    result = {
        "Result": "success",
        "PaymentConfirmationCode": "ch_123",
        "PaymentCardNumber": "xxxxxxxxxxxx1111",
        "PaymentCardType": "visa",
        "ExpirationDate": "1230",
    }

    assert callback(client, result).status_code == 204
    assert callback(client, result).status_code == 204  # Twilio's retry of the callback

    invoice = store.invoice("1001")
    assert invoice["status"] == "paid" and invoice["confirmation"] == "ch_123"
    [payment] = store.payments_for_call(CALL)
    assert payment["callback_key"] == f"agent:{PK}" and payment["last4"] == "1111"
    assert payment["outcome"] == "settled" and payment["channel"] == "agent"
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["state"] == "completed" and view["confirmation_code"] == "ch_123"
    store.close()


@pytest.mark.parametrize(
    "connector_error, state, held",
    [("card_declined", "failed", False), ("processing_error", "unknown", True)],
)
def test_a_failed_result_releases_or_holds_the_invoice(
    client, twilio, store, connector_error, state, held
):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())
    start(client)
    act(client, "complete")

    callback(
        client,
        {
            "Result": "payment-connector-error",
            "ConnectorError": connector_error,
            "PayErrorCode": "64008",
        },
    )

    invoice = store.invoice("1001")
    assert invoice["status"] == "open"
    assert bool(invoice["hold_active"]) is held
    assert (invoice["hold_reason"] == "unknown") is held
    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["state"] == state


def test_cancel_ends_the_session_and_frees_the_invoice(client, twilio, store):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())
    start(client)

    answer = act(client, "cancel")

    assert answer.status_code == 200 and "Nothing has been charged" in answer.get_json()["message"]
    assert form(twilio.last_request)["Status"] == "cancel"
    assert not store.invoice("1001")["hold_active"]
    assert act(client, "capture", {"capture": "payment-card-number"}).status_code == 409
    [payment] = store.payments_for_call(CALL)
    assert payment["result"] == "agent-cancelled" and payment["outcome"] == "refused"


def test_a_callback_for_a_session_whose_start_went_unanswered_adopts_it(client, twilio, store):
    twilio.post(CREATE, exc=requests.exceptions.ReadTimeout)
    assert start(client).status_code == 504

    callback(client, {"Required": "payment-card-number,expiration-date"})

    session = store.agent_session(PK)
    assert session is not None and session["invoice_number"] == "1001"
    [op] = store.db.query("select * from agent_operations")
    assert op["state"] == "done" and op["payment_sid"] == PK


def test_dashboard_operator_accounts_open_the_console_to_operators_only(app, client):
    operators = pytest.importorskip("storage.operators", reason="needs issue 12's accounts")
    assert operators
    store = app.extensions["payline"].open_store()
    store.save_operator("bob", "bob-password", "operator")
    store.save_operator("vera", "vera-password", "viewer")
    store.close()

    def auth(pair: bytes) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    assert client.get("/agent/", headers=auth(b"bob:bob-password")).status_code == 200
    assert client.get("/agent/", headers=auth(b"bob:wrong")).status_code == 401
    assert client.get("/agent/", headers=auth(b"vera:vera-password")).status_code == 403


def test_a_double_clicked_complete_is_sent_to_twilio_once(client, twilio):
    twilio.post(CREATE, json=instance(), status_code=201)
    twilio.post(UPDATE, json=instance())
    start(client)

    first = act(client, "complete")
    second = act(client, "complete")

    assert first.status_code == 200 and second.status_code == 409
    completes = [form(r) for r in twilio.request_history if form(r).get("Status") == "complete"]
    assert len(completes) == 1


def test_the_caller_hanging_up_ends_the_session_and_frees_the_invoice(client, twilio, store):
    twilio.post(CREATE, json=instance(), status_code=201)
    start(client)

    callback(client, {"Result": "caller-hung-up", "Capture": "security-code"})

    view = client.get(f"/agent/api/sessions/{PK}", headers=AGENT).get_json()
    assert view["state"] == "failed" and "hung up" in view["message"]
    assert not store.invoice("1001")["hold_active"]
    [payment] = store.payments_for_call(CALL)
    assert payment["outcome"] == "abandoned" and payment["channel"] == "agent"
