"""Card and bank-account rules as Twilio's <Pay> applies them while the caller types.

The tables come from reference/twilio-pay-facts.md (validCardTypes rules, test numbers) and
reference/generic-pay-connector.txt (the TEST-mode card and bank-account list). Twilio's test
cards are accepted exactly as listed, even the Diners card that fails the Luhn check and the
UnionPay card that has no validCardTypes name.
"""

from __future__ import annotations

import datetime as dt
import re

#: ``validCardTypes`` names Twilio knows (reference: the <Pay> attribute table).
CARD_TYPE_NAMES = (
    "visa",
    "mastercard",
    "amex",
    "maestro",
    "discover",
    "optima",
    "jcb",
    "diners-club",
    "enroute",
)
DEFAULT_VALID_CARD_TYPES = ("visa", "mastercard", "amex")

#: Twilio's TEST-mode cards, number -> card type. UnionPay has no validCardTypes name.
TEST_CARDS: dict[str, str] = {
    "4111111111111111": "visa",
    "5555555555554444": "mastercard",
    "378282246310005": "amex",
    "6011111111111117": "discover",
    "3065930009020004": "diners-club",
    "3566002020360505": "jcb",
    "6200000000000005": "unionpay",
    "6771798021000008": "maestro",
}
VISA_TEST_CARD = "4111111111111111"
#: Twilio's TEST-mode bank accounts.
TEST_BANK_ACCOUNTS = ("12345678", "123456789")
#: An ABA-valid routing number ("any valid routing number works" in TEST mode).
DEFAULT_ROUTING_NUMBER = "121000358"
DEFAULT_POSTAL_CODE = "94111"

_DIGITS = re.compile(r"[0-9]*\Z")


def is_digits(value: str) -> bool:
    """ASCII 0-9 only (``str.isdigit`` also accepts other scripts' digits)."""
    return _DIGITS.match(value) is not None


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check."""
    if not number or not is_digits(number):
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _prefix_in(number: str, low: int, high: int) -> bool:
    width = len(str(low))
    return low <= int(number[:width]) <= high if len(number) >= width else False


def card_type(number: str) -> str | None:
    """Card type by Twilio's validCardTypes rules; the test-card table wins. None if unknown.

    ``optima`` cards are American Express issued and cannot be told apart by number; they
    are reported as ``amex``.
    """
    if number in TEST_CARDS:
        return TEST_CARDS[number]
    if not is_digits(number) or len(number) < 12:
        return None
    length = len(number)
    if number.startswith(("34", "37")) and length == 15:
        return "amex"
    if number.startswith(("2014", "2149")) and length == 15:
        return "enroute"
    if number.startswith("4") and length in (13, 16, 19):
        return "visa"
    if length == 16 and (_prefix_in(number, 51, 55) or _prefix_in(number, 2221, 2720)):
        return "mastercard"
    if 16 <= length <= 19 and number.startswith(("6011", "64", "65")):
        return "discover"
    if 16 <= length <= 19 and _prefix_in(number, 3528, 3589):
        return "jcb"
    diners = _prefix_in(number, 300, 305) or number.startswith(("3095", "36", "38", "39"))
    if diners and (14 if number.startswith("36") else 16) <= length <= 19:
        return "diners-club"
    maestro_prefix = number.startswith(("50", "56", "57", "58", "6"))
    if maestro_prefix and 12 <= length <= 19:
        return "maestro"
    return None


def security_code_length(kind: str | None) -> int:
    """4 digits for American Express, 3 for every other card."""
    return 4 if kind in ("amex", "optima") else 3


def default_security_code(number: str) -> str:
    """A valid security code for this card (``1234`` for amex, else ``123``)."""
    return "1234" if security_code_length(card_type(number)) == 4 else "123"


def default_expiry(today: dt.date | None = None) -> str:
    """An MMYY expiry about two years ahead of today."""
    today = today or dt.date.today()
    return f"{today.month:02d}{(today.year + 2) % 100:02d}"


def expiry_ok(mmyy: str, today: dt.date | None = None) -> bool:
    """MMYY, month 01-12, not before the current month (a card is valid to the month's end)."""
    if len(mmyy) != 4 or not is_digits(mmyy):
        return False
    month, year = int(mmyy[:2]), 2000 + int(mmyy[2:])
    if not 1 <= month <= 12:
        return False
    today = today or dt.date.today()
    return (year, month) >= (today.year, today.month)


def routing_number_ok(number: str) -> bool:
    """ABA routing number: 9 digits and the 3-7-1 checksum."""
    if len(number) != 9 or not is_digits(number):
        return False
    d = [int(c) for c in number]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return total % 10 == 0


def account_number_ok(number: str) -> bool:
    """A US bank account number: 4 to 17 digits."""
    return 4 <= len(number) <= 17 and is_digits(number)


def mask_card(number: str) -> str:
    """Twilio's PaymentCardNumber masking: ``x`` for all but the last four digits."""
    if len(number) <= 4:
        return "x" * len(number)
    return "x" * (len(number) - 4) + number[-4:]


def mask_account(number: str) -> str:
    """Twilio's BankAccountNumber masking: ``*`` for all but the last two digits."""
    if len(number) <= 2:
        return "*" * len(number)
    return "*" * (len(number) - 2) + number[-2:]


_CARD_SHAPED = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def mask_card_shaped(text: str) -> str:
    """Mask any run of 13-19 digits (spaces or dashes allowed) that could be a card number."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if luhn_ok(digits) or digits in TEST_CARDS:
            return mask_card(digits)
        return match.group(0)

    return _CARD_SHAPED.sub(_mask, text)
