"""Card and bank-account arithmetic: Luhn, brands, ABA routing checksums, Twilio's test numbers."""

from __future__ import annotations

from money import is_ascii_digits

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
"""Twilio's published TEST-mode cards, accepted exactly as listed (the Diners one fails Luhn)."""

TEST_BANK_ACCOUNTS = frozenset({"12345678", "123456789"})

_BRAND_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("amex", ("34", "37")),
    ("diners-club", ("300", "301", "302", "303", "304", "305", "3095", "36", "38", "39")),
    ("jcb", tuple(str(p) for p in range(3528, 3590))),
    ("discover", ("6011", "64", "65")),
    ("unionpay", ("62",)),
    ("mastercard", ("51", "52", "53", "54", "55", *(str(p) for p in range(2221, 2721)))),
    ("maestro", ("50", "56", "57", "58", "67")),
    ("visa", ("4",)),
)


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The brand by prefix, as Twilio names it in validCardTypes; 'unknown' when none fits."""
    if number in TEST_CARDS:
        return TEST_CARDS[number]
    for brand, prefixes in _BRAND_PREFIXES:
        if number.startswith(prefixes):
            return brand
    return "unknown"


def routing_number_valid(number: str) -> bool:
    """The ABA checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)."""
    if len(number) != 9 or not is_ascii_digits(number):
        return False
    d = [ord(c) - 48 for c in number]
    checksum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return checksum % 10 == 0


def last_four(number: str) -> str:
    return number[-4:]
