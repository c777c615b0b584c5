"""What PayLine keeps of Twilio's <Pay> callbacks: masked card fields only, free text masked.

`safe_webhook` is the gate every /voice webhook passes once its signature is checked: each
field Twilio sent, the URL query included, is made safe (pci) before the flow reads, stores or
logs any of it. Twilio's own shapes are kept where they are known (SIDs, E.164 numbers, its
masked card and account numbers); everything else is free text, masked as one text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pci
from money import is_ascii_digits
from pci import mask_long_numbers, mask_value

_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
_PHONE = re.compile(r"\+?[0-9]{1,15}")
_PHONE_FIELDS = frozenset(
    {"From", "To", "Caller", "Called", "ForwardedFrom", "CallerId", "PhoneNumber"}
)
_STRUCTURED = frozenset(
    {
        "ApiVersion",
        "CallStatus",
        "Direction",
        "Digits",
        "FinishedOnKey",
        "Result",
        "PaymentMethod",
        "PaymentCardType",
        "ExpirationDate",
        "PaymentCardPostalCode",
        "PaymentConfirmationCode",
        "PaymentToken",
        "PayErrorCode",
        "For",
        "Attempt",
        "ErrorType",
        "Capture",
        "BankAccountType",
        "DateCreated",
        "PartialResult",
        "Required",
        "ChargeAmount",
        "Currency",
        *(
            f"{who}{part}"
            for who in ("From", "To", "Caller", "Called")
            for part in ("City", "State", "Zip", "Country")
        ),
    }
)
"""Twilio's fields with a shape of their own (codes, dates, digits keyed, places): each is
masked on its own, so that a date beside a ZIP code is not read as one long number."""
_MASKED_INSTRUMENTS = {"PaymentCardNumber": ("x", 4), "BankAccountNumber": ("*", 2)}
"""Twilio masks these itself (xxxxxxxxxxxx1111, *******89); anything more is cut to that."""


def safe_webhook(
    form: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every field of one /voice request (form and URL query) made safe, in their order.

    Fields in a shape of Twilio's are made safe each on its own; the rest of the form (free
    text: PayConnector_*, ConnectorError, PaymentError, speech, anything unknown) is masked as
    one text, and so is the query, so that a number split across fields is caught.
    """
    form = list(form)
    safe: list[tuple[str, str] | None] = []
    free: list[tuple[int, str, str]] = []
    for index, (name, value) in enumerate(form):
        shaped = _known_shape(name, value)
        if shaped is None:
            free.append((index, name, value))
            safe.append(None)
        else:
            safe.append((pci.mask_text(name), shaped))
    for (index, _, _), pair in zip(free, pci.mask_pairs([(n, v) for _, n, v in free]), strict=True):
        safe[index] = pair
    return [pair for pair in safe if pair is not None], pci.mask_pairs(list(query))


def _keyed_invoice_number(value: str) -> bool:
    """Invoice numbers have up to 12 digits, as many as the shortest card: kept when keyed,
    unless the digits are a card number (a brand's prefix and length, Luhn-valid)."""
    return (
        value.isascii() and value.isdigit() and len(value) <= 12 and not pci.looks_like_card(value)
    )


def _known_shape(name: str, value: str) -> str | None:
    """A field in a shape of Twilio's, made safe on its own; None for free text."""
    if name.endswith("Sid") and _SID.fullmatch(value):
        return value
    if name in _PHONE_FIELDS and _PHONE.fullmatch(value):
        digits = value.lstrip("+")
        return pci.mask_text(value) if pci.looks_like_card(digits) else value
    if name == "Digits" and _keyed_invoice_number(value):
        return value
    if name in _STRUCTURED:
        return pci.mask_text(value)
    if name in _MASKED_INSTRUMENTS:
        mask, keep = _MASKED_INSTRUMENTS[name]
        chars = list(pci.normalize_digits(value))
        places = [i for i, c in enumerate(chars) if c.isdigit()]
        for i in places[:-keep] if len(places) > keep else []:
            chars[i] = mask
        return "".join(chars)
    return None


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
