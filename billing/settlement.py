"""Record an attempt once and settle its money: the one place that settles, holds and releases.

An attempt is one <Pay> action callback (or one charge of a card on file). It is recorded once
(its `callback_key`); a copy of a recorded callback is a repeat and changes nothing. Then the
evidence decides, in this order:

1. When PayLine is its own connector (the default), the connector's ledger is the other book:
   a `success` settles only when the ledger holds that charge, finished, for this call, this
   invoice, the invoice's amount and currency; anything else is recorded as needs review. Any
   other result first looks for a charge the connector booked for this call and invoice: if one
   was booked, the attempt is that charge (settled, or refund due when the invoice is paid).
2. Otherwise the failure's class (billing.classification) decides: refused before any charge
   releases this call's hold; unknown holds the invoice until `reconcile` settles it.

Only the call that holds an invoice moves its hold; a settlement (money taken) always lands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from billing.classification import REFUSED, failure_class
from billing.outcomes import CHARGED, Outcome

log = logging.getLogger(__name__)

ABANDONING_RESULTS = frozenset(
    {"caller-hung-up", "caller-interrupted-with-star", "too-many-failed-attempts"}
)
DUPLICATE_NOTE = "duplicate: the invoice was already paid; refund due"


@dataclass(frozen=True)
class BillingSettings:
    ledger_reconciliation: bool = True
    """PayLine is the installed connector: check every callback against its ledger. False when
    Twilio sends card data to another connector; then the signed callback is the only source."""
    unknown_hold_seconds: float = 1800.0
    """How long an invoice stays held when an attempt's outcome is unknown."""


@dataclass(frozen=True)
class Attempt:
    """One attempt to pay (or save a card for) an invoice, as its payments row records it.

    `record` holds the payments columns (`ivr.records.pay_record` builds them from Twilio's
    callback; agent assist builds the same keys): at least `callback_key`, `call_sid`,
    `result`, `invoice_number`, and what Twilio reported (`confirmation_code`,
    `payment_token`, `connector_error`, `pay_error_code`, `transaction_id`, …).
    """

    record: Mapping[str, Any]
    purpose: str = "pay"
    """"pay" (a charge) or "save" (a tokenize: card on file)."""
    attempt: int = 1
    channel: str = "ivr"
    """"ivr" or "agent"."""

    @property
    def call_sid(self) -> str:
        return str(self.record.get("call_sid") or "")

    @property
    def invoice_number(self) -> str | None:
        return self.record.get("invoice_number")

    @property
    def result(self) -> str:
        return str(self.record.get("result") or "")


@dataclass(frozen=True)
class Decision:
    """What became of an attempt: its outcome, and whether this callback was a repeat."""

    outcome: Outcome
    payment_id: int | None
    repeat: bool = False
    confirmation: str | None = None
    review_reason: str | None = None

    @property
    def charged(self) -> bool:
        """Money was taken: never tell the caller that nothing has been charged."""
        return self.outcome in CHARGED

    @property
    def may_have_charged(self) -> bool:
        return self.charged or self.outcome in (Outcome.UNKNOWN, Outcome.NEEDS_REVIEW)


@dataclass(frozen=True)
class Verdict:
    """What the evidence says about one attempt, before it is applied to the books."""

    kind: str
    """"charged", "refused", "abandoned", "unknown", "review" or "saved"."""
    reason: str | None = None
    charge_id: str | None = None
    key: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class BillingStore(Protocol):
    """The storage billing uses (implemented by storage.Store)."""

    db: Any

    def invoice(self, number: str) -> dict[str, Any] | None: ...
    def record_pay_result(self, record: dict[str, Any]) -> int | None: ...
    def payment_by_callback_key(self, callback_key: str) -> dict[str, Any] | None: ...
    def conclude_payment(
        self, payment_id: int, changes: dict[str, Any], *, unless: tuple[str, ...] = ()
    ) -> bool: ...
    def payments_recording_charge(self, charge_id: str) -> list[dict[str, Any]]: ...
    def ledger_entry_for_charge(self, charge_id: str) -> dict[str, Any] | None: ...
    def ledger_entries_for_attempt(
        self, call_sid: str, invoice_number: str, method: str = "charge"
    ) -> list[dict[str, Any]]: ...
    def mark_invoice_paid(self, number: str, payment_id: int, confirmation: str | None) -> bool: ...
    def release_invoice(self, number: str, call_sid: str) -> bool: ...
    def release_unknown_hold(self, number: str, call_sid: str) -> bool: ...
    def hold_invoice_unknown(self, number: str, call_sid: str, hold_seconds: float) -> bool: ...
    def keep_card_on_file(
        self, number: str, token: str | None, brand: str | None, last4: str | None
    ) -> None: ...
    def link_ach_authorization(
        self, call_sid: str, invoice_number: str, attempt: int, payment_id: int
    ) -> None: ...


