"""The http gateway adapter against a mocked gateway (requests-mock): the only mock we use."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from connector.processors import ProcessorUnavailable
from connector.processors.http import HttpGatewayProcessor
from connector.protocol import parse_envelope, validate
from tests.conftest import ach_charge, card_charge, tokenize

GATEWAY = "https://gateway.example.com/v1/payments"


def request_for(body: dict):
    envelope = parse_envelope(json.dumps(body).encode())
    return validate(envelope, mode="test", today=dt.date(2026, 11, 26))


@pytest.fixture
def gateway():
    return HttpGatewayProcessor(url=GATEWAY, username="pk", password="sk", timeout_seconds=8)


def test_a_charge_is_relayed_with_the_idempotency_key_and_gateway_credentials(
    gateway, requests_mock
):
    requests_mock.post(GATEWAY, json={"id": "gw_1", "error_code": None})

    result = gateway.charge(request_for(card_charge("tx-1")), "tx-1")

    assert result.id == "gw_1" and result.error_code is None
    sent = requests_mock.last_request
    assert sent.headers["Idempotency-Key"] == "tx-1"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.json()["amount"] == "10.00" and sent.json()["currency"] == "USD"
    assert sent.json()["card"]["exp_year"] == 2039
    assert sent.timeout == (3.05, 8)  # connect, then the whole exchange's budget


def test_ach_and_tokenize_are_relayed_with_their_own_fields(gateway, requests_mock):
    requests_mock.post(GATEWAY, json={"id": "gw_tok"})

    result = gateway.tokenize(request_for(tokenize(ach_charge("tx-2"))), "tx-2")

    assert result.id == "gw_tok"
    sent = requests_mock.last_request.json()
    assert sent["type"] == "tokenize" and "amount" not in sent
    assert sent["bank_account"]["routing_number"] == "121000358"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (402, {"error_code": "card_declined", "error_message": "Do not honor"}, "card_declined"),
        (200, {"id": None, "error_code": "insufficient_funds"}, "insufficient_funds"),
        (422, {"error_code": "weird_gateway_code"}, "processing_error"),
    ],
)
def test_business_refusals_are_final_contract_errors(gateway, requests_mock, status, body, code):
    requests_mock.post(GATEWAY, status_code=status, json=body)

    result = gateway.charge(request_for(card_charge("tx-3")), "tx-3")

    assert result.id is None and result.error_code == code and result.error_message


@pytest.mark.parametrize(
    "mock",
    [
        {"exc": requests.exceptions.ConnectTimeout},
        {"exc": requests.exceptions.ReadTimeout},
        {"exc": requests.exceptions.ConnectionError},
        {"status_code": 500, "json": {"error": "boom"}},
        {"status_code": 503, "text": "<html>down</html>"},
        {"status_code": 409, "json": {"error_code": "in_progress"}},
        {"status_code": 200, "text": "not json"},
        {"status_code": 200, "json": ["a list"]},
        {"status_code": 200, "json": {"status": "ok"}},
    ],
)
def test_unknown_outcomes_raise_processor_unavailable(gateway, requests_mock, mock):
    requests_mock.post(GATEWAY, **mock)

    with pytest.raises(ProcessorUnavailable) as failure:
        gateway.charge(request_for(card_charge("tx-4")), "tx-4")

    assert "4111111111111111" not in str(failure.value)


@pytest.fixture
def gateway_app(tmp_path, requests_mock):
    from app import create_app
    from tests.conftest import settings

    requests_mock.real_http = True
    app = create_app(
        settings(tmp_path, PROCESSOR="http", PROCESSOR_URL=GATEWAY, PROCESSOR_RETRY_SECONDS=1.0)
    )
    app.test_cli_runner().invoke(args=["init-db"])
    return app


def connector(app, body: dict) -> dict:
    from tests.conftest import basic_auth

    return app.test_client().post("/connector", json=body, headers=basic_auth()).get_json()


def test_an_unknown_outcome_is_asked_again_with_the_same_key_before_answering(
    gateway_app, requests_mock
):
    requests_mock.post(
        GATEWAY,
        [
            {"exc": requests.exceptions.ReadTimeout},
            {"status_code": 503, "text": "busy"},
            {"json": {"id": "gw_9"}},
        ],
    )

    answer = connector(gateway_app, card_charge("tx-5"))

    assert answer["charge_id"] == "gw_9"
    assert requests_mock.call_count == 3
    assert {r.headers["Idempotency-Key"] for r in requests_mock.request_history} == {"tx-5"}
    [row] = json.loads(gateway_app.test_cli_runner().invoke(args=["ledger", "--json"]).stdout)
    assert (row["processor_requests"], row["processor_charges"]) == (3, 1)


def test_when_the_gateway_never_answers_the_outcome_stays_open_for_a_retry(
    gateway_app, requests_mock
):
    requests_mock.post(GATEWAY, exc=requests.exceptions.ReadTimeout)
    first = connector(gateway_app, card_charge("tx-6"))
    requests_mock.post(GATEWAY, json={"id": "gw_10"})
    retry = connector(gateway_app, card_charge("tx-6"))

    assert first["charge_id"] is None and first["error_code"] == "processing_error"
    assert "did not confirm" in first["error_message"]
    assert retry["charge_id"] == "gw_10"


def test_a_gateway_error_message_with_card_data_is_masked(gateway_app, requests_mock):
    requests_mock.post(
        GATEWAY,
        status_code=402,
        json={"error_code": "card_declined", "error_message": "4111111111111111 cvv 739 no"},
    )

    answer = connector(gateway_app, card_charge("tx-7"))

    assert answer["error_code"] == "card_declined"
    assert "4111111111111111" not in answer["error_message"]
    assert "739" not in answer["error_message"]
