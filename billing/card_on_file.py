"""Charging a card saved on file: through the processor, not <Pay>, once per attempt.

The idempotency key is derived from the call and the attempt and written (with the attempt)
before the processor is asked, so that Twilio retrying the webhook — or two workers serving
copies at once — asks the processor with the same key and settles once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.settlement import (
    Attempt,
    BillingSettings,
    Decision,
    Verdict,
    apply_verdict,
    failure_verdict,
    repeat_of,
)
from connector.processors import ProcessorUnavailable
from connector.protocol import ErrorCode

log = logging.getLogger(__name__)

PENDING = "pending"


@dataclass(frozen=True)
class SavedCard:
    token: str
    brand: str | None
    last4: str | None


def saved_card(invoice: dict[str, Any]) -> SavedCard | None:
    """The card on file for this invoice's customer, if any."""
    if not invoice.get("card_token"):
        return None
    return SavedCard(invoice["card_token"], invoice.get("card_brand"), invoice.get("card_last4"))


def charges_tokens(processor: Any) -> bool:
    """Whether this processor adapter can charge a card on file (not every one can yet)."""
    return callable(getattr(processor, "charge_token", None))


def token_charge_key(call_sid: str, attempt: int) -> str:
    return f"{call_sid}:card-on-file:{attempt}"


def previous_charge(store: Any, call_sid: str, attempt: int) -> Decision | None:
    """The decision already taken for this call's card-on-file attempt (a retried webhook)."""
    key = token_charge_key(call_sid, attempt)
    existing = store.payment_by_callback_key(key)
    if existing is None or existing["result"] == PENDING:
        return None
    return repeat_of(store, key)


def charge_pending(store: Any, call_sid: str, attempt: int) -> bool:
    """Whether a copy of this attempt's webhook is waiting for the processor's answer."""
    existing = store.payment_by_callback_key(token_charge_key(call_sid, attempt))
    return existing is not None and existing["result"] == PENDING


def charge_saved_card(
    store: Any,
    processor: Any,
    invoice: dict[str, Any],
    *,
    call_sid: str,
    attempt: int,
    description: str,
    caller: str | None = None,
    channel: str = "ivr",
    settings: BillingSettings | None = None,
) -> Decision:
    """Charge the invoice's card on file once for this call's attempt, and settle it."""
    settings = settings or BillingSettings()
    card = saved_card(invoice)
    assert card is not None, "no card on file"
    key = token_charge_key(call_sid, attempt)
    amount = Decimal(invoice["amount"])
    record = {
        "callback_key": key,
        "call_sid": call_sid,
        "result": PENDING,
        "transaction_id": key,
        "payment_method": "credit-card",
        "amount": str(amount),
        "currency": invoice["currency"],
        "invoice_number": invoice["number"],
        "card_type": card.brand,
        "last4": card.last4,
        "payment_token": card.token,
        "caller": caller,
        "channel": channel,
        "outcome": "unknown",
        "review_reason": "card on file: the processor has not answered yet",
    }
    payment_id = store.record_pay_result(record)
    if payment_id is None:
        existing = store.payment_by_callback_key(key)
        if existing["result"] != PENDING:
            return repeat_of(store, key)
        payment_id = existing["id"]  # a retried webhook: ask again, with the same key
    try:
        result = processor.charge_token(
            card.token,
            amount,
            invoice["currency"],
            key,
            description=description,
            parameters={"invoice_number": invoice["number"], "call_sid": call_sid},
        )
        if result.id:
            verdict = Verdict(
                "charged", charge_id=result.id, key=key, amount=amount, currency=invoice["currency"]
            )
            report = {"result": "success", "confirmation_code": result.id}
        else:
            verdict = failure_verdict("payment-connector-error", result.error_code, None)
            report = {
                "result": "payment-connector-error",
                "connector_error": result.error_code,
                "payment_error": result.error_message,
            }
    except ProcessorUnavailable as failure:
        log.warning("card on file for invoice %s: outcome unknown (%s)", invoice["number"], failure)
        verdict = Verdict("unknown", reason="the processor did not answer the card-on-file charge")
        report = {
            "result": "payment-connector-error",
            "connector_error": str(ErrorCode.PROCESSING_ERROR),
        }
    attempt_record = {**record, **report}
    with store.db.atomic():
        if not store.finish_pending_payment(payment_id, report):
            return repeat_of(store, key)  # another copy of the webhook concluded it
        return apply_verdict(
            store,
            payment_id,
            Attempt(attempt_record, purpose="pay", attempt=attempt, channel=channel),
            verdict,
            settings,
        )
