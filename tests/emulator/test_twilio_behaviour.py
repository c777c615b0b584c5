"""Twilio's three behaviour classes (refuse, warn and play past, ignore) and its value tables."""

from __future__ import annotations

import json

import pytest

from emulator import Caller, TwimlRefused
from emulator.twiml import (
    BANK_ACCOUNT_TYPE_VALUES,
    LANGUAGE_VALUES,
    PROMPT_ERROR_TYPE_VALUES,
    PROMPT_FOR_VALUES,
    SOURCES,
    STATUS_CALLBACK_METHOD_VALUES,
    TOKEN_TYPE_VALUES,
    parse_twiml,
)

ACTION = 'action="https://pay.example.com/voice/pay/complete"'


def raw(fake_app, twiml: str, name: str = "doc") -> str:
    fake_app.config["RAW_TWIML"][name] = twiml
    return f"/voice/raw/{name}"


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


# -- warned and played past (Twilio's 12200) ---------------------------------------------------

WARNED = [
    (f"<Response><Pay {ACTION}><Prompt for='expiration-data'/></Pay></Response>", "for must be"),
    (f"<Response><Pay {ACTION}><Prompt for='pin'/></Pay></Response>", "for must be one of"),
    (
        f"<Response><Pay {ACTION}><Prompt for='security-code' errorType='oops'/></Pay></Response>",
        "oops",
    ),
    (
        f"<Response><Pay {ACTION}><Prompt for='security-code' attempt='11'/></Pay></Response>",
        "1 to 10",
    ),
    (
        f"<Response><Pay {ACTION}><Prompt for='security-code' cardType='amex x'/></Pay></Response>",
        "x",
    ),
    (f"<Response><Pay {ACTION}><Prompt/></Pay></Response>", "needs a 'for'"),
    (
        f"<Response><Pay {ACTION}><Prompt for='payment-card-number' "
        "requireMatchingInputs='true'/></Pay></Response>",
        "bank-account-number or bank-routing-number only",
    ),
    (f"<Response><Pay {ACTION} confirmation='true'/></Response>", "unknown attribute"),
    (f"<Response><Pay {ACTION} language='xx-YY'/></Response>", "language must be one of"),
    (
        f"<Response><Pay {ACTION} paymentMethod='ach-debit' language='es-US'/></Response>",
        "not available for ach-debit",
    ),
    (f"<Response><Pay {ACTION}><Say>hi</Say></Pay></Response>", "<Say> is not allowed"),
    (f"<Response><Pay {ACTION}><Parameter value='x'/></Pay></Response>", "needs a 'name'"),
    ("<Response><Play2/><Pay " + ACTION + "/></Response>", "unknown verb <Play2>"),
    (
        f"<Response><Prompt for='payment-card-number'/><Pay {ACTION}/></Response>",
        "belongs inside <Pay>",
    ),
    (f"<Response><Say colour='red'>hi</Say><Pay {ACTION}/></Response>", "unknown attribute"),
    (f"<Response><Say loop='-1'>hi</Say><Pay {ACTION}/></Response>", "non-negative integer"),
    ("<Response><Hangup>now</Hangup></Response>", "does not take text"),
]


@pytest.mark.parametrize(("twiml", "reason"), WARNED)
def test_what_twilio_warns_about_plays_past_with_a_12200_warning(
    fake_app, wsgi_transport, place_call, twiml, reason
):
    transcript = place_call(wsgi_transport, path=raw(fake_app, twiml))

    assert transcript.ended in ("hangup", "end-of-document")
    [warning] = transcript.twilio_warnings
    assert warning["code"] == "12200"
    assert reason in warning["message"]
    assert any(text.startswith("Twilio warning 12200:") for text in transcript.warnings)


