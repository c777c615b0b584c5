"""The Payments API's vocabulary (fields, options) and what PayLine keeps of a status callback.

Twilio masks the card number (last four) and the bank account number (last two) and redacts
the security code before it posts a callback; PayLine masks them again on the way in, so that
whatever a callback carries, no more than four digits of a number are ever stored or shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CARD_FIELDS = ("payment-card-number", "expiration-date", "security-code", "postal-code")
BANK_FIELDS = ("bank-routing-number", "bank-account-number")
MATCHABLE = CARD_FIELDS
"""RequireMatchingInputs takes these; each has a `<field>-matcher` capture."""
METHODS = {"card": "credit-card", "bank": "ach-debit"}
TOKEN_TYPES = ("one-time", "reusable", "payment-method")
BANK_ACCOUNT_TYPES = ("consumer-checking", "consumer-savings", "commercial-checking")
LABELS = {
    "payment-card-number": "Card number",
    "expiration-date": "Expiry date",
    "security-code": "Security code",
    "postal-code": "Postal code",
    "bank-routing-number": "Routing number",
    "bank-account-number": "Account number",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SID = re.compile(r"(CA|PK)[0-9a-f]{32}\Z")


def is_sid(value: str, prefix: str) -> bool:
    return bool(_SID.match(value or "")) and value.startswith(prefix)


def kebab(name: str) -> str:
    """`ExpirationDate` (Twilio's doc example) and `expiration-date` both name one field."""
    return _CAMEL.sub("-", name.strip()).lower()


def required_fields(value: str | None) -> list[str]:
    """Twilio's `Required`: the fields still to collect (format unverified: both spellings)."""
    if not value:
        return []
    return [kebab(part) for part in re.split(r"[,\s]+", value) if part.strip()]


def fields_for(method: str, security_code: bool = True, postal_code: bool = True) -> list[str]:
    if method == "ach-debit":
        return list(BANK_FIELDS)
    fields = ["payment-card-number", "expiration-date"]
    if security_code:
        fields.append("security-code")
    if postal_code:
        fields.append("postal-code")
    return fields


def masked(value: str | None, keep: int = 4) -> str | None:
    """At most the last `keep` digits of a number stay; every other digit becomes `x`."""
    if not value:
        return value or None
    digits_seen = 0
    out = []
    for char in reversed(value):
        if "0" <= char <= "9":
            digits_seen += 1
            out.append(char if digits_seen <= keep else "x")
        else:
            out.append(char)
    return "".join(reversed(out))


def redacted(value: str | None) -> str | None:
    return "x" * len(value) if value else None


def plain(value: str | None, limit: int = 40) -> str | None:
    """A short value shown as is (card type, expiry, postal code, routing number)."""
    if not value:
        return None
    return value[:limit]


def callback_event(form: Mapping[str, str]) -> dict[str, Any]:
    """The row PayLine keeps of one status callback: masked numbers, no security code."""
    return {
        "payment_sid": form.get("Sid", ""),
        "call_sid": form.get("CallSid"),
        "capture": plain(form.get("Capture")),
        "partial_result": plain(form.get("PartialResult")),
        "required": (plain(form["Required"], 400) or "") if "Required" in form else None,
        "error_type": plain(form.get("ErrorType"), 80),
        "card_number": masked(form.get("PaymentCardNumber")),
        "card_type": plain(form.get("PaymentCardType")),
        "expiration_date": plain(form.get("ExpirationDate"), 6),
        "postal_code": plain(form.get("PaymentCardPostalCode"), 12),
        "security_code": redacted(form.get("SecurityCode")),
        "routing_number": plain(form.get("BankRoutingNumber"), 12),
        "account_number": masked(form.get("BankAccountNumber"), 2),
        "result": plain(form.get("Result")),
    }


@dataclass(frozen=True)
class SessionOptions:
    """What the agent chose for one session (validated); sent on the create call."""

    payment_method: str = "credit-card"
    purpose: str = "pay"
    postal_code: bool = True
    security_code: bool = True
    min_postal_code_length: int | None = None
    confirmation: bool = False
    require_matching_inputs: tuple[str, ...] = ()
    token_type: str | None = None
    bank_account_type: str | None = None
    avs_name: str | None = None

    @property
    def ach(self) -> bool:
        return self.payment_method == "ach-debit"

    def fields(self) -> list[str]:
        return fields_for(self.payment_method, self.security_code, self.postal_code)

    def captures(self) -> list[str]:
        """Every value the agent may ask for: the fields, then the matchers switched on."""
        return self.fields() + [f"{f}-matcher" for f in self.require_matching_inputs]

    def to_json(self) -> dict[str, Any]:
        return {
            "payment_method": self.payment_method,
            "purpose": self.purpose,
            "postal_code": self.postal_code,
            "security_code": self.security_code,
            "min_postal_code_length": self.min_postal_code_length,
            "confirmation": self.confirmation,
            "require_matching_inputs": list(self.require_matching_inputs),
            "token_type": self.token_type,
            "bank_account_type": self.bank_account_type,
            "avs_name": self.avs_name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionOptions:
        return cls(
            **{
                **data,
                "require_matching_inputs": tuple(data.get("require_matching_inputs") or ()),
            }
        )


class InvalidOptions(ValueError):
    """The agent's choices do not make a session; the message says which and why."""


def parse_options(data: Mapping[str, Any]) -> SessionOptions:
    """Read the console's form (JSON) into options, refusing what Twilio would refuse."""
    method = METHODS.get(str(data.get("method") or "card"))
    if method is None:
        raise InvalidOptions("Choose card or bank.")
    purpose = str(data.get("purpose") or "pay")
    if purpose not in ("pay", "save"):
        raise InvalidOptions("Choose to take a payment or to save a card.")
    if purpose == "save" and method == "ach-debit":
        raise InvalidOptions("Only a card can be saved on file.")
    ach = method == "ach-debit"
    matching = data.get("require_matching_inputs") or []
    if isinstance(matching, str):
        matching = [part for part in matching.split(",") if part]
    if not isinstance(matching, list) or any(m not in MATCHABLE for m in matching):
        raise InvalidOptions("Matching inputs are card number, expiry, security code, postal code.")
    if ach and matching:
        raise InvalidOptions("Matching inputs apply to card payments only.")
    security_code = _flag(data, "security_code", True) and not ach
    postal_code = _flag(data, "postal_code", True) and not ach
    matching = [m for m in matching if m in fields_for(method, security_code, postal_code)]
    min_length = data.get("min_postal_code_length")
    if min_length in (None, ""):
        min_length = None
    else:
        try:
            min_length = int(min_length)
        except (TypeError, ValueError):
            raise InvalidOptions("The minimum postal code length is a number.") from None
        if not 1 <= min_length <= 10 or not postal_code:
            raise InvalidOptions("The minimum postal code length is 1 to 10, with a postal code.")
    token_type = data.get("token_type") or None
    if token_type is not None and (token_type not in TOKEN_TYPES or purpose != "save"):
        raise InvalidOptions("A token type (one-time, reusable, payment-method) is for saving.")
    bank_type = data.get("bank_account_type") or None
    if bank_type is not None and (bank_type not in BANK_ACCOUNT_TYPES or not ach):
        raise InvalidOptions("The bank account type is checking, savings or commercial checking.")
    avs_name = str(data.get("avs_name") or "").strip()[:100] or None
    return SessionOptions(
        payment_method=method,
        purpose=purpose,
        postal_code=postal_code,
        security_code=security_code,
        min_postal_code_length=min_length,
        confirmation=_flag(data, "confirmation", False),
        require_matching_inputs=tuple(dict.fromkeys(matching)),
        token_type=token_type if purpose == "save" else None,
        bank_account_type=(bank_type or "consumer-checking") if ach else None,
        avs_name=avs_name if ach else None,
    )


def _flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    return bool(value)
