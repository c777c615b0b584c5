"""TwiML documents, built with twilio's VoiceResponse (never by string concatenation).

Every function returns a whole document for one step of the call; URLs come in absolute, already
built on PUBLIC_BASE_URL by the caller, so this module knows nothing of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from twilio.twiml.voice_response import Pay, VoiceResponse

import money
from ivr import speech

VALID_CARD_TYPES = "visa mastercard amex discover"
MAX_ATTEMPTS = 3
DIGIT_TIMEOUT_SECONDS = 10

CARD_PROMPTS: dict[str, tuple[str, dict[str, str]]] = {
    "payment-card-number": (
        "Please enter your card number, then press pound.",
        {
            "invalid-card-number": "That card number was not valid. Please enter it again, "
            "then press pound.",
            "invalid-card-type": "We accept Visa, Mastercard, American Express and Discover. "
            "Please enter another card number, then press pound.",
            "timeout": "We did not receive a card number. Please enter it now, then press pound.",
        },
    ),
    "expiration-date": (
        "Please enter the expiration date: two digits for the month, then two for the year.",
        {
            "invalid-date": "That expiration date was not valid, or the card has expired. "
            "Please enter it again: month, then year.",
            "timeout": "We did not receive the expiration date. Please enter the month, "
            "then the year.",
        },
    ),
    "security-code": (
        "Please enter the security code on your card.",
        {
            "invalid-security-code": "That security code was not valid. Please enter it again.",
            "timeout": "We did not receive the security code. Please enter it now.",
        },
    ),
    "postal-code": (
        "Please enter the billing ZIP code, then press pound.",
        {
            "invalid-postal-code": "That ZIP code was not valid. Please enter it again, "
            "then press pound.",
            "timeout": "We did not receive the ZIP code. Please enter it now, then press pound.",
        },
    ),
}

BANK_PROMPTS: dict[str, tuple[str, dict[str, str]]] = {
    "bank-routing-number": (
        "Please enter your bank's nine digit routing number, then press pound.",
        {
            "invalid-bank-routing-number": "That routing number was not valid. Please enter it "
            "again, then press pound.",
            "timeout": "We did not receive the routing number. Please enter it now, "
            "then press pound.",
        },
    ),
    "bank-account-number": (
        "Please enter your bank account number, then press pound.",
        {
            "invalid-bank-account-number": "That account number was not valid. Please enter it "
            "again, then press pound.",
            "timeout": "We did not receive the account number. Please enter it now, "
            "then press pound.",
        },
    ),
}

PROCESSING_PROMPT = "Thank you. Please hold while we process your payment."
SAVING_PROMPT = "Thank you. Please hold while we save your card."


@dataclass(frozen=True)
class Voice:
    """How PayLine speaks: one language and one voice for every <Say> and <Prompt>."""

    language: str = "en-US"
    name: str | None = None

    def say(self, target, text: str) -> None:
        target.say(text, voice=self.name, language=self.language)


@dataclass(frozen=True)
class PayRequest:
    """One <Pay>: a charge when `amount` is set, a tokenize (card on file) when it is None."""

    connector: str
    action: str
    status_callback: str
    fallback: str | None = None
    """Where to go if Twilio plays the verb after <Pay> instead of posting to `action`."""
    amount: Decimal | None = None
    currency: str = "USD"
    payment_method: str = "credit-card"
    description: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def menu(
    voice: Voice, *, business: str, action: str, agent: bool, retry: str | None
) -> VoiceResponse:
    """The greeting menu; `retry` is where to go when the caller presses nothing."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=action, timeout=6)
    voice.say(gather, f"Welcome to {business}.")
    options = "To pay an invoice, press 1. To save a card on file, press 2."
    if agent:
        options += " To speak with a person, press 0."
    voice.say(gather, options)
    return _then_retry_or_goodbye(response, voice, retry, "We did not receive a choice.")


