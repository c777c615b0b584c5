"""The Generic Pay Connector contract: bytes in, typed request out, contract JSON back.

Two kinds of refusal, as the contract and Twilio's retries need them:
`NotAConnectorRequest` (HTTP 400: not JSON, not an object, no usable method or transaction_id)
and `ValidationError` (HTTP 200 with `error_code`: a connector request with a bad field).
Neither message ever carries a field's value, so neither can leak a card number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeGuard

import money
import pci
from connector import cards

MAX_BODY_BYTES = 64 * 1024
ASCII_SPACE = " \t\r\n"
METHODS = ("charge", "tokenize")


class ErrorCode(StrEnum):
    """The connector's stable error vocabulary (extend, never rename)."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CARD_NUMBER = "invalid_card_number"
    INVALID_EXPIRY = "invalid_expiry"
    INVALID_SECURITY_CODE = "invalid_security_code"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_CURRENCY = "invalid_currency"
    INVALID_ROUTING_NUMBER = "invalid_routing_number"
    INVALID_ACCOUNT_NUMBER = "invalid_account_number"
    TEST_MODE_CARD_NOT_ALLOWED = "test_mode_card_not_allowed"
    TEST_MODE_ACCOUNT_NOT_ALLOWED = "test_mode_account_not_allowed"
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PROCESSING_ERROR = "processing_error"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    # Gateway outcomes (Authorize.Net first). Each comment says how the settlement core must
    # read the code: "refused" = refused before any charge (safe to let the caller try
    # again), "unknown" = money may have moved or may move (hold, reconcile, never retry).
    EXPIRED_CARD = "expired_card"  # refused
    INCORRECT_SECURITY_CODE = "incorrect_security_code"  # refused: CVV did not match
    INCORRECT_POSTAL_CODE = "incorrect_postal_code"  # refused: AVS (ZIP) did not match
    CARD_NOT_SUPPORTED = "card_not_supported"  # refused: the merchant does not take this brand
    PAYMENT_METHOD_NOT_SUPPORTED = "payment_method_not_supported"  # refused: e.g. no eCheck
    INVALID_BANK_ACCOUNT = "invalid_bank_account"  # refused: account type / eCheck type
    CONFIGURATION_ERROR = "configuration_error"  # refused: credentials or account set-up
    PENDING_REVIEW = "pending_review"  # unknown: held by the fraud filter, may be captured
    DUPLICATE_TRANSACTION = "duplicate_transaction"  # unknown: a like charge exists already
    TOKEN_NOT_FOUND = "token_not_found"  # refused: no such stored profile
    TRANSACTION_NOT_SETTLED = "transaction_not_settled"  # refused (refund): void it instead


class NotAConnectorRequest(Exception):
    """The body is not a connector request at all (HTTP 400)."""

    def __init__(self, message: str, method: str = "charge"):
        super().__init__(message)
        self.method = method


