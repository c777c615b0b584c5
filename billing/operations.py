"""Operators' actions on attempts: reconcile with the processor, refund, note (all idempotent).

The CLI (`flask --app app reconcile`, `payments refund`) and the dashboard call these; each is
safe while calls are live: every change is a compare-and-set, every processor call carries an
idempotency key.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.outcomes import UNRESOLVED, Outcome
from billing.settlement import Attempt, BillingSettings, Verdict, apply_verdict
from connector.processors import ChargeRef, LookupStatus, ProcessorUnavailable
from connector.redact import mask_long_numbers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciliation:
    payment_id: int
    invoice_number: str | None
    before: Outcome
    outcome: Outcome
    resolved: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "invoice_number": self.invoice_number,
            "before": str(self.before),
            "outcome": str(self.outcome),
            "resolved": self.resolved,
            "message": self.message,
        }


@dataclass(frozen=True)
class RefundResult:
    payment_id: int
    status: str
    """"done", "refused", "unknown" (ask again: same key) or "rejected" (nothing asked)."""
    amount: Decimal | None
    message: str
    refund_id: str | None = None
    repeat: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "status": self.status,
            "amount": str(self.amount) if self.amount is not None else None,
            "refund_id": self.refund_id,
            "repeat": self.repeat,
            "message": self.message,
        }


# -- reconcile ---------------------------------------------------------------------------------


def reconcile(
    store: Any,
    processor: Any,
    *,
    payment_id: int | None = None,
    settings: BillingSettings | None = None,
) -> list[Reconciliation]:
    """Ask the processor about every unknown and needs-review attempt; settle or release it.

    What the processor cannot answer yet, or what no key identifies, is left as it is and
    listed for a person.
    """
    settings = settings or BillingSettings()
    adopted = []
    if payment_id is None and settings.ledger_reconciliation:
        adopted = [_adopt(store, entry, settings) for entry in _orphan_charges(store)]
    rows = store.payments_with_outcomes(sorted(str(o) for o in UNRESOLVED), payment_id)
    return [r for r in adopted if r] + [_reconcile_one(store, processor, r, settings) for r in rows]


ORPHAN_AFTER_SECONDS = 1800.0
"""A charge the connector booked whose callback has not come this long after is taken as lost:
no call lasts that long past its <Pay>."""


def _orphan_charges(store: Any) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    orphans = []
    for entry in store.unreported_ledger_charges():
        created = dt.datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00"))
        if (now - created).total_seconds() >= ORPHAN_AFTER_SECONDS:
            orphans.append(entry)
    return orphans


def _adopt(store: Any, entry: dict[str, Any], settings: BillingSettings) -> Reconciliation | None:
    """Record a charge the connector booked whose callback never came, and settle it."""
    record = {
        "callback_key": f"ledger:{entry['transaction_id']}",
        "call_sid": entry.get("call_sid") or "",
        "result": "success",
        "transaction_id": entry["transaction_id"],
        "payment_method": "ach-debit" if entry.get("payment_method") == "ach" else "credit-card",
        "amount": entry.get("amount"),
        "currency": entry.get("currency"),
        "invoice_number": entry["invoice_number"],
        "card_type": entry.get("card_brand"),
        "last4": entry.get("last4"),
        "confirmation_code": entry["response_id"],
        "note": "no callback arrived: recorded from the connector's ledger",
    }
    attempt = Attempt(record)
    verdict = Verdict(
        "charged",
        charge_id=entry["response_id"],
        key=entry["transaction_id"],
        amount=Decimal(entry["amount"]) if entry.get("amount") else None,
        currency=entry.get("currency"),
        reason="no callback arrived: recorded from the connector's ledger",
    )
    with store.db.atomic():
        payment_id = store.record_pay_result({**record, "channel": "ivr"})
        if payment_id is None:
            return None
        decision = apply_verdict(store, payment_id, attempt, verdict, settings, reconciled=True)
    return Reconciliation(
        payment_id,
        entry["invoice_number"],
        Outcome.UNKNOWN,
        decision.outcome,
        decision.outcome not in UNRESOLVED,
        f"the connector charged {entry['response_id']} and no callback came: {decision.outcome}",
    )


def _reconcile_one(
    store: Any, processor: Any, row: dict[str, Any], settings: BillingSettings
) -> Reconciliation:
    before = Outcome(row["outcome"])

    def left(message: str) -> Reconciliation:
        return Reconciliation(row["id"], row["invoice_number"], before, before, False, message)

    keys = _keys(store, row)
    if not keys:
        return left("no idempotency key to ask the processor about: needs a person")
    answers = []
    for key in keys:
        try:
            answers.append((key, processor.lookup(key)))
        except ProcessorUnavailable as failure:
            return left(f"the processor did not answer about {key} ({failure}): ask again later")
        except (AttributeError, NotImplementedError):
            return left(f"processor {processor.name} cannot be asked about keys: needs a person")
    attempt = Attempt(row, purpose="pay", channel=row.get("channel") or "ivr")
    for key, answer in answers:
        if answer.status is LookupStatus.CHARGED:
            problem = _charge_problem(store, row, key, answer)
            if problem:
                return left(problem)
            verdict = Verdict(
                "charged",
                charge_id=answer.id,
                key=key,
                amount=answer.amount,
                currency=answer.currency,
                reason=f"reconciled: the processor charged {answer.id} for key {key}",
            )
            return _conclude(store, row, attempt, verdict, settings, before)
    if any(answer.status is LookupStatus.UNKNOWN for _, answer in answers):
        return left("the processor cannot tell yet: ask again later")
    said = ", ".join(f"{key}: {answer.status}" for key, answer in answers)
    verdict = Verdict("refused", reason=f"reconciled: nothing was charged ({said})")
    return _conclude(store, row, attempt, verdict, settings, before)


def _keys(store: Any, row: dict[str, Any]) -> list[str]:
    """The idempotency keys this attempt may have charged under: its own, and the connector's
    transactions for the same call and invoice that no other attempt accounts for."""
    keys = [row["transaction_id"]] if row.get("transaction_id") else []
    if row.get("invoice_number") and row.get("call_sid"):
        for entry in store.ledger_entries_for_attempt(row["call_sid"], row["invoice_number"]):
            charge_id = entry.get("response_id")
            if charge_id and store.payments_recording_charge(charge_id):
                continue
            if entry["transaction_id"] not in keys:
                keys.append(entry["transaction_id"])
    return keys


def _charge_problem(store: Any, row: dict[str, Any], key: str, answer: Any) -> str | None:
    """Why a charge the processor reports cannot be taken as this attempt's, or None."""
    recorded = store.payments_recording_charge(answer.id)
    if recorded:
        return f"charge {answer.id} is already recorded by payment {recorded[0]['id']}"
    claimed = row.get("confirmation_code")
    if row["outcome"] == Outcome.NEEDS_REVIEW and claimed and claimed != answer.id:
        return f"the callback reported {claimed} but key {key} charged {answer.id}: needs a person"
    entry = store.connector_transaction(key)
    if entry is not None:
        if entry.get("invoice_number") != row.get("invoice_number"):
            return f"key {key} charged invoice {entry.get('invoice_number')}: needs a person"
        if entry.get("call_sid") != row.get("call_sid"):
            return f"key {key} charged on another call: needs a person"
    return None


