"""The pay-by-phone call flow: which TwiML answers each step, and what each step records.

menu → invoice number → balance and method → <Pay> → outcome (→ retry menu). State travels in
the signed callback URLs that `link` builds (invoice, purpose, attempt, tries), so that any
worker can serve any step; the only shared state is the database. Free of Flask: the voice
blueprint parses the request and renders what this returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from invoices import is_invoice_number
from ivr import speech, twiml

MAX_TRIES = 3
"""How often a menu or the invoice question is asked before goodbye."""
MAX_PAYMENTS = 3
"""How many <Pay> sessions one call may run for one invoice."""
METHODS = {"1": "credit-card", "2": "ach-debit"}

Link = Callable[..., str]
"""link(endpoint, **query) → the absolute callback URL Twilio will request (and sign)."""


@dataclass(frozen=True)
class FlowSettings:
    business: str
    connector: str
    agent_number: str | None
    voice: twiml.Voice
    hold_seconds: float = 600.0
    """How long one caller's <Pay> holds an invoice against a second caller."""
    unknown_hold_seconds: float = 1800.0
    """How long an invoice stays held when a payment's outcome is unknown (reconcile first)."""


class FlowStore(Protocol):
    def invoice(self, number: str) -> dict[str, Any] | None: ...
    def claim_invoice(self, number: str, call_sid: str, hold_seconds: float) -> bool: ...
    def hold_invoice_unknown(self, number: str, call_sid: str, hold_seconds: float) -> None: ...
    def release_invoice(self, number: str, call_sid: str) -> None: ...
    def settle_invoice(self, number: str, record: dict[str, Any]) -> str: ...
    def save_card_on_file(self, number: str, record: dict[str, Any]) -> None: ...
    def record_pay_result(self, record: dict[str, Any]) -> bool: ...


