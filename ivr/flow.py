"""The pay-by-phone call flow: which TwiML answers each step, and what each step records.

menu → invoice number → (card on file?) → balance and method → (ACH authorisation) → <Pay> →
outcome (→ retry menu). Every money decision is billing's: this module asks it whether an
invoice may be paid, hands it each attempt, and words what it decided. State travels in
the signed callback URLs that `link` builds (invoice, purpose, attempt, tries), so that any
worker can serve any step; the only shared state is the database. Free of Flask: the voice
blueprint parses the request and renders what this returns.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import billing
from billing import Outcome, Payability
from billing import ach as ach_rules
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
    ledger_reconciliation: bool = True
    """PayLine is the installed connector: billing checks callbacks against its ledger."""
    business_phone: str | None = None
    """Read in the ACH authorisation; None: the number the caller dialled."""
    ach_template: str | None = None
    ach_version: str | None = None

    @property
    def billing(self) -> billing.BillingSettings:
        return billing.BillingSettings(
            ledger_reconciliation=self.ledger_reconciliation,
            unknown_hold_seconds=self.unknown_hold_seconds,
        )


class CallFlow:
    def __init__(
        self,
        settings: FlowSettings,
        store: Any,
        link: Link,
        call_sid: str,
        clock: Callable[[], float] = time.time,
        *,
        processor: Callable[[], Any] | None = None,
        caller: str | None = None,
        called: str | None = None,
    ):
        self.settings = settings
        self.voice = settings.voice
        self.store = store
        self.link = link
        self.call_sid = call_sid
        self.clock = clock
        self.processor = processor
        self.caller = caller
        self.called = called

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
        if self._card_on_file(found):
            return self._saved_card_menu(found, attempt=1, tries=1, intro=True)
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
        """Why this call cannot pay the invoice now, in words (billing decides)."""
        verdict = billing.payability(self.store, found, self.call_sid)
        if verdict is Payability.PAID:
            return f"Invoice {_digits(found['number'])} is already paid. Thank you."
        if verdict is Payability.IN_PROGRESS:
            return _in_progress(found["number"])
        return None

    # -- balance and method -----------------------------------------------------------------

    def _balance(self, found: dict) -> str:
        amount = Decimal(found["amount"])
        return (
            f"Invoice {_digits(found['number'])}"
            + (f" for {found['customer']}" if found["customer"] else "")
            + f". The balance is {speech.amount_in_words(amount, found['currency'])}."
        )

    def _card_on_file(self, found: dict) -> bool:
        """A saved card to offer, and a processor that can charge it."""
        if billing.saved_card(found) is None or self.processor is None:
            return False
        return billing.charges_tokens(self.processor())

    def _saved_card_menu(
        self, found: dict, *, attempt: int, tries: int, intro: bool
    ) -> twiml.VoiceResponse:
        card = billing.saved_card(found)
        assert card is not None
        number = found["number"]
        return twiml.saved_card_menu(
            self.voice,
            intro=self._balance(found) if intro else None,
            offer=speech.saved_card_offer(card.brand, card.last4),
            action=self.link("voice.saved_card", invoice=number, attempt=attempt, tries=tries),
            agent=self.agent,
            retry=(
                self.link("voice.saved_card", invoice=number, attempt=attempt, tries=tries + 1)
                if tries < MAX_TRIES
                else None
            ),
        )

    def saved_card_choice(
        self, number: str, digits: str, attempt: int, tries: int
    ) -> twiml.VoiceResponse:
        """1 the card on file (charged by the processor, not <Pay>), 2 another way, 0 a person."""
        again = self._saved_card_again(number, attempt) if digits == "1" else None
        if again is not None:
            return again
        found = self._invoice_or_goodbye(number, "pay")
        if not isinstance(found, dict):
            # A copy of this webhook may have charged the card meanwhile: answer as it did.
            again = self._saved_card_again(number, attempt) if digits == "1" else None
            return again or found
        if digits == "1" and self._card_on_file(found):
            return self._charge_saved_card(found, attempt)
        if digits == "2" or (digits == "1" and not self._card_on_file(found)):
            return self._method_menu(found, attempt=attempt, tries=1, intro=False)
        if digits == "0" and self.agent:
            return self._dial_agent()
        next_try = tries + 1 if digits else tries
        if next_try > MAX_TRIES:
            return twiml.goodbye(self.voice, "We did not receive a choice.")
        return self._saved_card_menu(found, attempt=attempt, tries=next_try, intro=False)

    def _saved_card_again(self, number: str, attempt: int) -> twiml.VoiceResponse | None:
        """Twilio retried the webhook: the first copy's answer, or the same key asked again."""
        previous = billing.previous_charge(self.store, self.call_sid, attempt)
        if previous is not None:
            return self._after_saved_card(previous, number, attempt)
        found = self.store.invoice(number) if is_invoice_number(number) else None
        if found and billing.charge_pending(self.store, self.call_sid, attempt):
            return self._charge_saved_card(found, attempt, claimed=True)
        return None

    def _charge_saved_card(
        self, found: dict, attempt: int, *, claimed: bool = False
    ) -> twiml.VoiceResponse:
        number = found["number"]
        if not claimed and not billing.claim(
            self.store, number, self.call_sid, self.settings.hold_seconds
        ):
            again = self._saved_card_again(number, attempt)  # a copy of this webhook won
            return again or twiml.goodbye(self.voice, _in_progress(number))
        assert self.processor is not None
        decision = billing.charge_saved_card(
            self.store,
            self.processor(),
            found,
            call_sid=self.call_sid,
            attempt=attempt,
            description=f"{self.settings.business} invoice {number}",
            caller=self.caller,
            settings=self.settings.billing,
        )
        return self._after_saved_card(decision, number, attempt)

    def _after_saved_card(
        self, decision: billing.Decision, number: str, attempt: int
    ) -> twiml.VoiceResponse:
        """Paid (the confirmation read back), or declined: the other ways to pay."""
        if decision.outcome in (Outcome.REFUSED, Outcome.ABANDONED):
            found = self.store.invoice(number)
            if attempt >= MAX_PAYMENTS or found is None:
                return twiml.goodbye(self.voice, speech.SAVED_CARD_REFUSED_WORDS)
            response = self._method_menu(found, attempt=attempt + 1, tries=1, intro=False)
            return _preceded(response, self.voice, speech.SAVED_CARD_REFUSED_WORDS)
        return self._told(decision, result="success", number=number, reason=None)

    def _method_menu(
        self, found: dict, *, attempt: int, tries: int, intro: bool
    ) -> twiml.VoiceResponse:
        number = found["number"]
        return twiml.method_menu(
            self.voice,
            intro=self._balance(found) if intro else None,
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
            return self._start_payment(found, METHODS[digits], attempt)
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

    # -- ACH authorisation (NACHA TEL) -------------------------------------------------------

    def _start_payment(self, found: dict, payment_method: str, attempt: int) -> twiml.VoiceResponse:
        """A card goes straight to <Pay>; a bank debit is authorised by the caller first."""
        if payment_method == "ach-debit":
            return twiml.ach_authorization(
                self.voice,
                statement=self._ach_statement(found).text,
                agree=speech.ACH_AGREE_WORDS,
                action=self.link("voice.ach_authorize", invoice=found["number"], attempt=attempt),
            )
        return self._pay(found, payment_method, attempt)

    def _ach_statement(self, found: dict) -> ach_rules.AchStatement:
        today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()
        return ach_rules.statement(
            template=self.settings.ach_template,
            version=self.settings.ach_version,
            business=self.settings.business,
            amount_words=speech.amount_in_words(Decimal(found["amount"]), found["currency"]),
            date=today,
            phone=self.settings.business_phone or self.called or "the number you called",
        )

    def ach_choice(self, number: str, digits: str, attempt: int) -> twiml.VoiceResponse:
        """1: the caller agrees (recorded with the statement they heard), then <Pay>."""
        found = self._invoice_or_goodbye(number, "pay")
        if not isinstance(found, dict):
            return found
        if digits != "1" or not _bank_allowed(found):
            response = self._method_menu(found, attempt=attempt, tries=1, intro=False)
            return _preceded(response, self.voice, speech.ACH_DECLINED_WORDS)
        ach_rules.record_agreement(
            self.store,
            call_sid=self.call_sid,
            invoice=found,
            attempt=attempt,
            said=self._ach_statement(found),
            caller=self.caller,
        )
        return self._pay(found, "ach-debit", attempt)

    # -- <Pay> --------------------------------------------------------------------------------

    def _pay(self, found: dict, payment_method: str, attempt: int) -> twiml.VoiceResponse:
        """<Pay> the balance in the invoice's currency, holding the invoice for this call."""
        number = found["number"]
        if not billing.claim(self.store, number, self.call_sid, self.settings.hold_seconds):
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
        """Hand the attempt to billing (record once, settle, hold or release), then word it."""
        decision = billing.settle_attempt(
            self.store,
            billing.Attempt(record, purpose=purpose, attempt=attempt),
            self.settings.billing,
        )
        if purpose == "save" and number:
            return self._card_saved_or_not(decision, record, number, attempt)
        reason = speech.failure_words(
            record["result"],
            record["connector_error"],
            bank=record["payment_method"] == "ach-debit",
        )
        return self._told(
            decision, result=record["result"], number=number, reason=reason, attempt=attempt
        )

    def _told(
        self,
        decision: billing.Decision,
        *,
        result: str,
        number: str | None,
        reason: str | None,
        attempt: int = MAX_PAYMENTS,
    ) -> twiml.VoiceResponse:
        """Word billing's decision; never "nothing has been charged" when money may be taken."""
        code = decision.confirmation or ""
        if result == "caller-hung-up":
            return twiml.hang_up()
        if decision.outcome in (Outcome.SETTLED, Outcome.REFUNDED):
            return twiml.paid(self.voice, confirmation=code)
        if decision.outcome is Outcome.REFUND_DUE:
            return twiml.goodbye(
                self.voice,
                f"{speech.DUPLICATE_WORDS} Your confirmation code is {speech.spell_out(code)}.",
            )
        if decision.may_have_charged or number is None:
            words = speech.UNKNOWN_OUTCOME_WORDS if decision.may_have_charged else reason
            if number is None:
                return twiml.goodbye(self.voice, words or speech.UNKNOWN_OUTCOME_WORDS)
            return twiml.payment_failed(  # no new payment: only a person can sort this out
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
            reason=reason or "The payment could not be completed. Nothing has been charged.",
            action=self._retry_link(number, "pay", attempt),
            options=options + self._agent_option(),
        )

    def _card_saved_or_not(
        self, decision: billing.Decision, record: dict[str, Any], number: str, attempt: int
    ) -> twiml.VoiceResponse:
        if decision.outcome is Outcome.SAVED:
            return twiml.card_saved(self.voice, last4=record["last4"])
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
                return self._start_payment(found, METHODS[digits], next_attempt)
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


def _preceded(response: twiml.VoiceResponse, voice: twiml.Voice, text: str) -> twiml.VoiceResponse:
    """The same document, with `text` said first."""
    first = twiml.VoiceResponse()
    voice.say(first, text)
    for verb in response.verbs:
        first.append(verb)
    return first


def _bank_allowed(invoice: dict) -> bool:
    """ACH debits move US dollars between US bank accounts."""
    return invoice["currency"] == "USD"
