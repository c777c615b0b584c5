"""What PayLine keeps of Twilio's <Pay> callbacks: masked card fields only, free text masked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.redact import mask_long_numbers, mask_value
from money import is_ascii_digits

FALLBACK_RESULT = "too-many-failed-attempts"
"""A request without `Result` is our own <Redirect> after <Pay> (`fallback=1`): Twilio went on
with the next verb, which its docs say it does when maxAttempts runs out."""


def pay_record(form: Mapping[str, str], args: Mapping[str, str]) -> dict[str, Any]:
    """The row for one action callback; `args` is the signed action URL's query."""
    parameters = {
        key.removeprefix("PayConnector_"): value
        for key, value in form.items()
        if key.startswith("PayConnector_")
    }
    call_sid = form.get("CallSid", "")
    key = ":".join([call_sid, args.get("purpose", "pay"), args.get("attempt", "1")])
    if args.get("fallback"):
        key += ":fallback"  # never in the way of the real callback for the same <Pay>
    return {
        "callback_key": key,
        "call_sid": call_sid,
        "result": form.get("Result") or FALLBACK_RESULT,
        "transaction_id": parameters.get("transaction_id"),
        "payment_method": form.get("PaymentMethod"),
        "amount": args.get("amount"),
        "currency": args.get("currency"),
        "invoice_number": args.get("invoice"),
        "card_type": form.get("PaymentCardType"),
        "last4": last_digits(form.get("PaymentCardNumber") or form.get("BankAccountNumber")),
        "expiration_date": form.get("ExpirationDate"),
        "confirmation_code": form.get("PaymentConfirmationCode"),
        "payment_token": form.get("PaymentToken"),
        "connector_error": _masked(form.get("ConnectorError")),
        "payment_error": _masked(form.get("PaymentError")),
        "pay_error_code": form.get("PayErrorCode"),
        "connector_parameters": json.dumps(mask_value(parameters), sort_keys=True),
        "caller": form.get("From"),
    }


def pay_event(form: Mapping[str, str]) -> dict[str, Any]:
    """One statusCallback event of a <Pay> in progress."""
    return {
        "call_sid": form.get("CallSid", ""),
        "step": form.get("For"),
        "attempt": form.get("Attempt"),
        "error_type": form.get("ErrorType"),
        "payment_method": form.get("PaymentMethod"),
        "last4": last_digits(form.get("PaymentCardNumber") or form.get("BankAccountNumber")),
    }


def _masked(value: str | None) -> str | None:
    """Text from outside: a gateway's message may carry a bank account number unlabelled."""
    return mask_long_numbers(value) if value else value


def last_digits(masked: str | None) -> str | None:
    """Twilio masks these already (xxxx1111, *******92); keep only the trailing digits."""
    if not masked:
        return None
    tail = ""
    for char in reversed(masked[-4:]):
        if not is_ascii_digits(char):
            break
        tail = char + tail
    return tail or None
