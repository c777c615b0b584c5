"""ACH debits authorised by phone, as the NACHA TEL rules require.

Before an ACH <Pay> the caller hears an authorisation statement naming the business, the
amount, the date of the debit, that it is a single debit, and a number to call with questions;
they press 1 to agree. The agreement (call, time, the statement's exact text and its version)
is kept, and linked to the payment when its callback is recorded.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any

DEFAULT_STATEMENT = (
    "To pay from your bank account, you authorize {business} to make a single, one time ACH"
    " debit of {amount} from the account you are about to enter, on {date}. This is one debit"
    " only; no further debits will be made. If you have questions, or to cancel, call"
    " {business} at {phone}."
)
DEFAULT_VERSION = "tel-2026-12-01"
FIELDS = ("business", "amount", "date", "phone")


class StatementError(ValueError):
    """The configured statement template cannot be filled (unknown or missing fields)."""


@dataclass(frozen=True)
class AchStatement:
    text: str
    version: str


def check_template(template: str) -> None:
    """Refuse a template that leaves out a field the TEL rules require, or names an unknown one."""
    named = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    unknown = named - set(FIELDS)
    missing = set(FIELDS) - named
    if unknown or missing:
        raise StatementError(
            "ACH_AUTHORIZATION_TEMPLATE "
            + ("names unknown fields " + ", ".join(sorted(unknown)) if unknown else "")
            + ("; " if unknown and missing else "")
            + ("must name " + ", ".join(sorted(missing)) if missing else "")
        )


def statement(
    *,
    template: str | None,
    version: str | None,
    business: str,
    amount_words: str,
    date: dt.date,
    phone: str,
) -> AchStatement:
    """The statement the caller hears, exactly as it is recorded."""
    template = template or DEFAULT_STATEMENT
    check_template(template)
    text = template.format(
        business=business,
        amount=amount_words,
        date=f"{date:%B} {date.day}, {date.year}",
        phone=", ".join(phone) if phone.lstrip("+").isdigit() else phone,
    )
    return AchStatement(text=text, version=version or DEFAULT_VERSION)


def record_agreement(
    store: Any,
    *,
    call_sid: str,
    invoice: dict[str, Any],
    attempt: int,
    said: AchStatement,
    caller: str | None,
) -> None:
    """Keep the caller's agreement (once per call, invoice and attempt)."""
    store.record_ach_authorization(
        {
            "call_sid": call_sid,
            "invoice_number": invoice["number"],
            "attempt": attempt,
            "amount": invoice["amount"],
            "currency": invoice["currency"],
            "statement": said.text,
            "statement_version": said.version,
            "caller": caller,
        }
    )
