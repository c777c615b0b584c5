"""Invoices as operators enter them: validated into typed values before anything is stored."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from connector.cards import is_ascii_digits

MAX_AMOUNT = Decimal("1000000")


class InvoiceError(ValueError):
    """An invoice an operator entered is not acceptable; the message says why."""


@dataclass(frozen=True)
class Invoice:
    number: str
    amount: Decimal
    currency: str = "USD"
    customer: str | None = None


def parse_invoice(
    number: str, amount: str, customer: str | None = None, currency: str | None = None
) -> Invoice:
    number = (number or "").strip()
    if not (is_ascii_digits(number) and len(number) <= 12):
        raise InvoiceError(f"invoice number must be 1 to 12 digits, got {number!r}")
    return Invoice(
        number=number,
        amount=_amount(amount),
        currency=_currency(currency or "USD"),
        customer=(customer or "").strip() or None,
    )


def _amount(text: str) -> Decimal:
    text = (text or "").strip()
    whole, _, cents = text.partition(".")
    if not (is_ascii_digits(whole) and (not cents or is_ascii_digits(cents)) and len(cents) <= 2):
        raise InvoiceError(f"amount must be a decimal with at most 2 places, got {text!r}")
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvoiceError(f"amount is not a number: {text!r}") from None
    if not 0 < amount <= MAX_AMOUNT:
        raise InvoiceError(f"amount must be greater than 0 and at most {MAX_AMOUNT}")
    return amount


def _currency(text: str) -> str:
    code = text.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvoiceError(f"currency must be a 3-letter ISO 4217 code, got {text!r}")
    return code


def parse_csv(text: str) -> list[Invoice]:
    """Every row of a CSV with columns number, amount, customer, currency — or none of them.

    Raises InvoiceError naming the first bad line; numbers must be unique within the file.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"number", "amount"} - set(reader.fieldnames or ())
    if missing:
        raise InvoiceError(f"line 1: missing column(s) {', '.join(sorted(missing))}")
    invoices, seen = [], set()
    for row in reader:
        line = reader.line_num
        try:
            invoice = parse_invoice(
                row.get("number") or "",
                row.get("amount") or "",
                row.get("customer"),
                row.get("currency"),
            )
        except InvoiceError as error:
            raise InvoiceError(f"line {line}: {error}") from None
        if invoice.number in seen:
            raise InvoiceError(f"line {line}: invoice {invoice.number} appears twice")
        seen.add(invoice.number)
        invoices.append(invoice)
    return invoices


DEMO_INVOICES = (
    Invoice("1001", Decimal("42.50"), "USD", "Ada Lovelace"),
    Invoice("1002", Decimal("120.00"), "USD", "Grace Hopper"),
    Invoice("1003", Decimal("15.51"), "USD", "Alan Turing"),
    Invoice("1004", Decimal("9.99"), "EUR", "Emmy Noether"),
    Invoice("1005", Decimal("250.00"), "USD", "Katherine Johnson"),
)
"""Seeded by `init-db --demo`; 1003 ends in .51, so the sandbox declines it."""