class CallFlow:
    def __init__(
        self,
        settings: FlowSettings,
        store: FlowStore,
        link: Link,
        call_sid: str,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.voice = settings.voice
        self.store = store
        self.link = link
        self.call_sid = call_sid
        self.clock = clock

    @property
    def agent(self) -> bool:
        return bool(self.settings.agent_number)

    # -- menu -------------------------------------------------------------------------------

    def greeting(self, tries: int) -> twiml.VoiceResponse:
        return twiml.menu(
            self.voice,
            business=self.settings.business,
            action=self.link("voice.menu", tries=tries),
            agent=self.agent,
            retry=self.link("voice.incoming", tries=tries + 1) if tries < MAX_TRIES else None,
        )

    def menu_choice(self, digits: str, tries: int) -> twiml.VoiceResponse:
        """1 pay an invoice, 2 save a card, 0 a person; anything else counts as a try."""
        handlers: dict[str, Callable[[], twiml.VoiceResponse]] = {
            "1": lambda: self._ask_invoice("pay"),
            "2": lambda: self._ask_invoice("save"),
        }
        if self.agent:
            handlers["0"] = self._dial_agent
        if digits in handlers:
            return handlers[digits]()
        if tries >= MAX_TRIES:
            return twiml.goodbye(self.voice, "Sorry, that is not one of the choices.")
        response = twiml.VoiceResponse()
        self.voice.say(response, "Sorry, that is not one of the choices.")
        response.redirect(self.link("voice.incoming", tries=tries + 1))
        return response

    # -- invoice number ---------------------------------------------------------------------

    def _ask_invoice(
        self, purpose: str, tries: int = 1, problem: str | None = None
    ) -> twiml.VoiceResponse:
        action = self.link("voice.invoice", purpose=purpose, tries=tries)
        return twiml.ask_invoice(self.voice, action=action, problem=problem)

    def invoice_number(self, purpose: str, digits: str, tries: int) -> twiml.VoiceResponse:
        """Look the keyed number up; ask again (three times at most) when it will not do."""
        found = self.store.invoice(digits) if is_invoice_number(digits) else None
        problem = self._invoice_problem(digits, found, purpose)
        if problem:
            if tries >= MAX_TRIES:
                return twiml.goodbye(
                    self.voice, f"{problem} Please check your invoice and call us again."
                )
            return self._ask_invoice(purpose, tries + 1, problem)
        assert found is not None
        if purpose == "save":
            return self._save_card(found, attempt=1)
        return self._method_menu(found, attempt=1, tries=1, intro=True)

    def _invoice_problem(self, digits: str, found: dict | None, purpose: str) -> str | None:
        if not digits:
            return "We did not receive an invoice number."
        if not is_invoice_number(digits):
            return "That is not a valid invoice number."  # never read back: it may be a card
        if found is None:
            return f"We could not find invoice {_digits(digits)}."
        if purpose == "pay":
            return self._unpayable(found)
        return None

    def _unpayable(self, found: dict) -> str | None:
        """Why this call cannot pay the invoice now (the same rule claim_invoice enforces)."""
        if found["status"] == "paid":
            return f"Invoice {_digits(found['number'])} is already paid. Thank you."
        held = bool(found["hold_active"])
        ours = found["paying_call"] == self.call_sid and found["hold_reason"] == "paying"
        if held and not ours:
            return _in_progress(found["number"])
        return None

    # -- balance and method -----------------------------------------------------------------

    def _method_menu(
        self, found: dict, *, attempt: int, tries: int, intro: bool
    ) -> twiml.VoiceResponse:
        amount = Decimal(found["amount"])
        spoken = (
            f"Invoice {_digits(found['number'])}"
            + (f" for {found['customer']}" if found["customer"] else "")
            + f". The balance is {speech.amount_in_words(amount, found['currency'])}."
        )
        number = found["number"]
        return twiml.method_menu(
            self.voice,
            intro=spoken if intro else None,
            action=self.link("voice.method", invoice=number, attempt=attempt, tries=tries),
            bank=_bank_allowed(found),
            agent=self.agent,
            retry=(
                self.link("voice.method", invoice=number, attempt=attempt, tries=tries + 1)
                if tries < MAX_TRIES
                else None
            ),
        )

    def method_choice(
        self, number: str, digits: str, attempt: int, tries: int
    ) -> twiml.VoiceResponse:
        """1 card, 2 bank account (USD only), 0 a person; nothing pressed: offer again."""
        found = self._invoice_or_goodbye(number, "pay")
        if not isinstance(found, dict):
            return found
        if digits == "1" or (digits == "2" and _bank_allowed(found)):
            return self._pay(found, METHODS[digits], attempt)
        if digits == "0" and self.agent:
            return self._dial_agent()
        # Nothing pressed arrives by the menu's own <Redirect>, whose URL already counts it.
        next_try = tries + 1 if digits else tries
        if next_try > MAX_TRIES:
            return twiml.goodbye(self.voice, "We did not receive a choice.")
        return self._method_menu(found, attempt=attempt, tries=next_try, intro=False)

    def _invoice_or_goodbye(self, number: str, purpose: str) -> dict | twiml.VoiceResponse:
        found = self.store.invoice(number) if is_invoice_number(number) else None
        if found is None:
            return twiml.apology(self.voice)
        problem = self._unpayable(found) if purpose == "pay" else None
        return twiml.goodbye(self.voice, problem) if problem else found

    # -- <Pay> --------------------------------------------------------------------------------

    def _pay(self, found: dict, payment_method: str, attempt: int) -> twiml.VoiceResponse:
        """<Pay> the balance in the invoice's currency, holding the invoice for this call."""
        number = found["number"]
        if not self.store.claim_invoice(number, self.call_sid, self.settings.hold_seconds):
            return twiml.goodbye(self.voice, _in_progress(number))
        amount = Decimal(found["amount"])
        parameters = self._parameters(found)
        if payment_method == "ach-debit":
            parameters["AVSName"] = found["customer"] or "Account holder"
        query = dict(invoice=number, purpose="pay", attempt=attempt, amount=str(amount))
        request = twiml.PayRequest(
            connector=self.settings.connector,
            action=self.link("voice.pay_complete", **query, currency=found["currency"]),
            fallback=self.link(
                "voice.pay_complete", **query, currency=found["currency"], fallback=1
            ),
            status_callback=self.link("voice.pay_status"),
            amount=amount,
            currency=found["currency"],
            payment_method=payment_method,
            description=f"{self.settings.business} invoice {number}",
            parameters=parameters,
        )
        return twiml.pay(self.voice, request)

    def _save_card(self, found: dict, attempt: int) -> twiml.VoiceResponse:
        """A card <Pay> without a charge: the processor's token is kept with the customer."""
        number = found["number"]
        request = twiml.PayRequest(
            connector=self.settings.connector,
            action=self.link("voice.pay_complete", invoice=number, purpose="save", attempt=attempt),
            status_callback=self.link("voice.pay_status"),
            description=f"{self.settings.business} card on file for invoice {number}",
            parameters=self._parameters(found),
        )
        customer = found["customer"]
        intro = "Let's save a card on file" + (f" for {customer}." if customer else ".")
        return twiml.pay(self.voice, request, intro=intro)

    def _parameters(self, found: dict) -> dict[str, str]:
        return {
            "invoice_number": found["number"],
            "customer": found["customer"] or "",
            "call_sid": self.call_sid,
        }

    # -- outcome ------------------------------------------------------------------------------

    def payment_result(
        self, record: dict[str, Any], purpose: str, number: str | None, attempt: int
    ) -> twiml.VoiceResponse:
        """Record the attempt once, settle or save on success, else explain and offer a way on."""
        if purpose == "save" and number:
            return self._card_saved_or_not(record, number, attempt)
        if record["result"] == "success":
            settled = self.store.settle_invoice(number, record) if number else None
            if settled is None:
                self.store.record_pay_result(record)
            code = record["confirmation_code"] or ""
            if settled == "duplicate":
                return twiml.goodbye(
                    self.voice,
                    "We received your payment, but this invoice had already been paid. "
                    "We will refund the duplicate payment. Your confirmation code is "
                    f"{speech.spell_out(code)}.",
                )
            return twiml.paid(self.voice, confirmation=code)
        self.store.record_pay_result(record)
        if number is None:
            reason = speech.failure_words(record["result"], record["connector_error"])
            return twiml.goodbye(self.voice, reason)
        unknown = speech.outcome_unknown(
            record["result"], record["connector_error"], record["pay_error_code"]
        )
        if unknown:
            seconds = self.settings.unknown_hold_seconds
            self.store.hold_invoice_unknown(number, self.call_sid, seconds)
        else:
            self.store.release_invoice(number, self.call_sid)
        if record["result"] == "caller-hung-up":
            return twiml.hang_up()
        if unknown:  # no new payment: only a person can sort this out
            return twiml.payment_failed(
                self.voice,
                reason=speech.UNKNOWN_OUTCOME_WORDS,
                action=self._retry_link(number, "pay", MAX_PAYMENTS),
                options=self._agent_option(),
            )
        options = []
        if attempt < MAX_PAYMENTS:
            options.append("To try again with a card, press 1.")
            found = self.store.invoice(number)
            if found and _bank_allowed(found):
                options.append("To pay from a bank account, press 2.")
        return twiml.payment_failed(
            self.voice,
            reason=speech.failure_words(
                record["result"],
                record["connector_error"],
                bank=record["payment_method"] == "ach-debit",
            ),
            action=self._retry_link(number, "pay", attempt),
            options=options + self._agent_option(),
        )

    def _card_saved_or_not(
        self, record: dict[str, Any], number: str, attempt: int
    ) -> twiml.VoiceResponse:
        if record["result"] == "success":
            self.store.save_card_on_file(number, record)
            return twiml.card_saved(self.voice, last4=record["last4"])
        self.store.record_pay_result(record)
        if record["result"] == "caller-hung-up":
            return twiml.hang_up()
        options = ["To try again, press 1."] if attempt < MAX_PAYMENTS else []
        return twiml.payment_failed(
            self.voice,
            reason=speech.failure_words(record["result"], record["connector_error"], saving=True),
            action=self._retry_link(number, "save", attempt),
            options=options + self._agent_option(),
        )

    def _retry_link(self, number: str, purpose: str, attempt: int) -> str:
        return self.link("voice.pay_retry", invoice=number, purpose=purpose, attempt=attempt)

    def _agent_option(self) -> list[str]:
        return ["To speak with a person, press 0."] if self.agent else []

    def retry_choice(
        self, number: str, purpose: str, digits: str, attempt: int
    ) -> twiml.VoiceResponse:
        """After a failed payment: 1 a card again, 2 a bank account, 0 a person."""
        if digits == "0" and self.agent:
            return self._dial_agent()
        found = self._invoice_or_goodbye(number, purpose)
        if not isinstance(found, dict):
            return found
        next_attempt = attempt + 1
        if next_attempt <= MAX_PAYMENTS:
            if purpose == "save" and digits == "1":
                return self._save_card(found, next_attempt)
            if purpose == "pay" and (digits == "1" or (digits == "2" and _bank_allowed(found))):
                return self._pay(found, METHODS[digits], next_attempt)
        return twiml.goodbye(self.voice, "Please call again when you are ready.")

    def _dial_agent(self) -> twiml.VoiceResponse:
        assert self.settings.agent_number
        return twiml.dial_agent(self.voice, self.settings.agent_number)


def _digits(number: str) -> str:
    return ", ".join(number)


def _in_progress(number: str) -> str:
    return (
        f"A payment for invoice {_digits(number)} is in progress or being confirmed. "
        "Please try again later."
    )


def _bank_allowed(invoice: dict) -> bool:
    """ACH debits move US dollars between US bank accounts."""
    return invoice["currency"] == "USD"