class ValidationError(Exception):
    """A connector request with a field the contract or the mode refuses (HTTP 200)."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Card:
    number: str = field(repr=False)
    cvv: str | None = field(repr=False)
    expiry_month: int
    expiry_year: int
    postal_code: str | None

    @property
    def brand(self) -> str:
        return cards.card_brand(self.number)

    @property
    def last4(self) -> str:
        return cards.last_four(self.number)


@dataclass(frozen=True)
class BankAccount:
    account_number: str = field(repr=False)
    routing_number: str

    @property
    def last4(self) -> str:
        return cards.last_four(self.account_number)


@dataclass(frozen=True)
class Envelope:
    """What every connector request has, enough to key idempotency and shape the answer."""

    method: str
    transaction_id: str
    payload: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ConnectorRequest:
    method: str
    transaction_id: str
    amount: Decimal | None
    currency: str | None
    card: Card | None
    bank: BankAccount | None
    description: str | None
    parameters: dict[str, str]

    @property
    def payment_method(self) -> str:
        return "card" if self.card else "ach"


@dataclass(frozen=True)
class ConnectorResponse:
    method: str
    id: str | None
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            id_key(self.method): self.id,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body

    @classmethod
    def from_json(cls, method: str, body: dict[str, Any]) -> ConnectorResponse:
        return cls(
            method=method,
            id=body.get(id_key(method)),
            error_code=body.get("error_code"),
            error_message=body.get("error_message"),
            parameters=body.get("parameters") or {},
        )

    @classmethod
    def error(cls, method: str, code: ErrorCode | str, message: str) -> ConnectorResponse:
        return cls(method=method, id=None, error_code=str(code), error_message=message)


def id_key(method: str) -> str:
    return "token_id" if method == "tokenize" else "charge_id"


def parse_envelope(body: bytes) -> Envelope:
    """Decode the body and check that it is a connector request; raises NotAConnectorRequest."""
    if len(body) > MAX_BODY_BYTES:
        raise NotAConnectorRequest(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAConnectorRequest("request body is not UTF-8") from None
    try:
        payload = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise NotAConnectorRequest("request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise NotAConnectorRequest("request body must be a JSON object")
    method = payload.get("method")
    if method not in METHODS:
        raise NotAConnectorRequest("method must be 'charge' or 'tokenize'")
    transaction_id = payload.get("transaction_id")
    if not _valid_transaction_id(transaction_id):
        raise NotAConnectorRequest(
            "transaction_id must be 1 to 255 printable ASCII characters, not a card number",
            method,
        )
    return Envelope(method=method, transaction_id=transaction_id, payload=payload)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _valid_transaction_id(value: Any) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 255
        and all(" " <= char <= "~" for char in value)
        and not _is_card_number(value)
    )


def _is_card_number(value: str) -> bool:
    """A transaction_id holding a card number would be stored as the ledger's key: refused.

    The rule is pci's: an identifier is card-shaped when masking would change it (a run of 12
    or more digits, whatever separates them, letters touching or not). Canonical UUIDs and
    Twilio SIDs are ids, unless a digit run inside one is itself card-shaped.
    """
    return pci.card_shaped(value)


def fingerprint(envelope: Envelope, secret: str) -> str:
    """A keyed hash (HMAC-SHA256) of the details that must not change between retries.

    Built from the fields as sent, normalised ("8"/"08", "39"/"2039", "10.0"/"10.00", spaces)
    but never from whether they validate: validity depends on today's date (a card expiring
    this month is valid at 23:59 on its last day and expired a minute later), and a retry must
    match its original whenever it comes. Keyed so that the stored value is useless for
    recovering a card number: a plain hash of a 16-digit PAN is brute-forced in minutes.
    """
    payload = envelope.payload
    details = {
        "method": envelope.method,
        "amount": _normal_amount(payload.get("amount")),
        "currency": _normal_text(payload.get("currency_code")).upper(),
        "cardnumber": _normal_digits(payload.get("cardnumber")),
        "expiry_month": _normal_number(payload.get("expiry_month")),
        "expiry_year": _normal_year(payload.get("expiry_year")),
        "bankaccountnumber": _normal_digits(payload.get("bankaccountnumber")),
        "routingnumber": _normal_digits(payload.get("routingnumber")),
    }
    message = json.dumps(details, sort_keys=True).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _normal_text(value: Any) -> str:
    return "" if value is None else str(value).strip(ASCII_SPACE)


def _normal_digits(value: Any) -> str:
    return _normal_text(value).replace(" ", "").replace("-", "")


def _normal_number(value: Any) -> str:
    text = _normal_text(value)
    return str(int(text)) if money.is_ascii_digits(text) and len(text) < 9 else text


def _normal_year(value: Any) -> str:
    text = _normal_number(value)
    return str(2000 + int(text)) if money.is_ascii_digits(text) and int(text) < 100 else text


def _normal_amount(value: Any) -> str:
    text = _normal_text(value)
    whole, _, fraction = text.partition(".")
    if not (money.is_ascii_digits(whole) and (not fraction or money.is_ascii_digits(fraction))):
        return text
    return (whole.lstrip("0") or "0") + ("." + fraction.rstrip("0") if fraction.rstrip("0") else "")


def validate(envelope: Envelope, *, mode: str, today: dt.date) -> ConnectorRequest:
    """Type and check every field; raises ValidationError with a message that names the field."""
    payload = envelope.payload
    card_given = payload.get("cardnumber") not in (None, "")
    bank_given = payload.get("bankaccountnumber") not in (None, "")
    if card_given == bank_given:
        raise ValidationError(
            ErrorCode.INVALID_REQUEST,
            "exactly one of cardnumber (card) or bankaccountnumber (ACH) is required",
        )
    amount = currency = None
    if envelope.method == "charge":
        amount, currency = _money(payload)
    description, parameters = _free_text(
        _optional_text(payload, "description", 1000), _parameters(payload.get("parameters"))
    )
    card = _card(payload, mode=mode, today=today) if card_given else None
    bank = _bank(payload, mode=mode) if bank_given else None
    return ConnectorRequest(
        method=envelope.method,
        transaction_id=envelope.transaction_id,
        amount=amount,
        currency=currency,
        card=card,
        bank=bank,
        description=description,
        parameters=parameters,
    )


def _text(payload: dict[str, Any], name: str, code: ErrorCode, *, ints: bool = True) -> str:
    """A required field as text; JSON numbers are accepted for digit fields, as senders vary."""
    value = payload.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and ints and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not value.strip(ASCII_SPACE):
        raise ValidationError(code, f"{name} is required and must be a string")
    return value.strip(ASCII_SPACE)


def _card(payload: dict[str, Any], *, mode: str, today: dt.date) -> Card:
    number = _text(payload, "cardnumber", ErrorCode.INVALID_CARD_NUMBER)
    if not money.is_ascii_digits(number) or not 12 <= len(number) <= 19:
        raise ValidationError(
            ErrorCode.INVALID_CARD_NUMBER, "cardnumber must be 12 to 19 digits (0-9)"
        )
    listed = number in cards.TEST_CARDS
    if not listed and not cards.luhn_valid(number):
        raise ValidationError(ErrorCode.INVALID_CARD_NUMBER, "cardnumber fails the Luhn check")
    month, year = _expiry(payload, today)
    cvv = _cvv(payload, number)
    if mode == "test" and not listed:
        raise ValidationError(
            ErrorCode.TEST_MODE_CARD_NOT_ALLOWED,
            "the connector is in TEST mode: only Twilio's test card numbers are accepted",
        )
    return Card(
        number=number,
        cvv=cvv,
        expiry_month=month,
        expiry_year=year,
        postal_code=_postal_code(payload),
    )


def _expiry(payload: dict[str, Any], today: dt.date) -> tuple[int, int]:
    month_text = _text(payload, "expiry_month", ErrorCode.INVALID_EXPIRY)
    year_text = _text(payload, "expiry_year", ErrorCode.INVALID_EXPIRY)
    if not (money.is_ascii_digits(month_text) and len(month_text) <= 2):
        raise ValidationError(ErrorCode.INVALID_EXPIRY, "expiry_month must be 01 to 12")
    if not (money.is_ascii_digits(year_text) and len(year_text) in (2, 4)):
        raise ValidationError(ErrorCode.INVALID_EXPIRY, "expiry_year must be 2 or 4 digits")
    month = int(month_text)
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if not 1 <= month <= 12:
        raise ValidationError(ErrorCode.INVALID_EXPIRY, "expiry_month must be 01 to 12")
    if (year, month) < (today.year, today.month):
        raise ValidationError(ErrorCode.INVALID_EXPIRY, "the card has expired")
    if year > today.year + 20:
        raise ValidationError(ErrorCode.INVALID_EXPIRY, "expiry_year is too far in the future")
    return month, year


def _cvv(payload: dict[str, Any], number: str) -> str | None:
    """Optional: <Pay securityCode="false"> sends none. When given, 3 digits (4 for Amex)."""
    value = payload.get("cvv")
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValidationError(
            ErrorCode.INVALID_SECURITY_CODE, "cvv must be a string (a number loses leading zeros)"
        )
    expected = 4 if cards.card_brand(number) == "amex" else 3
    if not isinstance(value, str) or not money.is_ascii_digits(value) or len(value) != expected:
        raise ValidationError(
            ErrorCode.INVALID_SECURITY_CODE, f"cvv must be {expected} digits for this card"
        )
    return value


def _bank(payload: dict[str, Any], *, mode: str) -> BankAccount:
    routing = _text(payload, "routingnumber", ErrorCode.INVALID_ROUTING_NUMBER, ints=False)
    if not cards.routing_number_valid(routing):
        raise ValidationError(
            ErrorCode.INVALID_ROUTING_NUMBER,
            "routingnumber must be 9 digits with a valid ABA checksum",
        )
    account = _text(payload, "bankaccountnumber", ErrorCode.INVALID_ACCOUNT_NUMBER, ints=False)
    if not money.is_ascii_digits(account) or not 4 <= len(account) <= 17:
        raise ValidationError(
            ErrorCode.INVALID_ACCOUNT_NUMBER, "bankaccountnumber must be 4 to 17 digits (0-9)"
        )
    if mode == "test" and account not in cards.TEST_BANK_ACCOUNTS:
        raise ValidationError(
            ErrorCode.TEST_MODE_ACCOUNT_NOT_ALLOWED,
            "the connector is in TEST mode: only Twilio's test bank accounts are accepted",
        )
    return BankAccount(account_number=account, routing_number=routing)


def _money(payload: dict[str, Any]) -> tuple[Decimal, str]:
    try:
        currency = money.currency_code(payload.get("currency_code"))
    except money.AmountError as error:
        raise ValidationError(ErrorCode.INVALID_CURRENCY, f"currency_code: {error}") from None
    value = payload.get("amount")
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValidationError(ErrorCode.INVALID_AMOUNT, "amount is required for a charge")
    try:
        return money.parse_amount(str(value).strip(ASCII_SPACE), currency), currency
    except money.AmountError as error:
        raise ValidationError(ErrorCode.INVALID_AMOUNT, str(error)) from None


def _optional_text(payload: dict[str, Any], name: str, limit: int) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValidationError(ErrorCode.INVALID_REQUEST, f"{name} must be a string")
    text = str(value)
    if len(text) > limit:
        raise ValidationError(ErrorCode.INVALID_REQUEST, f"{name} is longer than {limit}")
    return text


def _postal_code(payload: dict[str, Any]) -> str | None:
    text = _optional_text(payload, "postal_code", 20)
    return None if text is None else pci.mask_text(text)


def _free_text(
    description: str | None, parameters: dict[str, str]
) -> tuple[str | None, dict[str, str]]:
    """Description and parameters made safe together (pci), before anything keeps or relays
    them; a parameter name holding part of a card-shaped number is refused, not masked."""
    items = [("", description or ""), *parameters.items()]
    safe = pci.mask_pairs(items)
    names = [pci.normalize_digits(name) for name, _ in items]
    if any(name != kept for name, (kept, _) in zip(names[1:], safe[1:], strict=True)):
        raise ValidationError(
            ErrorCode.INVALID_REQUEST,
            "a parameter name holds what looks like a card number; parameter names must be "
            "identifiers, so the request was refused and nothing was charged",
        )
    masked_description = safe[0][1] if description is not None else None
    return masked_description, dict(safe[1:])


def _parameters(value: Any) -> dict[str, str]:
    """Custom parameters from <Parameter> nouns: a flat object of names to scalar values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(ErrorCode.INVALID_REQUEST, "parameters must be a JSON object")
    result = {}
    for name, item in value.items():
        if isinstance(item, (dict, list)):
            raise ValidationError(
                ErrorCode.INVALID_REQUEST, "parameters must map names to strings or numbers"
            )
        result[name] = (
            "" if item is None else str(item).lower() if isinstance(item, bool) else str(item)
        )
    return result
