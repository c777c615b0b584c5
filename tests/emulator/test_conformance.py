"""check-connector against small connectors: one correct, one per defect, one per false alarm.

Each defect class (a way a real connector broke the contract and the check once missed it)
has a connector that the check must fail, naming the rule; each false-alarm class (a correct
connector that differs from PayLine's and that the check once failed) one it must pass.
"""

from __future__ import annotations

import inspect
import time

import pytest

from emulator import run_check
from emulator.conformance import CONTRACT_LATENCY, RULES
from tests.emulator.connectors import PASSWORD, USERNAME, Connector, serve_wsgi


def check(connector: Connector | None = None, **options):
    connector = connector or Connector()
    with serve_wsgi(connector) as url:
        results = run_check(url, USERNAME, PASSWORD, **({"timeout": 2.0} | options))
    return {result.name: result for result in results}


def failed(results) -> dict[str, str]:
    return {name: r.why for name, r in results.items() if r.verdict == "fail"}


def verdicts(results, verdict: str) -> set[str]:
    return {name for name, r in results.items() if r.verdict == verdict}


def test_a_connector_that_keeps_the_contract_passes_every_case():
    results = check()

    assert failed(results) == {}
    assert verdicts(results, "note") == set()
    assert verdicts(results, "info") == {"luhn-invalid-card", "expired-card"}
    assert len(results) >= 40
    assert {f"card-charge-{kind}" for kind in ("visa", "unionpay", "diners-club")} <= set(results)
    assert {"ach-charge-12345678", "ach-tokenize-123456789", "concurrent-retry"} <= set(results)
    assert all(r.passed for r in results.values())


def test_every_verdict_names_a_rule_of_the_contract():
    results = check(Connector(requires=("description",), constant_id="ch_1"))

    for result in results.values():
        if result.verdict == "fail":
            assert result.rule in RULES, result
            assert f"breaks '{result.rule}'" in result.why


# -- defect classes: the check must fail each, naming the rule and quoting the answer ------


def test_a_connector_that_crashes_without_a_description_fails_with_the_body_quoted():
    results = failed(check(Connector(requires=("description",))))

    assert set(results) == {"charge-without-description", "ach-charge-without-description"}
    why = results["charge-without-description"]
    assert "breaks 'optional-fields'" in why
    assert "HTTP 500, text/html" in why and "KeyError: 'description'" in why


@pytest.mark.parametrize(
    ("field_name", "case"),
    [
        ("postal_code", "charge-without-postal-code"),
        ("cvv", "charge-without-cvv"),
        ("parameters", "charge-without-parameters"),
    ],
)
def test_each_optional_field_absent_in_turn_is_checked(field_name, case):
    results = failed(check(Connector(requires=(field_name,))))

    assert case in results
    assert "breaks 'optional-fields'" in results[case]


def test_a_connector_that_refuses_a_card_expiring_this_month_fails():
    results = failed(check(Connector(refuses_this_month=True)))

    assert set(results) == {"expiry-this-month"}
    assert "breaks 'valid-expiry'" in results["expiry-this-month"]
    assert "invalid_expiry" in results["expiry-this-month"]


def test_a_connector_that_ignores_a_body_without_json_content_type_fails():
    results = failed(check(Connector(needs_json_content_type=True)))

    assert set(results) == {"no-content-type", "text-plain-content-type"}
    assert "breaks 'content-type'" in results["no-content-type"]
    assert "HTTP 400" in results["no-content-type"]


def test_a_connector_whose_tokenize_is_not_idempotent_fails_the_tokenize_retries():
    results = failed(check(Connector(idempotent_tokenize=False)))

    assert set(results) == {"retry-same-transaction-id-tokenize", "concurrent-retry-tokenize"}
    assert "new token_id" in results["retry-same-transaction-id-tokenize"]
    assert "breaks 'retry-in-progress'" in results["concurrent-retry-tokenize"]


def test_a_connector_that_charges_again_on_retry_fails_the_idempotency_cases():
    results = failed(check(Connector(idempotent_charge=False)))

    assert set(results) == {
        "retry-same-transaction-id",
        "same-transaction-id-other-amount",
        "concurrent-retry",
    }
    assert "charged twice" in results["retry-same-transaction-id"]
    assert "breaks 'retry'" in results["same-transaction-id-other-amount"]
    assert "two charge_ids" in results["concurrent-retry"]


def test_a_connector_that_answers_every_transaction_with_one_id_fails_distinct_ids():
    results = failed(check(Connector(constant_id="ch_same")))

    assert set(results) == {"distinct-transactions-distinct-ids"}
    assert "same charge_id 'ch_same'" in results["distinct-transactions-distinct-ids"]
    assert "breaks 'distinct-transactions'" in results["distinct-transactions-distinct-ids"]


def test_a_connector_without_authentication_behind_a_decline_fails_the_credential_cases():
    """It declines the Visa card the check used to send: its lack of auth hid behind that."""
    results = check(Connector(auth="none", declines=frozenset({"visa"})))

    assert set(failed(results)) == {"wrong-credentials", "missing-credentials"}
    why = results["wrong-credentials"].why
    assert "accepted, charge_id=" in why and "breaks 'credentials'" in why and "401" in why
    assert results["card-charge-visa"].verdict == "note"


