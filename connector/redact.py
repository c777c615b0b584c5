"""Card-data hygiene as a mechanism: masking for free text and for every log record.

PCI DSS forbids the full card number (PAN), the CVV and the bank account number on disk or in
logs. Values we build ourselves are masked at the source; this module catches the rest: free text
a caller's application controls (description, parameters) and anything that reaches `logging`.
"""

from __future__ import annotations

import logging
import re

# Twelve or more digits, optionally grouped by spaces, dots, dashes or slashes: the shape of a
# PAN (and of most bank account numbers). Deliberately no Luhn check and no upper bound: a
# mistyped card number is still card data, and two numbers written back to back are one run.
# Digits inside a word (`CA3f…`, a hex id) are not a card number: a run must not touch a letter.
_PAN_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ ./-]{0,2}[0-9]){11,}(?![0-9A-Za-z])")
_SECRET_LABEL = (
    r"cvv2?|cvc2?|csc|security[_ -]?code|pan|card[_ -]?number|cardnumber|"
    r"bank[_ -]?account(?:[_ -]?number)?|bankaccountnumber|account[_ -]?number"
)
# A CVV or a short account number is only recognisable by its label.
_LABELLED_SECRET = re.compile(
    rf"""(?ix)(\b(?:{_SECRET_LABEL})["']?\s*[:=]?\s*["']?)([0-9][0-9 -]*[0-9]|[0-9])"""
)
_SECRET_KEY = re.compile(rf"(?i)^(?:{_SECRET_LABEL})$")


# A UUID (ours, the emulator's transaction ids) holds dash-grouped digit runs that look like a
# PAN; it is left alone whole.
_UUID = re.compile(
    r"((?<![0-9A-Za-z])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![0-9A-Za-z]))"
)
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{4,}(?![0-9A-Za-z])")


def _outside_uuids(text: str, mask) -> str:
    parts = _UUID.split(text)  # odd indexes are the UUIDs
    return "".join(part if i % 2 else mask(part) for i, part in enumerate(parts))


def card_numbers_in(text: str) -> list[str]:
    """The digits of every card-shaped run in the text (UUIDs and words excepted)."""
    found: list[str] = []
    _outside_uuids(
        text,
        lambda part: (
            found.extend(re.sub(r"[^0-9]", "", m.group(0)) for m in _PAN_LIKE.finditer(part))
            or part
        ),
    )
    return found


def mask_card_numbers(text: str) -> str:
    """Replace anything shaped like a card number by x's and its last four digits."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[^0-9]", "", match.group(0))
        return "x" * (len(digits) - 4) + digits[-4:]

    return _outside_uuids(text, lambda part: _PAN_LIKE.sub(mask, part))


def mask_secrets(text: str) -> str:
    """Mask card-shaped numbers and labelled CVVs/account numbers in free text."""
    text = _LABELLED_SECRET.sub(lambda m: m.group(1) + "***", text)
    return mask_card_numbers(text)


def mask_long_numbers(text: str) -> str:
    """For error text from outside (a gateway, Twilio's PaymentError): card data masked, and
    any other run of 4+ digits cut to its last two, as Twilio masks a bank account number."""

    def mask(part: str) -> str:
        return _LONG_NUMBER.sub(lambda m: "*" * (len(m.group(0)) - 2) + m.group(0)[-2:], part)

    return _outside_uuids(mask_secrets(text), mask)


def mask_value(value: object) -> object:
    """Mask JSON-like values (dicts, lists), leaving their shape alone.

    A value under a key named like a secret ("cvv", "cardnumber", ...) is masked whole.
    """
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {
            mask_secrets(str(k)): "***" if _SECRET_KEY.match(str(k)) else mask_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    return value


def install_log_masking() -> None:
    """Mask card data in every log record any logger creates, before any handler sees it.

    A record factory rather than a handler filter: filters on one handler miss records sent to
    handlers added later (gunicorn's, pytest's capture), a factory sees every record once.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_payline_masking", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = mask_secrets(message), None
        if record.exc_info:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return record

    factory._payline_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
