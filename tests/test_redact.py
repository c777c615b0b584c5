"""Masking: free text and every log record lose card numbers and labelled CVVs."""

from __future__ import annotations

import logging

import pytest

from connector.redact import (
    install_log_masking,
    mask_card_numbers,
    mask_long_numbers,
    mask_secrets,
    mask_value,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", "xxxxxxxxxxxx1111"),
        ("card 4111 1111 1111 1111 ok", "card xxxxxxxxxxxx1111 ok"),
        ("378282246310005", "xxxxxxxxxxx0005"),
        ("order 12345", "order 12345"),
        ("4111.1111.1111.1111", "xxxxxxxxxxxx1111"),
        ("41111111111111115555555555554444", "x" * 28 + "4444"),
        ("2026-11-26T18:22:23", "2026-11-26T18:22:23"),
    ],
)
def test_card_shaped_numbers_are_masked_to_the_last_four(text, masked):
    assert mask_card_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        '{"cvv": "739"}',
        "cvv=739",
        "cvv 739",
        "CVC2: 739",
        "security_code: 7391",
        "'bankaccountnumber': '123456789'",
        "account number 123456789",
    ],
)
def test_labelled_secrets_are_masked(text):
    assert "739" not in mask_secrets(text) and "123456789" not in mask_secrets(text)


def test_nested_values_are_masked_keeping_their_shape():
    assert mask_value({"a": ["4111111111111111", 3]}) == {"a": ["xxxxxxxxxxxx1111", 3]}


def test_values_under_secret_names_are_masked_whole():
    masked = mask_value({"cvv": "739", "BankAccountNumber": "12345678", "note": "ok", "n": 1})

    assert masked == {"cvv": "***", "BankAccountNumber": "***", "note": "ok", "n": 1}


def test_a_uuid_with_dash_grouped_digits_is_not_a_card_number():
    text = "tx 3e95f8bd-0123-4567-8901-23260ac8bb0e then 4111-1111-1111-1111"
    assert (
        mask_card_numbers(text) == "tx 3e95f8bd-0123-4567-8901-23260ac8bb0e then xxxxxxxxxxxx1111"
    )


def test_timestamps_amounts_and_ids_are_left_alone():
    text = (
        "2026-11-26 18:22:23,739 charged 1000000.00 USD ch_sbx_1a2b3c4d "
        "CA3f12345678901234567890abcdefabcd 3ce27a34-1272-4142-8901-123456789012"
    )
    assert mask_secrets(text) == text
    assert mask_long_numbers(text).endswith("CA3f12345678901234567890abcdefabcd " + text[-36:])


def test_long_numbers_in_outside_error_text_keep_their_last_two_digits():
    assert mask_long_numbers("Account 123456789 is closed") == "Account *******89 is closed"


def test_every_log_record_is_masked_even_with_args_and_exceptions(caplog):
    install_log_masking()
    log = logging.getLogger("anything.at.all")
    with caplog.at_level(logging.INFO):
        log.info("charging %s with cvv=%s", "4111111111111111", "739")
        try:
            raise ValueError("bad card 5555555555554444")
        except ValueError:
            log.exception("failed")

    text = caplog.text
    assert "4111111111111111" not in text and "5555555555554444" not in text
    assert "cvv=739" not in text
    assert "xxxxxxxxxxxx1111" in text and "xxxxxxxxxxxx4444" in text