def _conclude(
    store: Any,
    row: dict[str, Any],
    attempt: Attempt,
    verdict: Verdict,
    settings: BillingSettings,
    before: Outcome,
) -> Reconciliation:
    with store.db.atomic():
        current = store.payment(row["id"])
        if current is None or current.get("outcome") != row["outcome"]:
            outcome = Outcome(current["outcome"]) if current else before
            return Reconciliation(
                row["id"], row["invoice_number"], before, outcome, True, "already reconciled"
            )
        if row.get("result") == "pending":  # a card-on-file charge whose answer never came
            report = {"result": "success" if verdict.kind == "charged" else "reconciled-refused"}
            if not store.finish_pending_payment(row["id"], report):
                return Reconciliation(
                    row["id"], row["invoice_number"], before, before, False, "being answered now"
                )
        decision = apply_verdict(store, row["id"], attempt, verdict, settings, reconciled=True)
        if decision.outcome is Outcome.REFUSED and row.get("invoice_number"):
            _release_if_nothing_else_unknown(store, row)
    messages = {
        Outcome.SETTLED: f"settled invoice {row['invoice_number']} with {verdict.charge_id}",
        Outcome.REFUND_DUE: f"charged {verdict.charge_id}, but the invoice was already paid:"
        " refund due",
        Outcome.REFUSED: "nothing was charged: invoice released",
    }
    message = messages.get(decision.outcome, decision.review_reason or str(decision.outcome))
    resolved = decision.outcome not in UNRESOLVED
    log.info("reconciled payment %s: %s", row["id"], message)
    return Reconciliation(
        row["id"], row["invoice_number"], before, decision.outcome, resolved, message
    )


def _release_if_nothing_else_unknown(store: Any, row: dict[str, Any]) -> None:
    others = [
        p
        for p in store.unresolved_payments_for_invoice(row["invoice_number"])
        if p["id"] != row["id"] and p["call_sid"] == row["call_sid"]
    ]
    if not others:
        store.release_unknown_hold(row["invoice_number"], row["call_sid"])


# -- refund ------------------------------------------------------------------------------------

REFUNDABLE = frozenset({Outcome.SETTLED, Outcome.REFUND_DUE, Outcome.REFUNDED})


