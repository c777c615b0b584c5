"""The call's TwiML webhooks: every one signed by Twilio, every answer TwiML.

Thin by design: parse the request, ask ivr.flow what to answer, render it. The flow and its
state (signed callback URLs) are described in ivr/flow.py and the README.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from blueprints.errors import error_response
from blueprints.security import external_url, twilio_signed
from ivr import twiml
from ivr.flow import CallFlow, FlowSettings
from ivr.records import pay_event, pay_record

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")


def render(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def voice() -> twiml.Voice:
    config = current_app.config
    return twiml.Voice(language=config["VOICE_LANGUAGE"], name=config["VOICE_NAME"])


def store():
    return current_app.extensions["payline"].store()


def link(endpoint: str, **query: Any) -> str:
    """An absolute callback URL, on PUBLIC_BASE_URL when set (the URL Twilio will sign)."""
    return external_url(url_for(endpoint, **query))


def flow() -> CallFlow:
    config = current_app.config
    settings = FlowSettings(
        business=config["BUSINESS_NAME"],
        connector=config["PAY_CONNECTOR"],
        agent_number=config["AGENT_NUMBER"],
        voice=voice(),
        hold_seconds=config["INVOICE_HOLD_SECONDS"],
        unknown_hold_seconds=config["UNKNOWN_HOLD_SECONDS"],
        ledger_reconciliation=config["LEDGER_RECONCILIATION"],
        business_phone=config["BUSINESS_PHONE"],
        ach_template=config["ACH_AUTHORIZATION_TEMPLATE"],
        ach_version=config["ACH_AUTHORIZATION_VERSION"],
    )
    return CallFlow(
        settings,
        store(),
        link,
        call_sid=request.form.get("CallSid", ""),
        processor=lambda: current_app.extensions["payline"].processor(store()),
        caller=request.form.get("From"),
        called=request.form.get("To"),
    )


def digits() -> str:
    return request.form.get("Digits", "").strip()


def query_int(name: str) -> int:
    text = request.args.get(name, "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 3 else 1


def purpose() -> str:
    return "save" if request.args.get("purpose") == "save" else "pay"


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    """Greet the caller and offer the menu."""
    return render(flow().greeting(query_int("tries")))


@bp.post("/menu")
@twilio_signed
def menu() -> Response:
    return render(flow().menu_choice(digits(), query_int("tries")))


@bp.post("/invoice")
@twilio_signed
def invoice() -> Response:
    return render(flow().invoice_number(purpose(), digits(), query_int("tries")))


@bp.post("/method")
@twilio_signed
def method() -> Response:
    number = request.args.get("invoice", "")
    return render(flow().method_choice(number, digits(), query_int("attempt"), query_int("tries")))


@bp.post("/saved-card")
@twilio_signed
def saved_card() -> Response:
    """1: pay with the card on file (charged by the processor, once per attempt)."""
    number = request.args.get("invoice", "")
    return render(
        flow().saved_card_choice(number, digits(), query_int("attempt"), query_int("tries"))
    )


@bp.post("/ach/authorize")
@twilio_signed
def ach_authorize() -> Response:
    """The caller's answer to the ACH authorisation statement (1 agrees)."""
    number = request.args.get("invoice", "")
    return render(flow().ach_choice(number, digits(), query_int("attempt")))


@bp.post("/pay/complete")
@twilio_signed
def pay_complete() -> Response:
    """<Pay action>: record the attempt once, settle or save, then tell the caller."""
    record = pay_record(request.form, request.args)
    number = request.args.get("invoice")
    return render(flow().payment_result(record, purpose(), number, query_int("attempt")))


@bp.post("/pay/retry")
@twilio_signed
def pay_retry() -> Response:
    number = request.args.get("invoice", "")
    return render(flow().retry_choice(number, purpose(), digits(), query_int("attempt")))


@bp.post("/pay/status")
@twilio_signed
def pay_status() -> Response:
    """<Pay statusCallback>: one progress event per step or error."""
    store().record_pay_event(pay_event(request.form))
    return render(VoiceResponse())


@bp.errorhandler(Exception)
def voice_error(error: Exception):
    """A caller never hears Twilio's 'application error': apologise, log, hang up."""
    if isinstance(error, HTTPException):
        return error_response(error)
    log.exception("voice webhook %s failed", request.path)
    return render(twiml.apology(voice()))
