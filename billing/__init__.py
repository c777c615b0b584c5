"""Every rule about an attempt's money, free of Flask: record once, settle, hold on an unknown
outcome, release, refund due, reconcile with the connector's ledger and the processor, refund.

The IVR (ivr/flow.py) and agent assist call these and decide nothing about money themselves.
"""

from billing.card_on_file import (
    SavedCard,
    charge_pending,
    charge_saved_card,
    charges_tokens,
    previous_charge,
    saved_card,
    token_charge_key,
)
from billing.classification import CLASSIFICATION, Charge, classify, failure_class
from billing.holds import Payability, claim, payability, release_hold
from billing.operations import (
    Reconciliation,
    RefundResult,
    add_note,
    default_refund_key,
    reconcile,
    refund_payment,
    refundable_amount,
)
from billing.outcomes import CHARGED, UNRESOLVED, Outcome
from billing.settlement import Attempt, BillingSettings, Decision, settle_attempt

__all__ = [
    "CHARGED",
    "CLASSIFICATION",
    "UNRESOLVED",
    "Attempt",
    "BillingSettings",
    "Charge",
    "Decision",
    "Outcome",
    "Payability",
    "Reconciliation",
    "RefundResult",
    "SavedCard",
    "add_note",
    "charge_pending",
    "charge_saved_card",
    "charges_tokens",
    "claim",
    "classify",
    "default_refund_key",
    "failure_class",
    "payability",
    "previous_charge",
    "reconcile",
    "refund_payment",
    "refundable_amount",
    "release_hold",
    "saved_card",
    "settle_attempt",
    "token_charge_key",
]
