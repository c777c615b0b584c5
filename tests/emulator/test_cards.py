"""Card and bank rules the emulator's <Pay> applies while the caller types."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.cards import (
    TEST_CARDS,
    account_number_ok,
    card_type,
    default_expiry,
    default_security_code,
    expiry_ok,
    luhn_ok,
    mask_account,
    mask_card,
    mask_card_shaped,
    routing_number_ok,
)


@pytest.mark.parametrize(("number", "kind"), sorted(TEST_CARDS.items()))
def test_twilio_test_cards_have_their_listed_type(number, kind):
    assert card_type(number) == kind


def test_the_diners_test_card_fails_luhn_but_is_listed():
    assert not luhn_ok("3065930009020004")
    assert card_type("3065930009020004") == "diners-club"


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("4012888888881881", "visa"),
        ("2223003122003222", "mastercard"),
        ("371449635398431", "amex"),
        ("6011000990139424", "discover"),
        ("3530111333300000", "jcb"),
        ("36227206271667", "diners-club"),
        ("201400000000009", "enroute"),
        ("1234567812345670", None),
    ],
)
def test_card_type_by_prefix_and_length(number, kind):
    assert card_type(number) == kind


def test_security_code_defaults_fit_the_card_type():
    assert default_security_code("378282246310005") == "1234"
    assert default_security_code("4111111111111111") == "123"


def test_expiry_is_valid_to_the_end_of_its_month():
    today = dt.date(2026, 11, 26)
    assert expiry_ok("1126", today)
    assert not expiry_ok("1026", today)
    assert not expiry_ok("1327", today)
    assert not expiry_ok("127", today)
    assert default_expiry(today) == "1128"


@pytest.mark.parametrize(
    ("number", "ok"),
    [("121000358", True), ("011000015", True), ("121000359", False), ("12100035", False)],
)
def test_routing_numbers_need_the_aba_checksum(number, ok):
    assert routing_number_ok(number) is ok


def test_account_numbers_are_4_to_17_digits():
    assert account_number_ok("12345678")
    assert not account_number_ok("123")
    assert not account_number_ok("1" * 18)


def test_masks_follow_twilio():
    assert mask_card("4111111111111111") == "xxxxxxxxxxxx1111"
    assert mask_account("123456789") == "*******89"


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_a_masked_card_shows_only_its_last_four_digits(number):
    masked = mask_card(number)
    assert masked.endswith(number[-4:])
    assert set(masked[:-4]) == {"x"}


@given(st.sampled_from(sorted(TEST_CARDS)), st.text(alphabet="ab -", max_size=5))
def test_card_shaped_text_is_masked(number, filler):
    text = f"note{filler}{number}{filler}end"
    assert number not in mask_card_shaped(text)
