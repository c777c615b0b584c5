"""check-connector's core against connectors that keep the contract and ones that break it."""

from __future__ import annotations

import time

import pytest

from emulator import run_check
from tests.emulator.fakeapp import CONNECTOR_PASSWORD, CONNECTOR_USERNAME, create_fake_app, serve


def check(timeout: float = 2.0, **behaviour):
    with serve(create_fake_app(**behaviour)) as base_url:
        results = run_check(
            f"{base_url}/connector", CONNECTOR_USERNAME, CONNECTOR_PASSWORD, timeout=timeout
        )
    return {result.name: result for result in results}


def failed(results) -> dict[str, str]:
    return {name: result.why for name, result in results.items() if not result.passed}


def test_a_connector_that_keeps_the_contract_passes_every_case():
    results = check()

    assert failed(results) == {}
    assert len(results) >= 30
    assert {f"card-charge-{kind}" for kind in ("visa", "unionpay", "diners-club")} <= set(results)
    assert {"ach-charge-12345678", "ach-tokenize-123456789", "concurrent-retry"} <= set(results)
    assert all(r.latency is not None for r in results.values())


def test_a_connector_that_charges_again_on_retry_fails_the_idempotency_cases():
    results = failed(check(CONNECTOR_IDEMPOTENT=False))

    assert set(results) == {
        "retry-same-transaction-id",
        "same-transaction-id-other-amount",
        "concurrent-retry",
    }
    assert "charged twice" in results["retry-same-transaction-id"]
    assert "new charge_id" in results["same-transaction-id-other-amount"]
    assert "two charge_ids" in results["concurrent-retry"]


def test_a_connector_that_omits_the_id_key_on_errors_fails_the_error_shape_cases():
    results = failed(check(CONNECTOR_ID_KEY_ON_ERRORS=False))

    assert set(results) == {
        "error-shape-invalid-card-number",
        "error-shape-invalid-card-number-tokenize",
        "error-shape-expired-card",
    }
    assert "no charge_id" in results["error-shape-invalid-card-number"]
    assert "no token_id" in results["error-shape-invalid-card-number-tokenize"]


def test_a_connector_slower_than_the_timeout_fails_everything_quickly():
    started = time.monotonic()
    results = check(timeout=0.5, CONNECTOR_DELAY_ALL=0.8)
    elapsed = time.monotonic() - started

    assert failed(results).keys() == results.keys()
    whys = [result.why for result in results.values()]
    assert any("no answer within 0.5 s" in why for why in whys)
    skipped = [r for r in results.values() if r.skipped]
    assert len(skipped) >= len(results) - 8
    assert all("connector unresponsive" in r.why for r in skipped)
    assert "no answer" in results["latency-budget"].why
    assert elapsed < 5


def test_a_connector_that_ignores_credentials_fails_the_credential_cases():
    results = failed(check(CONNECTOR_CHECKS_AUTH=False))

    assert set(results) == {"wrong-credentials", "missing-credentials"}
    assert results["wrong-credentials"].startswith("accepted: charge_id=")


def test_a_connector_over_the_latency_budget_fails_only_the_budget_case():
    with serve(create_fake_app(CONNECTOR_DELAYS=[0.3])) as base_url:
        results = run_check(
            f"{base_url}/connector", CONNECTOR_USERNAME, CONNECTOR_PASSWORD, budget=0.2
        )

    assert [r.name for r in results if not r.passed] == ["latency-budget"]
    assert "over the 0.2 s budget" in results[-1].why


def test_nothing_listening_fails_every_case_without_waiting(closed_port_url):
    started = time.monotonic()
    results = run_check(closed_port_url, "u", "p", timeout=5)

    assert not any(result.passed for result in results)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("mode", ["decline"])
def test_a_connector_declining_the_test_cards_fails_the_card_cases(mode):
    results = failed(check(CONNECTOR_MODE=mode))

    assert "card-charge-visa" in results
    assert "card_declined" in results["card-charge-visa"]
