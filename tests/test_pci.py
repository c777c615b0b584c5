"""pci: the rules of masking and refusing, one behaviour per case (README "Security")."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pci


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", "xxxxxxxxxxxx1111"),
        ("card 4111 1111 1111 1111 ok", "card xxxx xxxx xxxx 1111 ok"),
        ("4111_1111_1111_1111", "xxxx_xxxx_xxxx_1111"),
        ("4111,1111,1111,1111", "xxxx,xxxx,xxxx,1111"),
        ("4111+1111+1111+1111", "xxxx+xxxx+xxxx+1111"),
        ("4111:1111.1111/1111", "xxxx:xxxx.xxxx/1111"),
        ("4111\t1111\n1111 - 1111", "xxxx\txxxx\nxxxx - 1111"),
        ("4111\u00a01111\u20091111\u200b1111", "xxxx\u00a0xxxx\u2009xxxx\u200b1111"),
        ("x4111111111111111", "xxxxxxxxxxxxx1111"),
        ("visa4111111111111111exp0831", "visaxxxxxxxxxxxx1111exp0831"),
        ("٤١١١١١١١١١١١١١١١", "xxxxxxxxxxxx1111"),
        ("４１１１１１１１１１１１１１１１", "xxxxxxxxxxxx1111"),
        ("𝟒𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏", "xxxxxxxxxxxx1111"),
        ("378282246310005", "xxxxxxxxxxx0005"),
        ("4111111111111112", "xxxxxxxxxxxx1112"),  # not Luhn-valid: still card data
        ("41111111111111115555555555554444", "x" * 28 + "4444"),
        ("order 12345", "order 12345"),
        ("phone 415 555 0123", "phone 415 555 0123"),
    ],
)
def test_card_shaped_runs_are_masked_to_the_last_four(text, masked):
    assert pci.mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        '{"cvv": "739"}',
        "cvv=739",
        "CVV2: 739",
        "c.v.v 739",
        "my cvv is 739",
        "739 is the cvv",
        "Security-Code 7391",
        "sec code 739",
        "card verification value: 739",
        "ＣＶＶ：７３９",
        "CSC 739",
    ],
)
def test_codes_near_a_security_code_label_in_any_spelling_are_masked(text):
    assert "739" not in pci.normalize_digits(pci.mask_text(text))


def test_an_account_number_near_its_label_keeps_its_last_two():
    assert pci.mask_text("account number 123456789") == "account number *******89"


@pytest.mark.parametrize(
    "text",
    [
        "tx 3e95f8bd-0123-4567-8901-23260ac8bb0e",
        "CAe3b0c44298fc1c149afbf4c8996fb924",
        "check-3e95f8bd0123456789ab23260ac8bb0e",
        "Listening at: http://127.0.0.1:18611 (28880)",
        "at 2026-11-26 18:22:23,739 charged 1000000.00 USD ch_sbx_1a2b3c4d",
        "shipping 123",
    ],
)
def test_our_ids_addresses_and_timestamps_stay_readable(text):
    assert pci.mask_text(text) == text


def test_an_id_shape_that_holds_a_card_is_masked():
    assert "4111111111111111" not in pci.mask_text("CA4111111111111111abcdefabcdefabcd")


def test_a_number_split_across_fields_is_masked_in_every_part():
    assert pci.mask_fields(["pay 41111111", "11111111 thanks"]) == [
        "pay xxxxxxxx",
        "xxxx1111 thanks",
    ]


def test_a_split_separated_by_other_fields_is_caught_in_name_order():
    pairs = pci.mask_pairs([("b", "11111111"), ("m", "hello"), ("a", "41111111")])

    assert dict(pairs) == {"b": "xxxx1111", "m": "hello", "a": "xxxxxxxx"}


def test_a_split_ending_in_separators_is_still_one_run():
    assert pci.mask_fields(["4111 1111 - ", "1111 1111"]) == ["xxxx xxxx - ", "xxxx 1111"]


def test_a_split_between_a_name_and_its_value_masks_the_name():
    [(name, value)] = pci.mask_pairs([("4111111111", "111111")])

    assert name == "x" * 10 and value == "xx1111"


def test_values_under_secret_names_are_masked_whole_and_shapes_kept():
    masked = pci.mask_value(
        {"cvv": "739", "Card-Number": "4111", "note": "ok", "n": 1, "l": ["4111111111111111"]}
    )

    assert masked == {
        "cvv": "***",
        "Card-Number": "***",
        "note": "ok",
        "n": 1,
        "l": ["xxxxxxxxxxxx1111"],
    }


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("4111111111111111", True),
        ("tx-4111-1111-1111-1111", True),
        ("98765432109876543", True),
        ("41111111-1111-1111-1111-aaaaaaaaaaaa", True),
        ("3ce27a34-1272-4142-8901-987650432109", False),
        ("PK" + "1" * 16 + "ab" * 8, False),
        ("check-" + "3e95f8bd0123456789ab23260ac8bb0e", False),
        ("98765432109", False),
    ],
)
def test_an_identifier_is_refused_when_masking_would_change_it(value, refused):
    assert pci.card_shaped(value) is refused


def test_urls_are_decoded_before_they_are_masked():
    masked = pci.mask_url("GET /voice/%34111111111111111?card=x4111%201111%201111%201111 HTTP/1.1")

    assert "4111" not in masked.replace("1111 HTTP", "") and masked.endswith(" HTTP/1.1")


def test_every_log_record_is_masked_even_with_args_and_exceptions(caplog):
    pci.install_log_masking()
    log = logging.getLogger("anything.at.all")
    with caplog.at_level(logging.INFO):
        log.info("charging %s with cvv=%s", "4111 1111 1111 1111", "739")
        try:
            raise ValueError("bad card ５５５５５５５５５５５５４４４４")
        except ValueError:
            log.exception("failed")

    text = caplog.text
    assert "4111 1111 1111 1111" not in text and "cvv=739" not in text
    assert "5555555555554444" not in pci.normalize_digits(text)
    assert "xxxx xxxx xxxx 1111" in text and "xxxxxxxxxxxx4444" in text


def test_looks_like_card_knows_brands_lengths_and_luhn():
    assert pci.looks_like_card("4111111111111111")
    assert pci.looks_like_card("3065930009020004")  # Twilio's Diners test card fails Luhn
    assert not pci.looks_like_card("4111111111111112")
    assert not pci.looks_like_card("1234567812345670")  # Luhn-valid, no brand


LABELS = ["cvv", "cvc", "csc", "cvv2", "security code", "sec code", "card verification value"]


@st.composite
def labelled_codes(draw: st.DrawFn) -> tuple[str, str]:
    """A security code beside a label spelled any way: case, dots or spaces between letters,
    full-width letters, the label before or after, digits of any script."""
    label = draw(st.sampled_from(LABELS))
    label = "".join(c.upper() if draw(st.booleans()) else c for c in label)
    if draw(st.booleans()) and " " not in label:
        label = draw(st.sampled_from([".", " ", "-"])).join(label)
    if draw(st.booleans()):
        label = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in label)
    code = draw(st.text(alphabet="0123456789", min_size=3, max_size=4))
    zero = draw(st.sampled_from([0x30, 0x660, 0xFF10, 0x966]))
    written = "".join(chr(zero + int(d)) for d in code)
    glue = draw(st.sampled_from([": ", "=", " is ", '": "', " ", " - ", "#"]))
    text = f"{label}{glue}{written}" if draw(st.booleans()) else f"{written}{glue}{label}"
    return draw(st.sampled_from(["", "my ", "note: "])) + text, code


@settings(max_examples=300, deadline=None)
@given(labelled_codes())
def test_a_security_code_beside_any_spelling_of_its_label_is_masked(case):
    text, code = case

    assert code not in pci.normalize_digits(pci.mask_text(text)).replace("x", "")
