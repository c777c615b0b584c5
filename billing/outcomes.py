"""The typed outcome of a payment attempt, stored in `payments.outcome`."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    SETTLED = "settled"
    """Paid its invoice (ledger-confirmed when PayLine is the connector)."""
    REFUSED = "refused"
    """Refused before any charge: nothing can have been charged."""
    UNKNOWN = "unknown"
    """May have charged: the invoice is held until it is reconciled."""
    NEEDS_REVIEW = "needs_review"
    """Recorded, never settles nor releases; `payments.review_reason` says why."""
    REFUND_DUE = "refund_due"
    """Charged but not to keep (the invoice was already paid…): refund it."""
    REFUNDED = "refunded"
    """Refunded in full (a partial refund shows in `payments.refunded_amount`)."""
    SAVED = "saved"
    """A card (or bank account) saved on file (tokenize)."""
    ABANDONED = "abandoned"
    """Hung up, pressed *, or too many failed entries, with nothing charged."""


UNRESOLVED = frozenset({Outcome.UNKNOWN, Outcome.NEEDS_REVIEW})
"""What `reconcile` works on: attempts whose money nobody can vouch for yet."""
CHARGED = frozenset({Outcome.SETTLED, Outcome.REFUND_DUE, Outcome.REFUNDED})
"""Attempts whose charge is known to exist: never "nothing has been charged"."""
