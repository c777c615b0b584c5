"""`flask simulate-agent-payment`: an agent-assisted payment played end to end in-process."""

from __future__ import annotations

import json

import pytest

from app import create_app
from tests.conftest import settings


@pytest.fixture
def runner(tmp_path):
    app = create_app(settings(tmp_path, AGENT_USERNAME="agent", AGENT_PASSWORD="agent-pw"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    return runner


def test_the_transcript_shows_the_agent_the_caller_and_the_result(runner):
    result = runner.invoke(
        args=["simulate-agent-payment", "--invoice", "1001", "--expiry", "1399", "--expiry", "1230"]
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert "agent: capture expiration-date" in out and "-> invalid-date" in out
    assert "result: state=completed result=success confirmation=ch_" in out
    assert "4111111111111111" not in out


def test_json_transcript_of_a_bank_payment(runner):
    result = runner.invoke(
        args=["simulate-agent-payment", "--invoice", "1002", "--method", "bank", "--json"]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["agent"]["view"]["state"] == "completed"
    keys = [r["form"]["IdempotencyKey"] for r in document["api_requests"]]
    assert len(keys) == len(set(keys)) == 4  # create, routing, account, complete
    assert "123456789" not in json.dumps(document["callbacks"])


def test_a_declined_invoice_ends_with_the_decline(runner):
    result = runner.invoke(args=["simulate-agent-payment", "--invoice", "1003"])

    assert result.exit_code == 0, result.output
    assert "result: state=failed result=payment-connector-error" in result.output


def test_an_unknown_invoice_fails_the_command(runner):
    result = runner.invoke(args=["simulate-agent-payment", "--invoice", "9999"])

    assert result.exit_code == 1
    assert "no invoice with that number" in result.output
