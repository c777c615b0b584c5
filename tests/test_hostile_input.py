"""Property-based hostile input against the served app: any bytes, any JSON, any form.

Whatever arrives, the answer is a 2xx contract answer or a 4xx, never a 5xx, never a stack
trace, and never an echo of the card number that was sent.
"""

from __future__ import annotations

import json
import re
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PUBLIC_BASE_URL, basic_auth, signature
from tests.server import serve

FIGURES = {"inputs": 0, "5xx": 0, "card_echoes": 0}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["4111111111111111", "10.00", "0", "-1", "USD", "08", "39", "charge"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
card_numbers = st.one_of(
    st.sampled_from(["4111111111111111", "5555555555554444", "378282246310005"]),
    st.text(alphabet=string.digits, min_size=12, max_size=19),
)
connector_requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["charge", "tokenize", "refund", ""]) | scalars,
        "transaction_id": st.text(min_size=0, max_size=40) | scalars | card_numbers,
        "cardnumber": card_numbers,
        "cvv": st.text(alphabet=string.digits, max_size=5) | scalars,
        "amount": st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
        | st.text(alphabet=string.digits + ".", max_size=45)
        | scalars,
        "currency_code": st.sampled_from(["USD", "usd", "EU", "ÉUR"]) | scalars,
        "expiry_month": st.text(alphabet=string.digits, max_size=3) | scalars,
        "expiry_year": st.text(alphabet=string.digits, max_size=4) | scalars,
        "postal_code": scalars,
        "description": scalars,
        "parameters": json_values,
    },
    optional={
        "bankaccountnumber": st.text(alphabet=string.digits, max_size=18) | scalars,
        "routingnumber": st.text(alphabet=string.digits, max_size=10) | scalars,
    },
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    server = serve(
        tmp_path_factory.mktemp("hostile"),
        workers=2,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        SANDBOX_SLOW_SECONDS="0.1",
    )
    yield server
    server.stop()
    print(f"\nhostile input: {FIGURES}")


def send(server, body: bytes) -> requests.Response:
    FIGURES["inputs"] += 1
    response = requests.post(
        server.base_url + "/connector", data=body, headers=basic_auth(), timeout=30
    )
    if response.status_code >= 500:
        FIGURES["5xx"] += 1
    return response


def assert_contract_answer(response: requests.Response) -> dict:
    assert 200 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert "error_code" in body and "error_message" in body
    assert "charge_id" in body or "token_id" in body
    return body


@FUZZ
@given(body=st.binary(max_size=300))
def test_any_bytes_get_a_contract_answer(server, body):
    assert_contract_answer(send(server, body))


@FUZZ
@given(value=json_values)
def test_any_json_gets_a_contract_answer(server, value):
    assert_contract_answer(send(server, json.dumps(value).encode()))


@FUZZ
@given(request=connector_requests)
def test_connector_shaped_json_never_fails_and_never_echoes_the_card(server, request):
    response = send(server, json.dumps(request).encode())
    assert_contract_answer(response)
    number = request["cardnumber"]
    if re.search(re.escape(number), response.text):
        FIGURES["card_echoes"] += 1
    assert number not in response.text


@FUZZ
@given(
    form=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=8),
    path=st.sampled_from(["/voice/incoming", "/voice/pay/complete", "/voice/pay/status"]),
    signed=st.booleans(),
)
def test_any_form_to_a_voice_webhook_is_twiml_or_403(server, form, path, signed):
    headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + path, form)} if signed else {}
    FIGURES["inputs"] += 1
    response = requests.post(server.base_url + path, data=form, headers=headers, timeout=30)
    if response.status_code >= 500:
        FIGURES["5xx"] += 1
    if signed:
        assert response.status_code == 200 and response.text.lstrip().startswith("<?xml")
    else:
        assert response.status_code == 403


def test_a_huge_form_to_a_voice_webhook_gets_413_not_500(server):
    response = requests.post(
        server.base_url + "/voice/incoming",
        data={"x": "y" * 2_000_000},
        headers={"X-Twilio-Signature": "c2lnbmF0dXJl"},
        timeout=30,
    )

    assert response.status_code == 413


def test_a_huge_connector_body_without_content_length_gets_413(server):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = requests.post(
        server.base_url + "/connector", data=chunks(), headers=basic_auth(), timeout=30
    )

    assert response.status_code == 413
    assert response.json()["error_code"] == "invalid_request"


def raw_request(server, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes no HTTP client library would, and return the status line."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        return sock.recv(65536).split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "authorization",
    [b"Basic \xff\xfe", b"Basic !!!notbase64", b"Basic " + b"A" * 3000, b"\xc3\xa9"],
)
def test_an_undecodable_authorization_header_gets_401(server, authorization):
    status = raw_request(
        server,
        b"POST /connector HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n"
        b"Authorization: " + authorization,
        b"{}",
    )

    assert status.startswith(b"HTTP/1.1 401"), status


def test_a_broken_chunked_body_gets_400_not_500(server):
    token = basic_auth()["Authorization"].encode()
    status = raw_request(
        server,
        b"POST /connector HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\nAuthorization: " + token,
        b"zz\r\nhello\r\n0\r\n\r\n",
    )

    assert status.startswith(b"HTTP/1.1 400"), status


def test_card_data_in_free_text_is_masked_in_the_answer_and_the_ledger(server):
    """Parameters and description are the caller's application's free text: masked."""
    import uuid

    from tests.conftest import card_charge

    body = card_charge(
        "free-text-" + uuid.uuid4().hex,
        description="pay with 5555 5555 5555 4444 cvv 739",
        parameters={"note": "card 6011111111111117", "cvv": "739", "bankaccountnumber": "12345678"},
    )
    response = requests.post(
        server.base_url + "/connector", json=body, headers=basic_auth(), timeout=10
    )

    answer = response.json()
    assert answer["charge_id"]
    assert answer["parameters"]["note"] == "card xxxxxxxxxxxx1117"
    assert answer["parameters"]["cvv"] == answer["parameters"]["bankaccountnumber"] == "***"
    for shape in ("5555555555554444", "5555 5555 5555 4444"):
        assert shape not in server.logs() and shape not in response.text
    assert "6011111111111117" not in response.text
