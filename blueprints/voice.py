"""The call's TwiML webhooks: every one signed by Twilio, every answer TwiML."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from flask import Blueprint, Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from blueprints.security import external_url, twilio_signed
from connector.redact import mask_secrets, mask_value
from ivr import twiml

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")


def render(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def voice() -> twiml.Voice:
    config = current_app.config
    return twiml.Voice(language=config["VOICE_LANGUAGE"], name=config["VOICE_NAME"])


def store():
    return current_app.extensions["payline"].store()


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    """Greet the caller and collect a payment of the configured amount."""
    config = current_app.config
    amount = Decimal(config["DEFAULT_CHARGE_AMOUNT"])
    currency = config["DEFAULT_CURRENCY"]
    call_sid = request.form.get("CallSid", "")
    reference = f"ORDER-{call_sid[-8:].upper()}" if call_sid else "ORDER"
    pay = twiml.PayRequest(
        connector=config["PAY_CONNECTOR"],
        action=external_url(
            url_for("voice.pay_complete", attempt=1, amount=str(amount), currency=currency)
        ),
        status_callback=external_url(url_for("voice.pay_status")),
        amount=amount,
        currency=currency,
        description=f"{config['BUSINESS_NAME']} order {reference}",
        parameters={
            "call_sid": call_sid,
            "caller": request.form.get("From", ""),
            "order_reference": reference,
        },
    )
    intro = f"Welcome to {config['BUSINESS_NAME']}. Let's take your payment."
    return render(twiml.pay(voice(), pay, intro=intro))


@bp.post("/pay/complete")
@twilio_signed
def pay_complete() -> Response:
    """<Pay action>: record the result once, then tell the caller how it went."""
    form = request.form
    result = form.get("Result", "")
    store().record_pay_result(pay_record(form, request.args))
    code = form.get("PaymentConfirmationCode") or form.get("PaymentToken")
    response = twiml.outcome(
        voice(),
        result=result,
        code=code,
        connector_error=form.get("ConnectorError"),
        tokenized=bool(form.get("PaymentToken")) and not form.get("PaymentConfirmationCode"),
    )
    return render(response)


@bp.post("/pay/status")
@twilio_signed
def pay_status() -> Response:
    """<Pay statusCallback>: one progress event per step or error."""
    form = request.form
    store().record_pay_event(
        {
            "call_sid": form.get("CallSid", ""),
            "step": form.get("For"),
            "attempt": form.get("Attempt"),
            "error_type": form.get("ErrorType"),
            "payment_method": form.get("PaymentMethod"),
            "last4": _last_digits(form.get("PaymentCardNumber") or form.get("BankAccountNumber")),
        }
    )
    return render(VoiceResponse())


def pay_record(form, args) -> dict:
    """The row for one action callback: masked card fields only, free text masked again."""
    parameters = {
        key.removeprefix("PayConnector_"): value
        for key, value in form.items()
        if key.startswith("PayConnector_")
    }
    call_sid = form.get("CallSid", "")
    return {
        "callback_key": f"{call_sid}:{args.get('attempt', '1')}",
        "call_sid": call_sid,
        "result": form.get("Result", ""),
        "transaction_id": parameters.get("transaction_id"),
        "payment_method": form.get("PaymentMethod"),
        "amount": args.get("amount"),
        "currency": args.get("currency"),
        "invoice_number": args.get("invoice"),
        "card_type": form.get("PaymentCardType"),
        "last4": _last_digits(form.get("PaymentCardNumber") or form.get("BankAccountNumber")),
        "expiration_date": form.get("ExpirationDate"),
        "confirmation_code": form.get("PaymentConfirmationCode"),
        "payment_token": form.get("PaymentToken"),
        "connector_error": _masked(form.get("ConnectorError")),
        "payment_error": _masked(form.get("PaymentError")),
        "pay_error_code": form.get("PayErrorCode"),
        "connector_parameters": json.dumps(mask_value(parameters), sort_keys=True),
        "caller": form.get("From"),
    }


def _masked(value: str | None) -> str | None:
    return mask_secrets(value) if value else value


def _last_digits(masked: str | None) -> str | None:
    """Twilio masks these already (xxxx1111, *******92); keep only the trailing digits."""
    if not masked:
        return None
    tail = ""
    for char in reversed(masked[-4:]):
        if not char.isdigit():
            break
        tail = char + tail
    return tail or None


@bp.errorhandler(Exception)
def voice_error(error: Exception) -> Response:
    """A caller never hears Twilio's 'application error': apologise, log, hang up."""
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException):
        return error
    log.exception("voice webhook %s failed", request.path)
    return render(twiml.apology(voice()))