def test_an_unknown_prompt_for_value_plays_to_completion_with_twilios_default_wording(
    fake_app, wsgi_transport, place_call
):
    twiml = (
        f"<Response><Pay chargeAmount='10.00' {ACTION}>"
        "<Prompt for='expiration-data'><Say>When does it expire?</Say></Prompt>"
        "</Pay></Response>"
    )
    transcript = place_call(wsgi_transport, Caller(), path=raw(fake_app, twiml))

    assert transcript.result["Result"] == "success"
    expiry = next(p for p in transcript.payments[0].prompts if p["for"] == "expiration-date")
    assert "When does it expire" not in expiry["said"]
    assert transcript.twilio_warnings[0]["code"] == "12200"


def test_simulate_call_plays_past_a_warning_and_exits_zero_without_strict(fake_app):
    path = raw(fake_app, f"<Response><Pay {ACTION}><Prompt for='pin'/></Pay></Response>")
    result = invoke(fake_app, "simulate-call", "--path", path)

    assert result.exit_code == 0, result.output
    assert "warning: Twilio warning 12200" in result.stderr
    assert "result: Result=success" in result.stdout


def test_simulate_call_strict_fails_a_warning_with_its_own_exit_status(fake_app):
    path = raw(fake_app, f"<Response><Pay {ACTION}><Prompt for='pin'/></Pay></Response>")
    plain = invoke(fake_app, "simulate-call", "--path", path, "--strict")
    as_json = invoke(fake_app, "simulate-call", "--path", path, "--strict", "--json")

    assert plain.exit_code == 3
    assert "--strict: Twilio would warn 1 time(s)" in plain.stderr
    assert as_json.exit_code == 3
    document = json.loads(as_json.stdout)
    assert document["result"]["Result"] == "success"
    assert document["twilio_warnings"][0]["code"] == "12200"


def test_strict_passes_a_clean_document(fake_app):
    result = invoke(fake_app, "simulate-call", "--digits", "1", "--strict")

    assert result.exit_code == 0, result.output


# -- ignored without a word ---------------------------------------------------------------------


def test_comments_namespaced_attributes_and_declarations_are_ignored_silently():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><!-- a comment -->'
        b'<Response xmlns:x="urn:x"><!-- another --><Say x:colour="red">Hi <emphasis '
        b'xml:lang="en-US">there</emphasis></Say><?pi data?></Response>'
    )
    warnings: list[tuple[str, str]] = []
    [say] = parse_twiml(body, "doc", lambda code, message: warnings.append((code, message)))

    assert warnings == []
    assert say.spoken == "Hi there"


# -- the widened value tables: every value any source allows is accepted -----------------------


def _accepted(twiml: str) -> list[tuple[str, str]]:
    warnings: list[tuple[str, str]] = []
    parse_twiml(twiml.encode(), "doc", lambda code, message: warnings.append((code, message)))
    return warnings


@pytest.mark.parametrize("language", sorted(LANGUAGE_VALUES))
def test_every_pay_language_of_the_docs_and_helper_libraries_is_accepted(language):
    assert _accepted(f"<Response><Pay {ACTION} language='{language}'/></Response>") == []
    assert _accepted(f"<Response><Pay {ACTION} language='{language.lower()}'/></Response>") == []


@pytest.mark.parametrize("account_type", sorted(BANK_ACCOUNT_TYPE_VALUES))
def test_every_bank_account_type_is_accepted_for_ach(account_type):
    twiml = (
        f"<Response><Pay {ACTION} paymentMethod='ach-debit' bankAccountType='{account_type}'/>"
        "</Response>"
    )
    assert _accepted(twiml) == []


@pytest.mark.parametrize("token_type", sorted(TOKEN_TYPE_VALUES))
def test_every_token_type_is_accepted(token_type):
    assert _accepted(f"<Response><Pay {ACTION} tokenType='{token_type}'/></Response>") == []


@pytest.mark.parametrize("method", sorted(STATUS_CALLBACK_METHOD_VALUES))
def test_every_status_callback_method_is_accepted(method):
    twiml = (
        f"<Response><Pay {ACTION} statusCallback='/s' statusCallbackMethod='{method}'/></Response>"
    )
    assert _accepted(twiml) == []


