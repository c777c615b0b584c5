"""Spoken wording: amounts in words, codes read character by character, outcomes in plain words."""

from __future__ import annotations

from decimal import Decimal

from money import minor_units

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))

CURRENCY_WORDS: dict[str, tuple[str, str, str, str]] = {
    "USD": ("dollar", "dollars", "cent", "cents"),
    "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "JPY": ("yen", "yen", "", ""),
    "MXN": ("Mexican peso", "Mexican pesos", "centavo", "centavos"),
}


def number_in_words(number: int) -> str:
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for scale, word in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            return f"{number_in_words(high)} {word}" + (f" {number_in_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def amount_in_words(amount: Decimal, currency: str = "USD") -> str:
    """`Decimal("42.50"), "USD"` → "forty two dollars and fifty cents"."""
    code = currency.upper()
    places = minor_units(code)
    whole, minor = divmod(int((amount * 10**places).to_integral_value()), 10**places)
    default = (code, code, "hundredth" if places == 2 else "thousandth", "")
    one, many, sub_one, sub_many = CURRENCY_WORDS.get(code, default)
    sub_many = sub_many or sub_one + "s"
    words = f"{number_in_words(whole)} {one if whole == 1 else many}"
    if minor:
        words += f" and {number_in_words(minor)} {sub_one if minor == 1 else sub_many}"
    return words


def spell_out(code: str) -> str:
    """Read a code character by character, without a processor's type prefix: "ch_9a" → "9, A".

    Letters are upper-cased so that a text-to-speech voice says "A", not the article "a".
    """
    significant = code.rsplit("_", 1)[-1] or code
    return ", ".join(char.upper() for char in significant if char.isascii() and char.isalnum())


CONNECTOR_ERROR_WORDS: dict[str, str] = {
    "card_declined": "Your card was declined by the bank.",
    "insufficient_funds": "The payment was declined for insufficient funds.",
    "invalid_card_number": "The card number was not valid.",
    "invalid_expiry": "The card's expiration date was not valid, or the card has expired.",
    "invalid_security_code": "The security code did not match the card.",
    "invalid_routing_number": "The bank routing number was not valid.",
    "invalid_account_number": "The bank account number was not valid.",
    "invalid_amount": "The amount could not be charged.",
    "invalid_currency": "This currency cannot be charged on this line.",
    "test_mode_card_not_allowed": "This line is in test mode and only accepts test cards.",
    "test_mode_account_not_allowed": "This line is in test mode and only accepts test accounts.",
}
BANK_WORDS = {"card_declined": "Your bank declined the payment."}

RESULT_WORDS: dict[str, str] = {
    "too-many-failed-attempts": "We could not read your payment details after several tries.",
    "caller-interrupted-with-star": "You cancelled.",
    "validation-error": "Some of the payment details were not accepted.",
    "payment-connector-error": "The payment could not be completed.",
}


def failure_words(
    result: str,
    connector_error: str | None,
    *,
    bank: bool = False,
    saving: bool = False,
) -> str:
    """What happened and what it means for the caller's money: never a raw code."""
    if result == "payment-connector-error" and connector_error in CONNECTOR_ERROR_WORDS:
        what = (BANK_WORDS if bank else {}).get(connector_error) or CONNECTOR_ERROR_WORDS[
            connector_error
        ]
    else:
        what = RESULT_WORDS.get(result, "The payment could not be completed.")
    return f"{what} {'Nothing was saved.' if saving else 'Nothing has been charged.'}"


def card_name(brand: str | None) -> str:
    """ "visa" → "Visa", "amex" → "American Express": a saved card as a caller knows it."""
    names = {"amex": "American Express", "mastercard": "Mastercard", "discover": "Discover"}
    if not brand:
        return "card"
    return names.get(brand.lower(), brand.replace("-", " ").title())


def saved_card_offer(brand: str | None, last4: str | None) -> str:
    ending = f" ending {' '.join(last4)}" if last4 else ""
    return f"To pay with your saved {card_name(brand)}{ending}, press 1."


SAVED_CARD_REFUSED_WORDS = "Your saved card could not be charged. Nothing has been charged."
ACH_DECLINED_WORDS = "You did not authorize the bank debit. Nothing has been charged."
ACH_AGREE_WORDS = "To agree, press 1. To choose another way to pay, press 2."

CHARGED_DESPITE_WORDS = "We received your payment."

DUPLICATE_WORDS = (
    "We received your payment, but this invoice had already been paid. "
    "We will refund the duplicate payment."
)

UNKNOWN_OUTCOME_WORDS = (
    "We could not confirm whether your payment went through. "
    "Please do not pay again until we have checked it; we will contact you."
)
