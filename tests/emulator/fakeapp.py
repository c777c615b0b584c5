"""A tiny PayLine-like app for the emulator's tests: menu, <Pay>, callbacks and a connector.

It is written here, from the reference documents, so that the emulator is tested against
something other than PayLine itself. Knobs in ``app.config`` pick its behaviour.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.serving import make_server

from emulator.commands import check_connector, simulate_call

PUBLIC_BASE_URL = "https://pay.example.com"
AUTH_TOKEN = "emulator-test-auth-token"
CONNECTOR_USERNAME = "twilio"
CONNECTOR_PASSWORD = "connector-pw"
TEST_CARDS = {
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3065930009020004",
    "3566002020360505",
    "6200000000000005",
    "6771798021000008",
}


@dataclass
class FakeState:
    """What the fake app saw. Connector bodies are kept in memory only, never written out."""

    callbacks: list[dict[str, str]] = field(default_factory=list)
    statuses: list[dict[str, str]] = field(default_factory=list)
    signature_failures: list[str] = field(default_factory=list)
    voice_requests: list[dict[str, Any]] = field(default_factory=list)
    connector_requests: list[dict[str, Any]] = field(default_factory=list)
    connector_auth: list[str | None] = field(default_factory=list)
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


def _luhn(number: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _twiml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="text/xml")


def create_fake_app(public_base_url: str | None = PUBLIC_BASE_URL, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        TWILIO_ACCOUNT_SID=None,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        CONNECTOR_USERNAME=CONNECTOR_USERNAME,
        CONNECTOR_PASSWORD=CONNECTOR_PASSWORD,
        PUBLIC_BASE_URL=public_base_url,
        CHARGE_AMOUNT="10.00",
        MAX_ATTEMPTS=None,
        GATHER_EMPTY_ACTION=None,
        RAW_TWIML={},
        # connector behaviour
        CONNECTOR_MODE="ok",  # ok | decline | malformed
        CONNECTOR_DELAYS=[],  # seconds to sleep on the next requests, one entry each
        CONNECTOR_DELAY_ALL=0.0,
        CONNECTOR_IDEMPOTENT=True,
        CONNECTOR_ID_KEY_ON_ERRORS=True,
        CONNECTOR_CHECKS_AUTH=True,
    )
    app.config.update(config)
    state = FakeState()
    app.extensions["fake"] = state
    app.cli.add_command(simulate_call)
    app.cli.add_command(check_connector)

    def public(path: str) -> str:
        base = app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
        return base + path

    @app.before_request
    def check_signature() -> None:
        if not request.path.startswith("/voice/"):
            return
        base = app.config["PUBLIC_BASE_URL"]
        url = base + request.full_path.rstrip("?") if base else request.url
        given = request.headers.get("X-Twilio-Signature", "")
        state.voice_requests.append({"path": request.path, "form": request.form.to_dict()})
        if not RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).validate(url, request.form, given):
            state.signature_failures.append(url)
            abort(403)

    def pay_twiml(**attrs: Any) -> VoiceResponse:
        response = VoiceResponse()
        pay = response.pay(
            action=public("/voice/pay/complete"),
            status_callback="/voice/pay/status",
            max_attempts=app.config["MAX_ATTEMPTS"],
            **attrs,
        )
        pay.prompt(for_="payment-card-number").say("Enter your card number, then press pound.")
        pay.prompt(for_="payment-card-number", error_type="invalid-card-number").say(
            "That card number is not valid. Enter it again."
        )
        pay.parameter(name="order_id", value="A-1001")
        return response

    @app.post("/voice/incoming")
    def incoming() -> Response:
        response = VoiceResponse()
        with response.gather(
            num_digits=1,
            action="/voice/menu",
            action_on_empty_result=app.config["GATHER_EMPTY_ACTION"],
        ) as gather:
            gather.say("Press 1 to pay by card, 2 to pay by bank, 3 to save a card.")
        response.say("We did not get a choice. Goodbye.")
        response.hangup()
        return _twiml(response)

    @app.post("/voice/menu")
    def menu() -> Response:
        digits = request.form.get("Digits", "")
        amount = app.config["CHARGE_AMOUNT"]
        if digits == "1":
            return _twiml(pay_twiml(charge_amount=amount, description="Invoice A-1001"))
        if digits == "2":
            return _twiml(pay_twiml(charge_amount=amount, payment_method="ach-debit"))
        if digits == "3":
            return _twiml(pay_twiml(charge_amount="0", token_type="reusable"))
        response = VoiceResponse()
        if digits == "4":
            with response.gather(action="/voice/invoice", finish_on_key="#", timeout=5) as g:
                g.say("Enter your invoice number, then press pound.")
            response.say("No invoice number. Goodbye.")
            return _twiml(response)
        if digits == "":
            response.say("You pressed nothing.")
            response.hangup()
            return _twiml(response)
        response.say("Sorry, that is not a choice.")
        response.redirect("/voice/incoming")
        return _twiml(response)

    @app.post("/voice/invoice")
    def invoice() -> Response:
        response = pay_twiml(charge_amount=app.config["CHARGE_AMOUNT"])
        return _twiml(
            str(response).replace(
                "<Response>", f"<Response><Say>Invoice {request.form['Digits']}</Say>"
            )
        )

    @app.post("/voice/pay/complete")
    def pay_complete() -> Response:
        state.callbacks.append(request.form.to_dict())
        response = VoiceResponse()
        response.say(f"Result {request.form.get('Result')}.")
        response.hangup()
        return _twiml(response)

    @app.post("/voice/pay/status")
    def pay_status() -> tuple[str, int]:
        state.statuses.append(request.form.to_dict())
        return "", 204

    @app.get("/voice/get")
    def get_echo() -> Response:
        response = VoiceResponse()
        response.say(f"GET Digits {request.args.get('Digits')}")
        return _twiml(response)

    @app.post("/voice/raw/<name>")
    def raw(name: str) -> Response:
        entry = app.config["RAW_TWIML"][name]
        if isinstance(entry, tuple):  # (status, body, mimetype)
            status, body, mimetype = entry
            return Response(body, status=status, mimetype=mimetype)
        return _twiml(entry)

    @app.post("/connector")
    def connector() -> tuple[Response, int] | Response:
        given = request.headers.get("Authorization")
        state.connector_auth.append(given)
        token = base64.b64encode(
            f"{app.config['CONNECTOR_USERNAME']}:{app.config['CONNECTOR_PASSWORD']}".encode()
        ).decode()
        if app.config["CONNECTOR_CHECKS_AUTH"] and not hmac.compare_digest(
            given or "", f"Basic {token}"
        ):
            return jsonify(error_code="unauthorized", error_message="bad credentials"), 401
        body = request.get_json(force=True)
        state.connector_requests.append(body)
        with state.lock:
            delays = app.config["CONNECTOR_DELAYS"]
            delay = delays.pop(0) if delays else app.config["CONNECTOR_DELAY_ALL"]
        if delay:
            time.sleep(delay)
        mode = app.config["CONNECTOR_MODE"]
        if mode == "malformed":
            return Response("OK, charged", mimetype="text/plain")
        with state.lock:
            return jsonify(answer(body))

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        """The connector's business logic; called under the state lock."""
        tx = body["transaction_id"]
        id_key = "charge_id" if body["method"] == "charge" else "token_id"
        fingerprint = {
            k: body.get(k) for k in ("method", "amount", "cardnumber", "bankaccountnumber")
        }
        if app.config["CONNECTOR_IDEMPOTENT"] and tx in state.ledger:
            stored = state.ledger[tx]
            if stored["fingerprint"] != fingerprint:
                return error(id_key, "idempotency_mismatch", "transaction_id reused")
            return stored["answer"]
        result = decide(body, id_key)
        state.ledger[tx] = {"fingerprint": fingerprint, "answer": result}
        return result

    def error(id_key: str, code: str, message: str) -> dict[str, Any]:
        data: dict[str, Any] = {"error_code": code, "error_message": message}
        if app.config["CONNECTOR_ID_KEY_ON_ERRORS"]:
            data[id_key] = None
        return data

    def decide(body: dict[str, Any], id_key: str) -> dict[str, Any]:
        if "cardnumber" in body:
            number = body["cardnumber"]
            if number not in TEST_CARDS and not _luhn(number):
                return error(id_key, "invalid_card_number", "invalid card number")
            today = dt.date.today()
            expiry = (2000 + int(body["expiry_year"]), int(body["expiry_month"]))
            if expiry < (today.year, today.month):
                return error(id_key, "invalid_expiry", "card expired")
        if app.config["CONNECTOR_MODE"] == "decline":
            return error(id_key, "card_declined", "card is declined")
        state.charges += 1
        prefix = "ch" if id_key == "charge_id" else "tok"
        return {
            id_key: f"{prefix}_{next(state.ids):04d}",
            "error_code": None,
            "error_message": None,
            "parameters": {"processor": "fake"},
        }

    return app


@contextmanager
def serve(app: Flask):
    """The app on a real HTTP server on 127.0.0.1, on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
