"""One table classifies every failure code: refused before any charge, or unknown."""

from __future__ import annotations

import pytest

from billing.classification import CLASSIFICATION, Charge, classify, failure_class
from connector.protocol import ErrorCode

TWILIO_PAY_ERROR_CODES = [str(code) for code in range(64001, 64025)]
"""Documented in reference/twilio-pay-facts.md: 64001–64024, none above."""


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_every_connector_error_code_is_classified(code):
    assert CLASSIFICATION.get(str(code)) in (Charge.REFUSED_BEFORE_CHARGE, Charge.UNKNOWN), (
        f"ErrorCode {code} has no refused/unknown classification in billing/classification.py"
    )


@pytest.mark.parametrize("code", TWILIO_PAY_ERROR_CODES)
def test_every_documented_twilio_pay_error_code_is_classified(code):
    assert CLASSIFICATION.get(code) in (Charge.REFUSED_BEFORE_CHARGE, Charge.UNKNOWN), (
        f"PayErrorCode {code} has no refused/unknown classification in billing/classification.py"
    )


def test_a_code_nobody_classified_is_unknown():
    assert classify("gateway_timeout") is Charge.UNKNOWN
    assert classify("64099") is Charge.UNKNOWN
    assert classify(None) is Charge.UNKNOWN


def test_the_words_table_decides_nothing_about_money():
    import ivr.speech

    assert not hasattr(ivr.speech, "REFUSED_BEFORE_CHARGE")
    assert not hasattr(ivr.speech, "outcome_unknown")


@pytest.mark.parametrize(
    ("result", "connector_error", "pay_error_code", "unknown"),
    [
        ("payment-connector-error", "card_declined", "64008", False),
        ("payment-connector-error", "invalid_expiry", "64008", False),
        ("payment-connector-error", "processing_error", "64008", True),
        ("payment-connector-error", "idempotency_mismatch", "64008", True),
        ("payment-connector-error", "gateway_timeout", "64008", True),
        ("payment-connector-error", None, "64008", True),
        ("payment-connector-error", None, "64022", False),
        ("payment-connector-error", None, None, True),
        ("internal-error", None, None, True),
        ("some-new-result", None, None, True),
        ("too-many-failed-attempts", None, None, False),
        ("caller-interrupted-with-star", None, None, False),
        ("validation-error", None, None, False),
    ],
)
def test_a_failure_is_refused_only_when_nothing_can_have_been_charged(
    result, connector_error, pay_error_code, unknown
):
    charge = failure_class(result, connector_error, pay_error_code)

    assert (charge is Charge.UNKNOWN) is unknown


MONEY_STATEMENTS = (
    "claim_invoice",
    "mark_invoice_paid",
    "hold_invoice_unknown",
    "release_invoice",
    "release_unknown_hold",
    "clear_invoice_hold",
    "keep_card_on_file",
    "record_pay_result",
    "conclude_payment",
    "charge_token",
    "classification",
)


def test_the_call_flow_and_the_blueprints_make_no_money_decisions():
    """Settle, hold, release and 'can it have charged' live in billing/ alone."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for folder in ("ivr", "blueprints")
        for path in sorted((root / folder).glob("*.py"))
        for name in MONEY_STATEMENTS
        if name in path.read_text()
    ]

    assert offenders == []
