"""The call's TwiML webhooks: every one signed by Twilio, every answer TwiML.

The flow (README, "The call flow"): menu → invoice number → balance and method → <Pay> →
outcome, with a retry menu after a failed payment. State travels in the signed callback URLs
(`invoice`, `purpose`, `attempt`, `tries`), so that any worker can serve any step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal

from flask import Blueprint, Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from blueprints.security import external_url, twilio_signed
from connector.cards import is_ascii_digits
from connector.redact import mask_secrets, mask_value
from ivr import speech, twiml
from storage import Store

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

MAX_TRIES = 3
PURPOSES = ("pay", "save")
METHODS = {"1": "credit-card", "2": "ach-debit"}


def render(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def voice() -> twiml.Voice:
    config = current_app.config
    return twiml.Voice(language=config["VOICE_LANGUAGE"], name=config["VOICE_NAME"])


def store() -> Store:
    return current_app.extensions["payline"].store()


def link(endpoint: str, **values: object) -> str:
    """An absolute callback URL, on PUBLIC_BASE_URL when set (what Twilio will sign)."""
    return external_url(url_for(endpoint, **values))


def agent_number() -> str | None:
    return current_app.config["AGENT_NUMBER"]


def tries() -> int:
    return _small_int(request.args.get("tries"), default=1)


def attempt() -> int:
    return _small_int(request.args.get("attempt"), default=1)


def _small_int(text: str | None, *, default: int) -> int:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 3 else default


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    """Greet the caller and offer the menu: 1 pay an invoice, 2 save a card, 0 a person."""
    retry = link("voice.incoming", tries=tries() + 1) if tries() < MAX_TRIES else None
    return render(
        twiml.menu(
            voice(),
            business=current_app.config["BUSINESS_NAME"],
            action=link("voice.menu"),
            agent=bool(agent_number()),
            retry=retry,
        )
    )


@bp.post("/menu")
@twilio_signed
def menu() -> Response:
    """Dispatch the menu key."""
    handlers: dict[str, Callable[[], VoiceResponse]] = {
        "1": lambda: ask_invoice_for("pay"),
        "2": lambda: ask_invoice_for("save"),
    }
    if agent_number():
        handlers["0"] = lambda: twiml.dial_agent(voice(), agent_number())
    handler = handlers.get(request.form.get("Digits", ""))
    if handler is None:
        response = VoiceResponse()
        voice().say(response, "Sorry, that is not one of the choices.")
        response.redirect(link("voice.incoming", tries=2))
        return render(response)
    return render(handler())


def ask_invoice_for(purpose: str, *, tries: int = 1, problem: str | None = None) -> VoiceResponse:
    return twiml.ask_invoice(
        voice(), action=link("voice.invoice", purpose=purpose, tries=tries), problem=problem
    )


@bp.post("/invoice")
@twilio_signed
def invoice() -> Response:
    """Look the keyed invoice number up; ask again (three times at most) when it will not do."""
    purpose = request.args.get("purpose", "pay")
    if purpose not in PURPOSES:
        purpose = "pay"
    number = request.form.get("Digits", "").strip()
    found = store().invoice(number) if _plausible_invoice_number(number) else None
    problem = _invoice_problem(number, found, purpose)
    if problem:
        if tries() >= MAX_TRIES:
            return render(
                twiml.goodbye(
                    voice(),
                    f"{problem} Please check your invoice and call us again.",
                )
            )
        return render(ask_invoice_for(purpose, tries=tries() + 1, problem=problem))
    if purpose == "save":
        return render(save_card_pay(found))
    return render(method_menu_for(found, tries=1, intro=True))


def _plausible_invoice_number(number: str) -> bool:
    return is_ascii_digits(number) and len(number) <= 12


def _invoice_problem(number: str, found: dict | None, purpose: str) -> str | None:
    if not number:
        return "We did not receive an invoice number."
    if found is None:
        return f"We could not find invoice {_digits(number)}."
    if purpose == "pay" and found["status"] == "paid":
        return f"Invoice {_digits(number)} is already paid. Thank you."
    return None


def _digits(number: str) -> str:
    return ", ".join(number)


def method_menu_for(found: dict, *, tries: int, intro: bool, attempt: int = 1) -> VoiceResponse:
    amount = Decimal(found["amount"])
    spoken = (
        f"Invoice {_digits(found['number'])}"
        + (f" for {found['customer']}" if found["customer"] else "")
        + f". The balance is {speech.amount_in_words(amount, found['currency'])}."
    )
    retry = (
        link("voice.method", invoice=found["number"], attempt=attempt, tries=tries + 1)
        if tries < MAX_TRIES
        else None
    )
    return twiml.method_menu(
        voice(),
        intro=spoken if intro else None,
        action=link("voice.method", invoice=found["number"], attempt=attempt, tries=tries),
        agent=bool(agent_number()),
        retry=retry,
    )


@bp.post("/method")
@twilio_signed
def method() -> Response:
    """1 card, 2 bank account, 0 a person; nothing pressed: offer again, three times at most."""
    found = _open_invoice_from_args()
    if isinstance(found, VoiceResponse):
        return render(found)
    digits = request.form.get("Digits", "")
    if digits in METHODS:
        return render(invoice_pay(found, METHODS[digits], attempt=attempt()))
    if digits == "0" and agent_number():
        return render(twiml.dial_agent(voice(), agent_number()))
    # Nothing pressed arrives by the menu's own <Redirect>, whose URL already counts the try.
    next_try = tries() + 1 if digits else tries()
    if next_try > MAX_TRIES:
        return render(twiml.goodbye(voice(), "We did not receive a choice."))
    return render(method_menu_for(found, tries=next_try, intro=False, attempt=attempt()))


def _open_invoice_from_args() -> dict | VoiceResponse:
    """The invoice named by the signed URL, if it can still be paid; else what to say."""
    number = request.args.get("invoice", "")
    found = store().invoice(number) if _plausible_invoice_number(number) else None
    if found is None:
        return twiml.apology(voice())
    if found["status"] == "paid":
        return twiml.goodbye(voice(), f"Invoice {_digits(number)} is already paid. Thank you.")
    return found


def invoice_pay(found: dict, payment_method: str, *, attempt: int) -> VoiceResponse:
    """<Pay> the invoice's balance in its currency, by card or from a bank account."""
    config = current_app.config
    amount = Decimal(found["amount"])
    method = "ach" if payment_method == "ach-debit" else "card"
    parameters = {
        "invoice_number": found["number"],
        "customer": found["customer"] or "",
        "call_sid": request.form.get("CallSid", ""),
    }
    if method == "ach":
        parameters["AVSName"] = found["customer"] or "Account holder"
    request_ = twiml.PayRequest(
        connector=config["PAY_CONNECTOR"],
        action=link(
            "voice.pay_complete",
            invoice=found["number"],
            purpose="pay",
            attempt=attempt,
            method=method,
            amount=str(amount),
            currency=found["currency"],
        ),
        status_callback=link("voice.pay_status"),
        amount=amount,
        currency=found["currency"],
        payment_method=payment_method,
        description=f"{config['BUSINESS_NAME']} invoice {found['number']}",
        parameters=parameters,
    )
    return twiml.pay(voice(), request_)


