"""TwiML documents, built with twilio's VoiceResponse (never by string concatenation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from twilio.twiml.voice_response import VoiceResponse

from ivr import speech


@dataclass(frozen=True)
class Voice:
    """How PayLine speaks: one language and one voice for every <Say> and <Prompt>."""

    language: str = "en-US"
    name: str | None = None

    def say(self, target, text: str) -> None:
        target.say(text, voice=self.name, language=self.language)


@dataclass(frozen=True)
class PayRequest:
    """One <Pay>: charge when amount > 0, tokenize (card on file) when amount is None."""

    connector: str
    action: str
    status_callback: str
    amount: Decimal | None = None
    currency: str = "USD"
    payment_method: str = "credit-card"
    description: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def pay(voice: Voice, request: PayRequest, *, intro: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    if intro:
        voice.say(response, intro)
    pay = response.pay(
        payment_connector=request.connector,
        charge_amount=f"{request.amount:.2f}" if request.amount is not None else None,
        currency=request.currency.lower() if request.amount is not None else None,
        payment_method=request.payment_method,
        action=request.action,
        status_callback=request.status_callback,
        description=request.description,
        language=voice.language,
    )
    for name, value in request.parameters.items():
        pay.parameter(name=name, value=value)
    return response


def outcome(
    voice: Voice, *, result: str, code: str | None, connector_error: str | None, tokenized: bool
) -> VoiceResponse:
    """The spoken end of a payment: the confirmation digit by digit, or what went wrong."""
    response = VoiceResponse()
    if result == "success":
        what = "Your card is saved" if tokenized else "Thank you. Your payment was successful"
        voice.say(response, f"{what}. Your confirmation code is {speech.spell_out(code or '')}.")
        voice.say(response, "Goodbye.")
    elif result == "caller-hung-up":
        pass
    else:
        voice.say(response, speech.failure_words(result, connector_error))
        voice.say(
            response, "Nothing has been charged. Please call again to try once more. Goodbye."
        )
    response.hangup()
    return response


def apology(voice: Voice) -> VoiceResponse:
    response = VoiceResponse()
    voice.say(
        response, "Sorry, something went wrong on our side. Please call again later. Goodbye."
    )
    response.hangup()
    return response
