from decimal import Decimal

import pytest

from ivr.speech import amount_in_words, failure_words, spell_out


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        ("42.50", "USD", "forty two dollars and fifty cents"),
        ("1.01", "USD", "one dollar and one cent"),
        ("0.99", "USD", "zero dollars and ninety nine cents"),
        ("1000000", "USD", "one million dollars"),
        ("1234.00", "EUR", "one thousand two hundred thirty four euros"),
        ("12.10", "GBP", "twelve pounds and ten pence"),
        ("5", "CHF", "five CHF"),
        ("5.01", "CHF", "five CHF and one hundredth"),
        ("12.345", "KWD", "twelve KWD and three hundred forty five thousandths"),
        ("1000", "JPY", "one thousand yen"),
    ],
)
def test_amounts_are_spoken_from_decimal(amount, currency, words):
    assert amount_in_words(Decimal(amount), currency) == words


def test_codes_are_read_character_by_character():
    assert spell_out("ch_sbx_9a") == "9, A"
    assert spell_out("AB-12") == "A, B, 1, 2"


def test_failures_are_words_not_codes():
    assert "declined" in failure_words("payment-connector-error", "card_declined")
    assert "_" not in failure_words("payment-connector-error", "some_unknown_code")