def test_a_connector_that_omits_the_id_key_on_errors_fails_the_error_shape_case():
    results = check(Connector(id_key_on_errors=False, declines=frozenset({"jcb"})))
    failing = {name: r for name, r in results.items() if r.verdict == "fail"}

    assert set(failing) == {
        "error-shape",
        "card-charge-jcb",
        "card-tokenize-jcb",
        "same-transaction-id-other-amount",
    }
    assert {r.rule for r in failing.values()} == {"error-shape"}
    assert "an error answer has no" in failing["error-shape"].why
    assert "'error_code': 'card_declined'" not in failing["card-charge-jcb"].why
    assert '"error_code": "card_declined"' in failing["card-charge-jcb"].why


def test_a_connector_that_declines_every_test_card_fails_the_card_cases():
    every = frozenset({"visa", "mastercard", "amex", "discover", "diners-club", "jcb"})
    results = failed(check(Connector(declines=every | {"unionpay", "maestro"})))

    assert "card-charge-visa" in results
    assert "no test card at all was approved" in results["card-charge-visa"]


def test_a_connector_slower_than_the_timeout_fails_everything_quickly():
    started = time.monotonic()
    results = check(Connector(delay=0.8), timeout=0.5)
    elapsed = time.monotonic() - started

    assert set(failed(results)) == set(results)
    assert any("no answer within 0.5 s" in r.why for r in results.values())
    skipped = [r for r in results.values() if r.skipped]
    assert len(skipped) >= len(results) - 8
    assert "breaks 'latency'" in results["latency-budget"].why
    assert elapsed < 8


# -- false-alarm classes: correct but unusual connectors the check must pass ----------------


def test_a_connector_that_approves_what_twilio_never_forwards_passes_with_information():
    results = check(Connector(accepts_luhn_invalid=True, accepts_expired=True))

    assert failed(results) == {}
    assert results["luhn-invalid-card"].verdict == "info"
    assert "Twilio never forwards" in results["luhn-invalid-card"].why
    assert "approves it" in results["expired-card"].why


def test_a_connector_that_declines_a_brand_its_merchant_does_not_take_passes_with_a_note():
    results = check(Connector(declines=frozenset({"jcb", "visa"})))

    assert failed(results) == {}
    assert verdicts(results, "note") == {
        "card-charge-jcb",
        "card-tokenize-jcb",
        "card-charge-visa",
        "card-tokenize-visa",
    }
    assert "does not take jcb" in results["card-charge-jcb"].why


def test_a_connector_that_refuses_a_request_without_cvv_passes_with_a_note():
    results = check(Connector(refuses_without=("cvv",)))

    assert failed(results) == {}
    assert verdicts(results, "note") == {"charge-without-cvv"}
    assert "securityCode='false'" in results["charge-without-cvv"].why


def test_a_connector_that_refuses_a_four_digit_year_in_the_contracts_shape_passes_with_a_note():
    results = check(Connector(refuses_four_digit_year=True))

    assert failed(results) == {}
    assert verdicts(results, "note") == {"expiry-four-digit-year"}


def test_a_connector_that_answers_a_retry_with_a_duplicate_error_passes():
    results = check(Connector(duplicate_error_on_retry=True))

    assert failed(results) == {}
    assert "duplicate" in results["retry-same-transaction-id"].why
    assert results["concurrent-retry"].verdict in ("pass", "note")


@pytest.mark.parametrize("auth", ["403", "200-error"])
def test_a_refusal_other_than_401_before_any_processing_passes_with_a_note(auth):
    results = check(Connector(auth=auth))

    assert failed(results) == {}
    assert verdicts(results, "note") == {"wrong-credentials", "missing-credentials"}
    assert "before any processing" in results["wrong-credentials"].why


def test_the_latency_budget_defaults_to_the_contracts_ten_seconds():
    assert CONTRACT_LATENCY == 10.0
    assert inspect.signature(run_check).parameters["budget"].default == CONTRACT_LATENCY
    results = check(Connector(delay=0.3))

    assert results["latency-budget"].passed
    assert "budget 10 s" in results["latency-budget"].why


def test_a_tighter_budget_fails_only_the_latency_case_and_says_what_the_contract_allows():
    results = check(Connector(delay=0.3), budget=0.2)

    assert set(failed(results)) == {"latency-budget"}
    assert "the contract allows 10 s" in results["latency-budget"].why


def test_nothing_listening_is_reported_as_a_refused_connection_without_waiting(closed_port_url):
    started = time.monotonic()
    results = run_check(closed_port_url, "u", "p", timeout=5)

    assert not any(result.passed for result in results)
    assert time.monotonic() - started < 3
    whys = [r.why for r in results if not r.skipped and r.name != "error-shape"]
    assert all("connection refused" in why for why in whys), whys
    assert not any("no answer within" in r.why for r in results)


def test_wrong_credentials_given_to_the_check_are_named_as_such():
    with serve_wsgi(Connector()) as url:
        results = run_check(url, USERNAME, "not-the-password", timeout=2.0)

    visa = next(r for r in results if r.name == "card-charge-visa")
    assert not visa.passed
    assert "the connector refused the --username/--password given" in visa.why
