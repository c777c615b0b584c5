"""The built-in deterministic processor: outcomes chosen by the cents of the amount.

It books charges in its own ledger keyed by the idempotency key, so that asking twice with one
key never charges twice, and it counts every request it receives, so that a connector bug that
asks twice cannot hide behind that idempotency (`flask ledger` shows both counts). Refunds and
voids are booked per key too (its `sandbox_refunds`), never past what is left of a charge; a
token charge follows the same magic amounts as a card; `lookup` answers from the same ledger.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from connector import cards
from connector.processors import ChargeRef, Lookup, LookupStatus, ProcessorResult
from connector.protocol import ConnectorRequest, ErrorCode
from money import minor_units

DECLINES: dict[str, tuple[ErrorCode, str]] = {
    "51": (ErrorCode.CARD_DECLINED, "The card was declined."),
    "52": (ErrorCode.INSUFFICIENT_FUNDS, "Insufficient funds."),
    "54": (ErrorCode.PROCESSING_ERROR, "The processor could not complete the charge."),
}
SLOW_CENTS = "53"


class SandboxLedger(Protocol):
    """What the sandbox needs from storage (implemented by storage.Store)."""

    def sandbox_note_request(self, key: str) -> None: ...

    def sandbox_book(self, key: str, entry: dict) -> tuple[dict, bool]:
        """Insert the entry unless the key is booked; return (the booked entry, created now)."""
        ...

    def sandbox_entry(self, key: str) -> dict | None: ...

    def sandbox_requests_seen(self, key: str) -> int: ...

    def sandbox_object(self, object_id: str, kind: str) -> dict | None: ...

    def sandbox_refund(self, key: str) -> dict | None: ...

    def sandbox_book_refund(
        self, key: str, entry: dict, minor: int, limit_minor: int
    ) -> tuple[dict, bool]: ...

    def sandbox_refunded_minor(self, charge_id: str) -> int: ...


class SandboxProcessor:
    name = "sandbox"

    def __init__(
        self,
        ledger: SandboxLedger,
        *,
        slow_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.ledger = ledger
        self.slow_seconds = slow_seconds
        self.sleep = sleep

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._handle(request, idempotency_key, prefix="ch_sbx_")

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._handle(request, idempotency_key, prefix="tok_sbx_")

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
        """Charge a token this sandbox created; the cents choose the outcome, as for a card."""
        key = idempotency_key
        self.ledger.sandbox_note_request(key)
        cents = _cents(amount)
        error = DECLINES.get(cents or "")
        if error is None and self.ledger.sandbox_object(token, "tokenize") is None:
            error = (ErrorCode.CARD_DECLINED, "The sandbox has no such token.")
        if error is None and amount <= 0:
            error = (ErrorCode.INVALID_AMOUNT, "A charge needs an amount greater than 0.")
        entry, created = self.ledger.sandbox_book(
            key,
            {
                "kind": "charge",
                "object_id": None if error else "ch_sbx_" + secrets.token_hex(4),
                "error_code": str(error[0]) if error else None,
                "error_message": error[1] if error else None,
                "amount": str(amount),
                "currency": currency.upper(),
            },
        )
        if created and cents == SLOW_CENTS:
            self.sleep(self.slow_seconds)
        return _result(entry, self.name)

    def refund(self, charge: ChargeRef, amount: Decimal, idempotency_key: str) -> ProcessorResult:
        """Refund part or all of a charge, once per key, never more than what is left."""
        return self._reverse("refund", charge, amount, idempotency_key)

    def void(self, charge: ChargeRef, idempotency_key: str) -> ProcessorResult:
        """Cancel what is left of a charge (the sandbox settles at once: a full refund)."""
        booked = self.ledger.sandbox_object(charge.charge_id, "charge")
        left = Decimal(0)
        if booked is not None:
            places = minor_units(booked["currency"] or charge.currency)
            total = _minor(Decimal(booked["amount"]), places)
            left = Decimal(total - self.ledger.sandbox_refunded_minor(charge.charge_id)) / (
                10**places
            )
        return self._reverse("void", charge, left, idempotency_key)

    def lookup(self, idempotency_key: str) -> Lookup:
        """What this sandbox did with a key: charged (the id), refused, or never saw it."""
        entry = self.ledger.sandbox_entry(idempotency_key)
        if entry is None:
            if self.ledger.sandbox_requests_seen(idempotency_key):
                return Lookup(LookupStatus.UNKNOWN)  # asked, not booked yet: still deciding
            return Lookup(LookupStatus.NOT_FOUND)
        amount = Decimal(entry["amount"]) if entry.get("amount") else None
        if entry["object_id"]:
            return Lookup(
                LookupStatus.CHARGED,
                id=entry["object_id"],
                amount=amount,
                currency=entry.get("currency"),
            )
        return Lookup(
            LookupStatus.REFUSED,
            error_code=entry["error_code"],
            amount=amount,
            currency=entry.get("currency"),
        )

    def _reverse(self, kind: str, charge: ChargeRef, amount: Decimal, key: str) -> ProcessorResult:
        self.ledger.sandbox_note_request(key)
        booked = self.ledger.sandbox_refund(key)
        if booked is None:
            original = self.ledger.sandbox_object(charge.charge_id, "charge")
            error: tuple[ErrorCode, str] | None = None
            places = minor_units(charge.currency)
            limit = 0
            if original is None:
                error = (ErrorCode.INVALID_REQUEST, "The sandbox has no such charge.")
            else:
                places = minor_units(original["currency"] or charge.currency)
                limit = _minor(Decimal(original["amount"]), places)
                if amount <= 0:
                    error = (ErrorCode.INVALID_AMOUNT, "Nothing left to refund.")
            entry = {
                "kind": kind,
                "charge_id": charge.charge_id,
                "refund_id": None if error else ("re_sbx_" + secrets.token_hex(4)),
                "amount": str(amount),
                "error_code": str(error[0]) if error else None,
                "error_message": error[1] if error else None,
            }
            booked, _ = self.ledger.sandbox_book_refund(key, entry, _minor(amount, places), limit)
        return ProcessorResult(
            id=booked["refund_id"],
            error_code=booked["error_code"],
            error_message=booked["error_message"],
            parameters={"processor": self.name},
        )

    def _handle(self, request: ConnectorRequest, key: str, *, prefix: str) -> ProcessorResult:
        self.ledger.sandbox_note_request(key)
        cents = _cents(request.amount)
        entry, created = self.ledger.sandbox_book(key, self._decide(request, cents, prefix))
        if created and cents == SLOW_CENTS:
            self.sleep(self.slow_seconds)
        return _result(entry, self.name)

    def _decide(self, request: ConnectorRequest, cents: str | None, prefix: str) -> dict:
        error = DECLINES.get(cents or "")
        if error is None and not _is_test_instrument(request):
            error = (ErrorCode.CARD_DECLINED, "The sandbox accepts only Twilio's test numbers.")
        return {
            "kind": request.method,
            "object_id": None if error else prefix + secrets.token_hex(4),
            "error_code": str(error[0]) if error else None,
            "error_message": error[1] if error else None,
            "amount": str(request.amount) if request.amount is not None else None,
            "currency": request.currency,
        }


def _result(entry: dict[str, Any], name: str) -> ProcessorResult:
    return ProcessorResult(
        id=entry["object_id"],
        error_code=entry["error_code"],
        error_message=entry["error_message"],
        parameters={"processor": name},
    )


def _cents(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"[-2:]


def _minor(amount: Decimal, places: int) -> int:
    return int((amount * 10**places).to_integral_value())


def _is_test_instrument(request: ConnectorRequest) -> bool:
    if request.card:
        return request.card.number in cards.TEST_CARDS
    return request.bank is not None and request.bank.account_number in cards.TEST_BANK_ACCOUNTS
