"""Every surface answers in its own format, with security headers, never quoting the request;
/voice fields are made safe before any view reads them; gunicorn's logs and pages are masked."""

from __future__ import annotations

import re
import socket
from xml.etree import ElementTree

import pytest
import requests

from app import create_app
from ivr.records import safe_webhook
from tests.conftest import PUBLIC_BASE_URL, basic_auth, settings, signature
from tests.server import serve

CARD = "4111111111111111"
OPERATOR = ("operator", "op-Hq7vN2xR9tLm4pW8")


@pytest.fixture
def dashboard(tmp_path):
    app = create_app(settings(tmp_path, ADMIN_USERNAME=OPERATOR[0], ADMIN_PASSWORD=OPERATOR[1]))
    app.test_cli_runner().invoke(args=["init-db"])
    return app.test_client()


def test_html_answers_carry_a_strict_csp_and_no_store(dashboard):
    page = dashboard.get("/admin/", headers=basic_auth(*OPERATOR))

    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    for inline in re.findall(rb"<(?:style|script)\b[^>]*>", page.data):  # only with the nonce
        assert f'nonce="{nonce}"'.encode() in inline


def test_every_answer_carries_nosniff_and_no_referrer(client):
    for response in (client.get("/healthz"), client.post("/connector", data=b"{}")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", [f"/voice/{CARD}", "/voice/nowhere", f"/voice/x?card={CARD}"])
def test_an_unknown_voice_path_answers_twiml_without_echo(client, path):
    response = client.post(path)

    assert response.mimetype == "text/xml"
    assert ElementTree.fromstring(response.data).tag == "Response"
    assert CARD not in response.get_data(as_text=True)


def test_a_wrong_method_on_a_voice_webhook_answers_twiml(client):
    response = client.get("/voice/incoming")

    assert response.mimetype == "text/xml"


def test_an_unsigned_voice_webhook_keeps_403_in_twiml(client):
    response = client.post("/voice/incoming", data={"Digits": CARD})

    assert response.status_code == 403 and response.mimetype == "text/xml"


@pytest.mark.parametrize("path", [f"/admin/{CARD}", f"/{CARD}", "/nowhere"])
def test_unknown_paths_elsewhere_answer_a_page_of_ours_without_echo(dashboard, path):
    response = dashboard.get(path, headers=basic_auth(*OPERATOR))

    assert response.status_code == 404 and response.mimetype == "text/html"
    assert CARD not in response.get_data(as_text=True)
    assert b"Werkzeug" not in response.data and b"The requested URL" not in response.data


def test_an_unknown_connector_path_answers_the_contract_json(client):
    response = client.post(f"/connector/{CARD}")

    assert response.status_code in (404, 405) and response.is_json
    assert response.get_json()["error_code"] == "invalid_request"
    assert CARD not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin/"), ("POST", "/voice/incoming"), ("GET", "/healthz")]
)
def test_a_body_over_the_limit_always_gets_413(client, method, path):
    response = client.open(path, method=method, data=b"x" * (1024 * 1024 + 1))

    assert response.status_code == 413


def test_voice_fields_are_made_safe_before_the_flow_reads_them(twilio_post, store):
    path = f"/voice/pay/complete?attempt=1&amount=10.00&currency=USD&invoice={CARD}"
    form = {
        "CallSid": "CAe3b0c44298fc1c149afbf4c8996fb924",
        "Result": "success",
        "From": "+15005550006",
        "PaymentCardNumber": CARD,
        "BankAccountNumber": "123456789",
        "PayConnector_note": "4111 1111",
        "PayConnector_other": "1111 1111",
        "PaymentConfirmationCode": "ch_sbx_1a2b3c4d",
    }
    twilio_post(path, form)

    [row] = store.payments_for_call(form["CallSid"])
    assert row["caller"] == "+15005550006" and row["call_sid"] == form["CallSid"]
    assert row["last4"] == "1111" and row["confirmation_code"] == "ch_sbx_1a2b3c4d"
    assert CARD not in str(row) and "4111 1111" not in str(row)
    assert row["invoice_number"] == "xxxxxxxxxxxx1111"


def test_safe_webhook_keeps_twilios_shapes_and_masks_the_rest():
    form, query = safe_webhook(
        [
            ("AccountSid", "AC" + "0" * 32),
            ("From", "+447911123456"),
            ("Caller", "+378282246310005"),
            ("Digits", "100200300400"),
            ("BankAccountNumber", "123456789"),
            ("PaymentCardNumber", "xxxxxxxxxxxx1111"),
        ],
        [("invoice", "1001"), ("tries", "1")],
    )

    assert dict(form) == {
        "AccountSid": "AC" + "0" * 32,
        "From": "+447911123456",
        "Caller": "+xxxxxxxxxxx0005",
        "Digits": "100200300400",
        "BankAccountNumber": "*******89",
        "PaymentCardNumber": "xxxxxxxxxxxx1111",
    }
    assert query == [("invoice", "1001"), ("tries", "1")]


def test_gunicorn_masks_its_access_log_and_never_echoes_a_malformed_request(tmp_path):
    server = serve(tmp_path, workers=1, PUBLIC_BASE_URL=PUBLIC_BASE_URL)
    try:
        requests.get(server.base_url + "/healthz?card=x4111%201111_1111%2B1111", timeout=10)
        requests.get(server.base_url + "/voice/%34%31%31%31111111111111", timeout=10)
        form = {"Digits": CARD}
        requests.post(
            server.base_url + "/voice/incoming",
            data=form,
            headers={"X-Twilio-Signature": signature(PUBLIC_BASE_URL + "/voice/incoming", form)},
            timeout=10,
        )
        answers = []
        for raw in (
            f"GET /{CARD[:8]} {CARD[8:]} HTTP/1.1\r\nHost: x\r\n\r\n",
            f"GET / HTTP/1.1\r\nHost: x\r\nBad Header {CARD}\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(raw.encode())
                answers.append(sock.recv(4096).decode(errors="replace"))
    finally:
        server.stop()
    logs = server.logs()

    assert "healthz?card=" in logs  # the request was logged, masked
    for text in (logs, *answers):
        assert "4111" + "1111" not in text.replace(" ", "").replace("_", "").replace("+", "")
    assert all(answer.startswith("HTTP/1.1 400") for answer in answers)
