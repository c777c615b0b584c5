"""Money and digits as PayLine accepts them, shared by the connector and the invoices.

Amounts are `Decimal` with the currency's minor units (two for USD, none for JPY); digits are
ASCII 0-9 only (`str.isdigit()` and `Decimal()` also accept other scripts' digits).
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_AMOUNT = Decimal("1000000")
"""Twilio's <Pay chargeAmount> ceiling."""

ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()
)
"""Active ISO 4217 currency codes (funds and metals left out: nobody pays a bill in gold)."""

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())
"""Currencies without minor units: an amount in them has no cents."""
THREE_DECIMAL = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
"""Currencies with three decimal places (fils, baisa, millimes)."""

_DIGITS = re.compile(r"[0-9]+")


class AmountError(ValueError):
    """An amount or currency PayLine will not charge; the message says why (never the value's
    surroundings, so it is safe to show)."""


def is_ascii_digits(value: str) -> bool:
    """True for a non-empty run of ASCII 0-9 only."""
    return bool(_DIGITS.fullmatch(value))


def currency_code(value: object) -> str:
    if not isinstance(value, str) or value.strip().upper() not in ISO_4217:
        raise AmountError("currency must be an ISO 4217 code such as USD")
    return value.strip().upper()


def minor_units(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def parse_amount(text: str, currency: str) -> Decimal:
    """A positive amount no larger than Twilio allows, with no more places than the currency has.

    Trailing zeros are fine ("10.0", "1000.00" yen); digits only, no exponent, no sign.
    """
    whole, _, fraction = text.partition(".")
    if not (is_ascii_digits(whole) and (not fraction or is_ascii_digits(fraction))):
        raise AmountError("amount must be a decimal like 10.00")
    places = minor_units(currency)
    if len(fraction.rstrip("0")) > places:
        raise AmountError(f"amount has more than {places} decimal places for {currency}")
    if len(whole.lstrip("0")) > len(str(MAX_AMOUNT)) or len(fraction) > 20:
        raise AmountError(f"amount must be at most {MAX_AMOUNT}")
    amount = Decimal(text).quantize(Decimal(1).scaleb(-places))
    if amount <= 0:
        raise AmountError("amount must be greater than 0")
    if amount > MAX_AMOUNT:
        raise AmountError(f"amount must be at most {MAX_AMOUNT}")
    return amount


def format_amount(amount: Decimal, currency: str) -> str:
    """As <Pay chargeAmount> wants it: the currency's places, no symbol ("42.50", "1000")."""
    return f"{amount:.{minor_units(currency)}f}"