@pytest.mark.parametrize("error_type", sorted(PROMPT_ERROR_TYPE_VALUES))
def test_every_prompt_error_type_is_accepted(error_type):
    twiml = (
        f"<Response><Pay {ACTION}><Prompt for='payment-card-number' errorType='{error_type}'>"
        "<Say>x</Say></Prompt></Pay></Response>"
    )
    assert _accepted(twiml) == []


@pytest.mark.parametrize("step", sorted(PROMPT_FOR_VALUES))
def test_every_prompt_for_value_is_accepted(step):
    twiml = f"<Response><Pay {ACTION}><Prompt for='{step}'><Say>x</Say></Prompt></Pay></Response>"
    assert _accepted(twiml) == []


@pytest.mark.parametrize(
    "table",
    [
        LANGUAGE_VALUES,
        BANK_ACCOUNT_TYPE_VALUES,
        TOKEN_TYPE_VALUES,
        PROMPT_ERROR_TYPE_VALUES,
        PROMPT_FOR_VALUES,
        STATUS_CALLBACK_METHOD_VALUES,
    ],
)
def test_every_table_entry_names_its_sources(table):
    for value, sources in table.items():
        assert sources, value
        assert set(sources) <= set(SOURCES), value


def test_the_values_the_issue_names_are_in_the_tables():
    assert {"es-US", "en-IE"} <= set(LANGUAGE_VALUES)
    assert "commercial-savings" in BANK_ACCOUNT_TYPE_VALUES
    assert "internal-error" in PROMPT_ERROR_TYPE_VALUES


def test_a_refusal_names_where_the_tables_come_from(fake_app, wsgi_transport, place_call):
    twiml = f"<Response><Pay {ACTION} paymentMethod='ach-debit' bankAccountType='x'/></Response>"

    with pytest.raises(TwimlRefused, match="tables: doc-pay, node, py-rest"):
        place_call(wsgi_transport, path=raw(fake_app, twiml))


# -- options that never came into play -----------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        ("--star-at", "security-code"),
        ("--hangup-at", "expiration-date"),
        ("--card", "5555555555554444"),
        ("--cvv", "999"),
        ("--bank-account", "12345678"),
    ],
)
def test_an_option_that_never_came_into_play_warns_and_exits_four(fake_app, option):
    result = invoke(fake_app, "simulate-call", *option)  # no --digits: the menu comes first

    assert result.exit_code == 4, result.output
    assert f"warning: {option[0]}" in result.stderr
    assert "never came into play" in result.stderr
    assert "no <Pay> ran" in result.stderr
    assert "5555555555554444" not in result.output


def test_a_card_option_on_a_bank_payment_never_came_into_play(fake_app):
    result = invoke(fake_app, "simulate-call", "--digits", "2", "--card", "5555555555554444")

    assert result.exit_code == 4
    assert "asked for bank-account-number, bank-routing-number" in result.stderr


def test_options_that_came_into_play_exit_zero(fake_app):
    star = invoke(fake_app, "simulate-call", "--digits", "1", "--star-at", "security-code")
    card = invoke(fake_app, "simulate-call", "--digits", "1", "--card", "5555555555554444")
    hang = invoke(fake_app, "simulate-call", "--digits", "1", "--hangup-at", "expiration-date")

    assert (star.exit_code, card.exit_code, hang.exit_code) == (0, 0, 0)
    assert "never came into play" not in star.stderr + card.stderr + hang.stderr


def test_unused_options_are_in_the_json_transcript(fake_app):
    result = invoke(fake_app, "simulate-call", "--json", "--star-at", "postal-code")

    assert result.exit_code == 4
    [text] = json.loads(result.stdout)["unused_options"]
    assert text.startswith("--star-at postal-code never came into play")