def settle_attempt(
    store: Any, attempt: Attempt, settings: BillingSettings | None = None
) -> Decision:
    """Record the attempt once and settle, hold, release or flag it; a repeat changes nothing."""
    settings = settings or BillingSettings()
    with store.db.atomic():
        payment_id = store.record_pay_result({**attempt.record, "channel": attempt.channel})
        if payment_id is None:
            return repeat_of(store, attempt.record["callback_key"])
        if attempt.record.get("payment_method") == "ach-debit" and attempt.invoice_number:
            store.link_ach_authorization(
                attempt.call_sid, attempt.invoice_number, attempt.attempt, payment_id
            )
        verdict = judge(store, attempt, settings)
        return apply_verdict(store, payment_id, attempt, verdict, settings)


def repeat_of(store: Any, callback_key: str) -> Decision:
    """The decision already taken for a recorded attempt, told again, moving nothing."""
    row = store.payment_by_callback_key(callback_key)
    assert row is not None
    outcome = Outcome(row["outcome"]) if row.get("outcome") else Outcome.UNKNOWN
    return Decision(
        outcome,
        row["id"],
        repeat=True,
        confirmation=row.get("confirmation_code"),
        review_reason=row.get("review_reason"),
    )


# -- the evidence -----------------------------------------------------------------------------


def judge(store: Any, attempt: Attempt, settings: BillingSettings) -> Verdict:
    """Weigh Twilio's report against the connector's ledger (when PayLine is the connector)."""
    if attempt.purpose == "save":
        return _judge_save(store, attempt, settings)
    number = attempt.invoice_number
    invoice = store.invoice(number) if number else None
    if attempt.result == "success":
        return _judge_success(store, attempt, invoice, settings)
    if settings.ledger_reconciliation and invoice is not None:
        booked = _booked_charge(store, attempt.call_sid, invoice["number"])
        if booked is not None:
            return booked
    return failure_verdict(
        attempt.result,
        attempt.record.get("connector_error"),
        attempt.record.get("pay_error_code"),
    )


def failure_verdict(
    result: str, connector_error: str | None, pay_error_code: str | None
) -> Verdict:
    """A failure with no charge known: refused before any charge, or unknown."""
    if failure_class(result, connector_error, pay_error_code) is REFUSED:
        kind = "abandoned" if result in ABANDONING_RESULTS else "refused"
        return Verdict(kind)
    described = connector_error or pay_error_code or "no code"
    return Verdict("unknown", reason=f"{result} ({described}) may have charged")


def _booked_charge(store: Any, call_sid: str, number: str) -> Verdict | None:
    """The charge the connector booked for this call and invoice that no attempt records."""
    entries = store.ledger_entries_for_attempt(call_sid, number, "charge")
    for entry in entries:
        charge_id = entry.get("response_id")
        if entry["state"] == "done" and charge_id:
            if not store.payments_recording_charge(charge_id):
                return Verdict(
                    "charged",
                    reason="the connector charged although the callback reported a failure",
                    charge_id=charge_id,
                    key=entry["transaction_id"],
                    amount=_decimal(entry.get("amount")),
                    currency=entry.get("currency"),
                )
    if any(entry["state"] == "processing" and entry.get("recent") for entry in entries):
        return Verdict("unknown", reason="the connector is still processing a charge for this call")
    return None


def _judge_success(
    store: Any, attempt: Attempt, invoice: dict[str, Any] | None, settings: BillingSettings
) -> Verdict:
    record = attempt.record
    code = record.get("confirmation_code")
    if invoice is None:
        return Verdict("review", reason="a success for no invoice PayLine knows")
    if not code:
        return Verdict("review", reason="a success without a confirmation code")
    if not settings.ledger_reconciliation:
        problems = _amount_problems(invoice, _decimal(record.get("amount")), record.get("currency"))
        if problems:
            return Verdict("review", reason="; ".join(problems))
        return Verdict("charged", charge_id=code, key=record.get("transaction_id"))
    entry = store.ledger_entry_for_charge(code)
    if entry is None or entry["method"] != "charge":
        return Verdict("review", reason=f"confirmation code {code} is not a charge in the ledger")
    problems = []
    if entry.get("invoice_number") != invoice["number"]:
        problems.append(f"the charge is for invoice {entry.get('invoice_number') or 'none'}")
    if entry.get("call_sid") != attempt.call_sid:
        problems.append("the charge was made on another call")
    problems += _amount_problems(invoice, _decimal(entry.get("amount")), entry.get("currency"))
    echoed = record.get("transaction_id")
    if echoed and echoed != entry["transaction_id"]:
        problems.append("the callback's transaction_id is not the charge's")
    recorded = store.payments_recording_charge(code)
    if recorded:
        problems.append(f"the charge is already recorded by payment {recorded[0]['id']}")
    if problems:
        return Verdict("review", reason=f"success {code} does not match: " + "; ".join(problems))
    return Verdict(
        "charged",
        charge_id=code,
        key=entry["transaction_id"],
        amount=_decimal(entry.get("amount")),
        currency=entry.get("currency"),
    )