def save_card_pay(found: dict, *, attempt: int = 1) -> VoiceResponse:
    """A card <Pay> without a charge: the processor's token is kept with the customer."""
    config = current_app.config
    request_ = twiml.PayRequest(
        connector=config["PAY_CONNECTOR"],
        action=link(
            "voice.pay_complete",
            invoice=found["number"],
            purpose="save",
            attempt=attempt,
            method="card",
        ),
        status_callback=link("voice.pay_status"),
        description=f"{config['BUSINESS_NAME']} card on file for invoice {found['number']}",
        parameters={
            "invoice_number": found["number"],
            "customer": found["customer"] or "",
            "call_sid": request.form.get("CallSid", ""),
        },
    )
    intro = "Let's save a card on file" + (
        f" for {found['customer']}." if found["customer"] else "."
    )
    return twiml.pay(voice(), request_, intro=intro)


@bp.post("/pay/complete")
@twilio_signed
def pay_complete() -> Response:
    """<Pay action>: record the attempt once, settle or save, then tell the caller."""
    form, args = request.form, request.args
    record = pay_record(form, args)
    result = record["result"]
    purpose = args.get("purpose", "pay")
    number = args.get("invoice")
    if result == "success" and number and purpose == "pay":
        store().settle_invoice(number, record)
        return render(twiml.paid(voice(), confirmation=record["confirmation_code"] or ""))
    if result == "success" and number and purpose == "save":
        store().save_card_on_file(number, record)
        return render(twiml.card_saved(voice(), last4=record["last4"]))
    store().record_pay_result(record)
    if result == "success":
        code = record["confirmation_code"] or record["payment_token"] or ""
        return render(twiml.paid(voice(), confirmation=code))
    if result == "caller-hung-up":
        return render(twiml.hang_up())
    retry = None
    if number and attempt() < MAX_TRIES:
        retry = link("voice.pay_retry", invoice=number, purpose=purpose, attempt=attempt())
    return render(
        twiml.payment_failed(
            voice(),
            reason=speech.failure_words(result, form.get("ConnectorError")),
            action=retry,
            offer_bank=purpose == "pay",
            agent=bool(agent_number()),
        )
    )


@bp.post("/pay/retry")
@twilio_signed
def pay_retry() -> Response:
    """After a failed payment: 1 a card again, 2 a bank account, 0 a person."""
    found = _open_invoice_from_args()
    if isinstance(found, VoiceResponse):
        return render(found)
    digits = request.form.get("Digits", "")
    next_attempt = attempt() + 1
    if request.args.get("purpose") == "save":
        if digits == "1":
            return render(save_card_pay(found, attempt=next_attempt))
    elif digits in METHODS:
        return render(invoice_pay(found, METHODS[digits], attempt=next_attempt))
    if digits == "0" and agent_number():
        return render(twiml.dial_agent(voice(), agent_number()))
    return render(twiml.goodbye(voice(), "Please call again when you are ready."))


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
    key = ":".join([call_sid, args.get("purpose", "pay"), args.get("attempt", "1")])
    return {
        "callback_key": key,
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
def voice_error(error: Exception):
    """A caller never hears Twilio's 'application error': apologise, log, hang up."""
    if isinstance(error, HTTPException):
        return error
    log.exception("voice webhook %s failed", request.path)
    return render(twiml.apology(voice()))