def ask_invoice(voice: Voice, *, action: str, problem: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    if problem:
        voice.say(response, problem)
    gather = response.gather(
        finish_on_key="#", action=action, timeout=8, action_on_empty_result=True
    )
    voice.say(gather, "Please enter your invoice number, then press pound.")
    return response


def method_menu(
    voice: Voice, *, intro: str | None, action: str, bank: bool, agent: bool, retry: str | None
) -> VoiceResponse:
    response = VoiceResponse()
    if intro:
        voice.say(response, intro)
    gather = response.gather(num_digits=1, action=action, timeout=6)
    options = "To pay by card, press 1."
    if bank:
        options += " To pay from a bank account, press 2."
    if agent:
        options += " To speak with a person, press 0."
    voice.say(gather, options)
    return _then_retry_or_goodbye(response, voice, retry, "We did not receive a choice.")


def saved_card_menu(
    voice: Voice,
    *,
    intro: str | None,
    offer: str,
    action: str,
    agent: bool,
    retry: str | None,
) -> VoiceResponse:
    """Before the card/bank choice: the card on file first (1), or another way (2)."""
    response = VoiceResponse()
    if intro:
        voice.say(response, intro)
    gather = response.gather(num_digits=1, action=action, timeout=6)
    options = f"{offer} To pay another way, press 2."
    if agent:
        options += " To speak with a person, press 0."
    voice.say(gather, options)
    return _then_retry_or_goodbye(response, voice, retry, "We did not receive a choice.")


def ach_authorization(voice: Voice, *, statement: str, agree: str, action: str) -> VoiceResponse:
    """The TEL authorisation statement, then press 1 to agree (nothing pressed: declined)."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=action, timeout=8, action_on_empty_result=True)
    voice.say(gather, statement)
    voice.say(gather, agree)
    return response


def pay(voice: Voice, request: PayRequest, *, intro: str | None = None) -> VoiceResponse:
    """<Pay> with our own wording for every step and for the main errors."""
    response = VoiceResponse()
    if intro:
        voice.say(response, intro)
    ach = request.payment_method == "ach-debit"
    charge = request.amount is not None
    amount = (
        money.format_amount(request.amount, request.currency)
        if request.amount is not None
        else None
    )
    element = response.pay(
        payment_connector=request.connector,
        charge_amount=amount,
        currency=request.currency.lower() if charge else None,
        payment_method=request.payment_method,
        bank_account_type="consumer-checking" if ach else None,
        valid_card_types=None if ach else VALID_CARD_TYPES,
        max_attempts=MAX_ATTEMPTS,
        timeout=DIGIT_TIMEOUT_SECONDS,
        action=request.action,
        status_callback=request.status_callback,
        description=request.description,
        language=_pay_language(voice.language, ach),
    )
    for step, (default, errors) in (BANK_PROMPTS if ach else CARD_PROMPTS).items():
        _prompt(element, voice, step, default)
        for error_type, text in errors.items():
            _prompt(element, voice, step, text, error_type=error_type)
    _prompt(element, voice, "payment-processing", PROCESSING_PROMPT if charge else SAVING_PROMPT)
    for name, value in request.parameters.items():
        element.parameter(name=name, value=value)
    # Twilio posts to `action` when <Pay> ends; its docs also say that after maxAttempts the
    # call may go on with the next verb instead. Then this sends the caller on, recorded apart.
    response.redirect(request.fallback or request.action)
    return response


def _prompt(element: Pay, voice: Voice, step: str, text: str, error_type: str | None = None):
    voice.say(element.prompt(for_=step, error_type=error_type), text)


def _pay_language(language: str, ach: bool) -> str:
    """<Pay> speaks ACH prompts in the English variants only."""
    return language if not ach or language.lower().startswith("en") else "en-US"


def paid(voice: Voice, *, confirmation: str) -> VoiceResponse:
    return goodbye(
        voice,
        "Thank you. Your payment was successful. "
        f"Your confirmation code is {speech.spell_out(confirmation)}. "
        f"Again, your confirmation code is {speech.spell_out(confirmation)}.",
    )


def card_saved(voice: Voice, *, last4: str | None) -> VoiceResponse:
    ending = f" ending in {', '.join(last4)}" if last4 else ""
    return goodbye(voice, f"Thank you. Your card{ending} is saved on file.")


def payment_failed(
    voice: Voice, *, reason: str, action: str | None, options: list[str]
) -> VoiceResponse:
    """What went wrong, then the ways on (`options`, pressed at `action`), or goodbye."""
    response = VoiceResponse()
    voice.say(response, reason)
    if action is None or not options:
        voice.say(response, "Please call again later. Goodbye.")
        response.hangup()
        return response
    gather = response.gather(num_digits=1, action=action, timeout=6)
    voice.say(gather, " ".join(options))
    voice.say(response, "We did not receive a choice. Goodbye.")
    response.hangup()
    return response


def dial_agent(voice: Voice, number: str) -> VoiceResponse:
    response = VoiceResponse()
    voice.say(response, "Connecting you with a person. Please hold.")
    response.dial(number)
    return response


def goodbye(voice: Voice, text: str) -> VoiceResponse:
    response = VoiceResponse()
    voice.say(response, f"{text} Goodbye.")
    response.hangup()
    return response


def hang_up() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def apology(voice: Voice) -> VoiceResponse:
    return goodbye(voice, "Sorry, something went wrong on our side. Please call again later.")


def _then_retry_or_goodbye(
    response: VoiceResponse, voice: Voice, retry: str | None, problem: str
) -> VoiceResponse:
    """After a <Gather> the caller left empty: ask again (a <Redirect>) or say goodbye."""
    voice.say(response, problem)
    if retry:
        response.redirect(retry)
    else:
        voice.say(response, "Goodbye.")
        response.hangup()
    return response