def _judge_save(store: Any, attempt: Attempt, settings: BillingSettings) -> Verdict:
    record = attempt.record
    if attempt.result != "success":
        verdict = failure_verdict(
            attempt.result, record.get("connector_error"), record.get("pay_error_code")
        )
        # A tokenize moves no money: there is nothing to hold an invoice for.
        return verdict if verdict.kind == "abandoned" else Verdict("refused", verdict.reason)
    token = record.get("payment_token")
    if not token:
        return Verdict("review", reason="a saved card without a token")
    if settings.ledger_reconciliation:
        entry = store.ledger_entry_for_charge(token)
        problems = []
        if entry is None or entry["method"] != "tokenize":
            problems.append("the token is not one the connector created")
        else:
            if entry.get("invoice_number") != attempt.invoice_number:
                problems.append("the token was made for another invoice")
            if entry.get("call_sid") != attempt.call_sid:
                problems.append("the token was made on another call")
        if problems:
            return Verdict("review", reason=f"token {token}: " + "; ".join(problems))
    return Verdict("saved", charge_id=token)


def _amount_problems(
    invoice: dict[str, Any], amount: Decimal | None, currency: str | None
) -> list[str]:
    problems = []
    expected = Decimal(invoice["amount"])
    if amount is None or amount != expected:
        problems.append(f"charged {amount} but the invoice is {expected}")
    if (currency or "").upper() != invoice["currency"].upper():
        problems.append(f"charged in {currency} but the invoice is in {invoice['currency']}")
    return problems


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


# -- the books ----------------------------------------------------------------------------------


def apply_verdict(
    store: Any,
    payment_id: int,
    attempt: Attempt,
    verdict: Verdict,
    settings: BillingSettings,
    *,
    reconciled: bool = False,
) -> Decision:
    """Settle, hold, release or flag, and write the attempt's outcome (inside a transaction).

    `reconciled`: the verdict comes from asking the processor later, so the hold to end is the
    'unknown' one this attempt set, not a 'paying' one.
    """
    number = attempt.invoice_number
    call = attempt.call_sid
    changes: dict[str, Any] = {}
    if verdict.kind == "charged":
        outcome, changes = _settle(store, payment_id, number, verdict)
    elif verdict.kind == "saved":
        if number:
            store.keep_card_on_file(
                number,
                verdict.charge_id,
                attempt.record.get("card_type"),
                attempt.record.get("last4"),
            )
        outcome = Outcome.SAVED
    elif verdict.kind in ("refused", "abandoned"):
        if number and attempt.purpose == "pay":
            if reconciled:
                store.release_unknown_hold(number, call)
            else:
                store.release_invoice(number, call)
        outcome = Outcome.ABANDONED if verdict.kind == "abandoned" else Outcome.REFUSED
    elif verdict.kind == "unknown":
        if number and not reconciled:
            if not store.hold_invoice_unknown(number, call, settings.unknown_hold_seconds):
                log.warning(
                    "unknown outcome from call %s for invoice %s: not its hold", call, number
                )
        outcome = Outcome.UNKNOWN
        changes["review_reason"] = verdict.reason
    else:
        outcome = Outcome.NEEDS_REVIEW
        changes["review_reason"] = verdict.reason
        log.warning(
            "payment %s (call %s, invoice %s) needs review: %s",
            payment_id,
            call,
            number,
            verdict.reason,
        )
    store.conclude_payment(payment_id, {**changes, "outcome": str(outcome)})
    return Decision(
        outcome,
        payment_id,
        confirmation=changes.get("confirmation_code") or attempt.record.get("confirmation_code"),
        review_reason=changes.get("review_reason"),
    )


def _settle(
    store: Any, payment_id: int, number: str | None, verdict: Verdict
) -> tuple[Outcome, dict[str, Any]]:
    changes: dict[str, Any] = {"confirmation_code": verdict.charge_id}
    if verdict.key:
        changes["transaction_id"] = verdict.key
    if verdict.reason:
        changes["note"] = verdict.reason
    invoice = store.invoice(number) if number else None
    if invoice is None:
        changes["review_reason"] = "a charge for no invoice PayLine knows: refund it"
        return Outcome.REFUND_DUE, changes
    if verdict.amount is not None:
        problems = _amount_problems(invoice, verdict.amount, verdict.currency)
        if problems:
            changes["review_reason"] = "charged, but " + "; ".join(problems)
            log.warning("payment %s: %s", payment_id, changes["review_reason"])
            return Outcome.NEEDS_REVIEW, changes
    if store.mark_invoice_paid(invoice["number"], payment_id, verdict.charge_id):
        return Outcome.SETTLED, changes
    changes["note"] = DUPLICATE_NOTE
    return Outcome.REFUND_DUE, changes
