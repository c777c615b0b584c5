"""Processor adapters behind one small interface; each is given the idempotency key.

Every method is idempotent per `idempotency_key`: asking twice with one key never charges,
refunds or voids twice. An answer whose outcome the adapter cannot know (timeout, 5xx, garbage)
raises `ProcessorUnavailable`: not final, safe to ask again with the same key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from connector.protocol import ConnectorRequest


@dataclass(frozen=True)
class ProcessorResult:
    """A final answer from a processor: an id on success (charge, token or refund id), an error
    code on a business refusal."""

    id: str | None
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeRef:
    """What PayLine keeps of a charge: enough to refund or void it, never the card number."""

    charge_id: str
    amount: Decimal
    currency: str
    payment_method: str
    """"card" or "ach"."""
    last4: str | None = None
    expiry: str | None = None
    """"MMYY", as Twilio reports it, when known."""
    key: str | None = None
    """The original charge's idempotency key (Twilio's transaction_id)."""


class LookupStatus(StrEnum):
    CHARGED = "charged"
    """The processor created a charge (or token) for this key; `Lookup.id` names it."""
    REFUSED = "refused"
    """It answered this key with a final refusal; nothing was charged."""
    NOT_FOUND = "not_found"
    """It never saw the key: nothing can have been charged."""
    UNKNOWN = "unknown"
    """It cannot tell (yet): ask again later, decide nothing."""


@dataclass(frozen=True)
class Lookup:
    """What a processor did with an idempotency key, asked after an unknown outcome."""

    status: LookupStatus
    id: str | None = None
    error_code: str | None = None
    amount: Decimal | None = None
    currency: str | None = None


class ProcessorUnavailable(Exception):
    """The processor's answer is unknown (timeout, 5xx, garbage): not final, safe to ask again
    with the same idempotency key."""


class Processor(Protocol):
    name: str

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult: ...

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult: ...

    def charge_token(
        self,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        *,
        description: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> ProcessorResult:
        """Charge a card (or bank account) on file, as tokenize saved it."""
        ...

    def refund(self, charge: ChargeRef, amount: Decimal, idempotency_key: str) -> ProcessorResult:
        """Refund part or all of a charge; never more than what is left of it."""
        ...

    def void(self, charge: ChargeRef, idempotency_key: str) -> ProcessorResult: ...

    def lookup(self, idempotency_key: str) -> Lookup:
        """What the processor did with this key: charged (with the id), refused, never seen."""
        ...
