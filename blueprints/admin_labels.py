"""Plain-language words for what operators read: results, Twilio and connector codes, cards.

The raw code always stays at hand (a tooltip, the payment's page); the words come first.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from billing.outcomes import Outcome

OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    # billing's outcome: (label, css class); a test checks every Outcome has one
    Outcome.SETTLED: ("Paid", "good"),
    Outcome.REFUSED: ("Declined", "bad"),
    Outcome.UNKNOWN: ("Unknown: may have charged", "warn"),
    Outcome.NEEDS_REVIEW: ("Needs review", "warn"),
    Outcome.REFUND_DUE: ("Refund due", "warn"),
    Outcome.REFUNDED: ("Refunded", "muted"),
    Outcome.SAVED: ("Card saved", "good"),
    Outcome.ABANDONED: ("Abandoned", "muted"),
}

RESULT_FILTERS: dict[str, str] = {
    "settled": "Paid",
    "declined": "Declined",
    "attention": "Unknown or needs review",
    Outcome.REFUND_DUE: "Refund due",
    "refunded": "Refunded",
    "abandoned": "Abandoned",
    "saved": "Card saved",
}

METHODS: dict[str, str] = {"credit-card": "Card", "ach-debit": "Bank (ACH)"}

TWILIO_RESULTS: dict[str, str] = {
    "success": "Completed",
    "too-many-failed-attempts": "Could not read the payment details after several tries",
    "caller-interrupted-with-star": "The caller cancelled with *",
    "caller-hung-up": "The caller hung up",
    "validation-error": "Some payment details were not accepted",
    "payment-connector-error": "The payment processor returned an error",
}

CONNECTOR_ERRORS: dict[str, str] = {
    "card_declined": "Declined by the bank",
    "insufficient_funds": "Insufficient funds",
    "invalid_card_number": "Invalid card number",
    "invalid_expiry": "Expired or invalid expiry date",
    "invalid_security_code": "Security code did not match",
    "invalid_amount": "Amount not accepted",
    "invalid_currency": "Currency not accepted",
    "invalid_routing_number": "Invalid routing number",
    "invalid_account_number": "Invalid bank account number",
    "invalid_request": "The request was not valid",
    "test_mode_card_not_allowed": "Test mode: only test cards",
    "test_mode_account_not_allowed": "Test mode: only test accounts",
    "processing_error": "Processor failure: outcome to check",
    "idempotency_mismatch": "Reused transaction id with other details",
}

TWILIO_ERRORS: dict[str, str] = {
    "64001": "Connector configuration error",
    "64002": "Payment service unavailable",
    "64003": "Invalid charge amount",
    "64004": "No such payment connector",
    "64005": "Connector cannot save cards",
    "64006": "Token type not supported",
    "64007": "Connector cannot charge",
    "64008": "Gateway rejected the charge",
    "64009": "Twilio no longer authorized",
    "64010": "Gateway rejected saving the card",
    "64011": "Currency not supported",
    "64012": "Gateway rejected the card",
    "64013": "Payment method not supported",
    "64014": "Bank payment needs the account holder's name",
    "64015": "A required parameter is missing",
    "64016": "Invalid action URL",
    "64017": "Bank account type not valid for cards",
    "64019": "Payment details incomplete",
    "64020": "Invalid parameter value",
    "64021": "Invalid operation",
    "64022": "Test mode: not a test card",
    "64023": "Test mode: not a test bank account",
    "64024": "Connector not approved for live payments",
}

PAY_STEPS: dict[str, str] = {
    "payment-card-number": "Card number",
    "expiration-date": "Expiry date",
    "security-code": "Security code",
    "postal-code": "Postal code",
    "bank-routing-number": "Routing number",
    "bank-account-number": "Account number",
    "payment-processing": "Processing",
}

BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "Amex",
    "discover": "Discover",
    "diners-club": "Diners Club",
    "jcb": "JCB",
    "maestro": "Maestro",
    "unionpay": "UnionPay",
    "enroute": "enRoute",
}


def outcome_label(row: dict[str, Any]) -> tuple[str, str]:
    """(words, css class) for a payment row's result."""
    outcome = row.get("outcome")
    if outcome in OUTCOME_LABELS:
        label, css = OUTCOME_LABELS[outcome]
        if outcome != "refunded" and row.get("refunded_amount"):
            return f"{label}, partly refunded", css
        return label, css
    if row.get("result") == "success":
        return "Paid", "good"
    return "Not paid", "bad"


def reason(row: dict[str, Any]) -> tuple[str, str] | None:
    """(words, the raw codes) for why an attempt did not simply succeed, or None."""
    codes = [c for c in (row.get("connector_error"), row.get("pay_error_code")) if c]
    result = row.get("result") or ""
    words = (
        CONNECTOR_ERRORS.get(row.get("connector_error") or "")
        or TWILIO_ERRORS.get(row.get("pay_error_code") or "")
        or (TWILIO_RESULTS.get(result) if result != "success" else None)
    )
    if row.get("review_reason"):
        words = row["review_reason"] if not words else f"{words}; {row['review_reason']}"
    if not words and not codes:
        return None
    raw = " · ".join([f"Result {result}", *codes]) if result else " · ".join(codes)
    return words or "See codes", raw


def card(row: dict[str, Any], brand_key: str = "card_type", last4_key: str = "last4") -> str:
    """Brand and last four, nothing more."""
    last4 = row.get(last4_key)
    if row.get("payment_method") in ("ach-debit", "ach"):
        return f"Bank ····{last4}" if last4 else "Bank"
    brand = BRANDS.get((row.get(brand_key) or "").lower(), (row.get(brand_key) or "").title())
    if last4:
        return f"{brand} ····{last4}".strip()
    return brand or "—"


def money(amount: Any, currency: str | None = None) -> str:
    """1234.5 USD → "1,234.50 USD"; a value that is not a decimal is shown as given."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    places = 0 if (currency or "").upper() in ("JPY", "KRW") else 2
    text = f"{value:,.{places}f}"
    return f"{text} {currency}" if currency else text


def parse_utc(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def local_time(value: str | float | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An ISO-8601 UTC string or epoch seconds, in the operator's zone ("2026-12-01 09:15 CET")."""
    if value is None or value == "":
        return "—"
    if isinstance(value, (int, float)):
        moment: dt.datetime | None = dt.datetime.fromtimestamp(float(value), dt.UTC)
    else:
        moment = parse_utc(value)
    if moment is None:
        return str(value)
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


def age(seconds: float | None) -> str:
    """A short human duration: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"
