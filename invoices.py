"""Invoices as operators enter them: validated into typed values before anything is stored."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

import money

MAX_NUMBER_DIGITS = 12


class InvoiceError(ValueError):
    """An invoice an operator entered is not acceptable; the message says why."""


@dataclass(frozen=True)
class Invoice:
    number: str
    amount: Decimal
    currency: str = "USD"
    customer: str | None = None


def is_invoice_number(text: str) -> bool:
    """What a caller may key as an invoice number: 1 to 12 ASCII digits."""
    return money.is_ascii_digits(text) and len(text) <= MAX_NUMBER_DIGITS


def parse_invoice(
    number: str, amount: str, customer: str | None = None, currency: str | None = None
) -> Invoice:
    number = (number or "").strip()
    if not is_invoice_number(number):
        raise InvoiceError(f"invoice number must be 1 to 12 digits, got {number!r}")
    try:
        code = money.currency_code(currency or "USD")
        value = money.parse_amount((amount or "").strip(), code)
    except money.AmountError as error:
        raise InvoiceError(str(error)) from None
    return Invoice(
        number=number, amount=value, currency=code, customer=(customer or "").strip() or None
    )


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
