"""Who may pay an invoice now: one call at a time, never while a charge is unaccounted for."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Payability(StrEnum):
    PAYABLE = "payable"
    PAID = "paid"
    IN_PROGRESS = "in_progress"
    """Another call holds it, an outcome is unknown, or the connector booked a charge for it
    that no attempt accounts for yet."""


def payability(store: Any, invoice: dict[str, Any], call_sid: str) -> Payability:
    """Whether this call may start a payment of the invoice (what `claim` will enforce)."""
    if invoice["status"] == "paid":
        return Payability.PAID
    held = bool(invoice["hold_active"])
    ours = invoice["paying_call"] == call_sid and invoice["hold_reason"] == "paying"
    if held and not ours:
        return Payability.IN_PROGRESS
    if store.charge_booked_unreported(invoice["number"], call_sid):
        return Payability.IN_PROGRESS
    return Payability.PAYABLE


def claim(store: Any, number: str, call_sid: str, hold_seconds: float) -> bool:
    """Hold the invoice for this call's payment (a compare-and-set in the database)."""
    return bool(store.claim_invoice(number, call_sid, hold_seconds))


def release_hold(store: Any, invoice_number: str, *, operator: str) -> bool:
    """An operator lifts a hold after checking the held payment did not go through."""
    released = bool(store.clear_invoice_hold(invoice_number))
    if released:
        for payment in store.unresolved_payments_for_invoice(invoice_number):
            store.add_payment_note(payment["id"], "hold lifted by an operator", operator)
    return released