def refund_payment(
    store: Any,
    processor: Any,
    payment_id: int,
    *,
    amount: Decimal | None,
    reason: str,
    operator: str,
    idempotency_key: str,
) -> RefundResult:
    """Refund (part of) a payment's charge through the processor, once per idempotency key.

    Never more than what is left of the charge; a repeated key returns the first refund.
    """
    payment = store.payment(payment_id)
    if payment is None:
        return RefundResult(payment_id, "rejected", amount, f"no payment {payment_id}")
    with store.db.atomic():
        existing = store.refund_by_key(idempotency_key)
        if existing is not None and existing["status"] == "done":
            return _told(payment_id, existing, repeat=True)
        if existing is None:
            problem, amount = _refundable(store, payment, amount)
            if problem:
                return RefundResult(payment_id, "rejected", amount, problem)
            assert amount is not None
            existing, _ = store.begin_refund(
                {
                    "payment_id": payment_id,
                    "idempotency_key": idempotency_key,
                    "amount": str(amount),
                    "currency": payment["currency"],
                    "reason": mask_long_numbers(reason) if reason else reason,
                    "operator": operator,
                }
            )
    refund_amount = Decimal(existing["amount"])
    try:
        result = processor.refund(_charge_ref(payment), refund_amount, idempotency_key)
    except ProcessorUnavailable as failure:
        store.finish_refund(existing["id"], {"status": "unknown", "error_code": "unavailable"})
        return RefundResult(
            payment_id,
            "unknown",
            refund_amount,
            f"the processor did not answer ({failure}): run the same command again",
        )
    with store.db.atomic():
        if result.id:
            if store.finish_refund(
                existing["id"], {"status": "done", "processor_refund_id": result.id}
            ):
                _book_refund(store, payment_id, refund_amount)
        else:
            store.finish_refund(
                existing["id"], {"status": "refused", "error_code": result.error_code}
            )
        row = store.refund_by_key(idempotency_key)
    return _told(payment_id, row, repeat=False, error=result.error_message)


def refundable_amount(store: Any, payment: dict[str, Any]) -> Decimal:
    """What is left to refund of a payment's charge: 0 when it has no charge to refund. Refunds
    in flight count as taken, so that two operators cannot refund the same money."""
    problem, left = _refundable(store, payment, None)
    return Decimal(0) if problem or left is None else left


def _refundable(
    store: Any, payment: dict[str, Any], amount: Decimal | None
) -> tuple[str | None, Decimal | None]:
    outcome = payment.get("outcome")
    if outcome not in REFUNDABLE or not payment.get("confirmation_code"):
        return f"payment {payment['id']} has no charge to refund ({outcome})", amount
    charged = Decimal(payment["amount"])
    taken = sum(
        (
            Decimal(r["amount"])
            for r in store.refunds_for_payment(payment["id"])
            if r["status"] in ("done", "pending", "unknown")
        ),
        Decimal(0),
    )
    left = charged - taken
    if amount is None:
        amount = left
    if left <= 0 or amount <= 0:
        return f"nothing left to refund on payment {payment['id']}", amount
    if amount > left:
        return f"only {left} {payment['currency']} is left to refund", amount
    return None, amount


def _book_refund(store: Any, payment_id: int, amount: Decimal) -> None:
    payment = store.payment(payment_id)
    refunded = Decimal(payment.get("refunded_amount") or 0) + amount
    changes: dict[str, Any] = {"refunded_amount": str(refunded)}
    if refunded >= Decimal(payment["amount"]):
        changes["outcome"] = str(Outcome.REFUNDED)
    store.conclude_payment(payment_id, changes)


def _charge_ref(payment: dict[str, Any]) -> ChargeRef:
    return ChargeRef(
        charge_id=payment["confirmation_code"],
        amount=Decimal(payment["amount"]),
        currency=payment["currency"],
        payment_method="ach" if payment.get("payment_method") == "ach-debit" else "card",
        last4=payment.get("last4"),
        expiry=payment.get("expiration_date"),
        key=payment.get("transaction_id"),
    )


def _told(
    payment_id: int, row: dict[str, Any], *, repeat: bool, error: str | None = None
) -> RefundResult:
    amount = Decimal(row["amount"])
    if row["status"] == "done":
        message = f"refunded {amount} {row['currency']} ({row['processor_refund_id']})"
        if repeat:
            message += ": already done, not refunded again"
    elif row["status"] == "refused":
        message = f"the processor refused the refund: {row['error_code']} {error or ''}".strip()
    else:
        message = "the refund's outcome is unknown: run the same command again"
    return RefundResult(
        payment_id, row["status"], amount, message, row.get("processor_refund_id"), repeat
    )


def default_refund_key(payment_id: int, amount: Decimal | None) -> str:
    """The key a repeated operator command reuses: the same command refunds once."""
    return f"payment-{payment_id}-refund-{amount if amount is not None else 'rest'}"


# -- notes ---------------------------------------------------------------------------------------


def add_note(store: Any, payment_id: int, text: str, *, operator: str) -> None:
    """An operator's note on an attempt (card-shaped text masked)."""
    store.add_payment_note(payment_id, mask_long_numbers(text), operator)
