"""The built-in deterministic processor: outcomes chosen by the cents of the amount.

It books charges in its own ledger keyed by the idempotency key, so that asking twice with one
key never charges twice, and it counts every request it receives, so that a connector bug that
asks twice cannot hide behind that idempotency (`flask ledger` shows both counts).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from connector import cards
from connector.processors import ProcessorResult
from connector.protocol import ConnectorRequest, ErrorCode

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

    def sandbox_request(self, key: str, entry: dict) -> tuple[dict, bool]:
        """`sandbox_note_request` and `sandbox_book` in one transaction (one commit)."""
        ...


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

    def _handle(self, request: ConnectorRequest, key: str, *, prefix: str) -> ProcessorResult:
        cents = _cents(request.amount)
        entry, created = self.ledger.sandbox_request(key, self._decide(request, cents, prefix))
        if created and cents == SLOW_CENTS:
            self.sleep(self.slow_seconds)
        return ProcessorResult(
            id=entry["object_id"],
            error_code=entry["error_code"],
            error_message=entry["error_message"],
            parameters={"processor": self.name},
        )

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


def _cents(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"[-2:]


def _is_test_instrument(request: ConnectorRequest) -> bool:
    if request.card:
        return request.card.number in cards.TEST_CARDS
    return request.bank is not None and request.bank.account_number in cards.TEST_BANK_ACCOUNTS
