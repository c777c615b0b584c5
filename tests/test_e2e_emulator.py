"""The emulator against the app as production serves it: gunicorn (Procfile), SQLite, HTTP.

PUBLIC_BASE_URL names a public https host, as behind ngrok; the emulator signs every request
for that host and delivers it to loopback, as Twilio would through a tunnel.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import CONNECTOR_PASSWORD, CONNECTOR_USER
from tests.server import serve

PUBLIC = "https://payline-demo.example.net"


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    server = serve(
        tmp_path_factory.mktemp("e2e-emulator"),
        workers=2,
        PUBLIC_BASE_URL=PUBLIC,
        SANDBOX_SLOW_SECONDS="0.2",
    )
    assert server.flask("init-db", "--demo").returncode != 0  # production: no made-up invoices
    csv = server.directory / "invoices.csv"
    csv.write_text(
        "number,amount,customer,currency\n1001,42.50,Ada Lovelace,USD\n"
        "1002,120.00,Grace Hopper,USD\n1003,15.51,Alan Turing,USD\n1005,250.00,,USD\n"
    )
    result = server.flask("invoices", "import", str(csv))
    assert result.returncode == 0, result.stderr
    yield server
    server.stop()


def simulate(server, *args: str) -> dict:
    result = server.flask("simulate-call", "--url", server.base_url, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def said(transcript: dict) -> str:
    return " ".join(line for step in transcript["steps"] for line in step["said"])


def invoice(server, number: str) -> dict:
    rows = json.loads(server.flask("invoices", "list", "--json").stdout)
    return next(row for row in rows if row["number"] == number)


def test_simulate_call_against_the_served_app_charges_and_records_the_payment(server):
    transcript = simulate(server, "--digits", "1,1001#,1")

    assert transcript["result"]["Result"] == "success"
    assert transcript["steps"][0]["url"] == f"{PUBLIC}/voice/incoming"
    assert transcript["payments"][0]["action_url"].startswith(f"{PUBLIC}/voice/pay/complete")
    charge_id = transcript["payments"][0]["connector_response"]["json"]["charge_id"]
    assert transcript["result"]["PaymentConfirmationCode"] == charge_id
    [row] = server.query("select * from payments where confirmation_code = :id", {"id": charge_id})
    assert row["result"] == "success" and row["invoice_number"] == "1001"
    assert invoice(server, "1001")["status"] == "paid"
    assert invoice(server, "1001")["confirmation"] == charge_id
    assert "4111111111111111" not in json.dumps(transcript)


def test_the_ivr_acceptance_walk_against_the_served_app(server):
    by_ach = simulate(server, "--digits", "1,1002#,2,1")
    again = simulate(server, "--digits", "1,1002#")
    declined = simulate(server, "--digits", "1,1003#,1,1")
    unknown = simulate(server, "--digits", "1,4242#,4243#,4244#")
    saved = simulate(server, "--digits", "2,1005#")
    star = simulate(server, "--digits", "1,1005#,2,1", "--star-at", "expiration-date")
    hangup = simulate(server, "--digits", "1,1005#,2,2,1", "--hangup-at", "bank-account-number")

    assert by_ach["result"]["Result"] == "success"
    assert invoice(server, "1002")["status"] == "paid"
    assert invoice(server, "1002")["confirmation"] == by_ach["result"]["PaymentConfirmationCode"]
    assert again["payments"] == [] and "1, 0, 0, 2 is already paid" in said(again)
    assert [p["callback"]["ConnectorError"] for p in declined["payments"]] == ["card_declined"] * 2
    assert invoice(server, "1003")["status"] == "open"
    assert unknown["payments"] == []
    assert "could not find invoice 4, 2, 4, 4" in said(unknown)
    assert saved["result"]["PaymentToken"] and invoice(server, "1005")["card_on_file"]
    assert star["result"]["Result"] == "caller-interrupted-with-star"
    assert hangup["result"]["Result"] == "caller-hung-up"
    assert invoice(server, "1005")["status"] == "open"
    recorded = {
        row["result"]
        for row in server.query("select result from payments where invoice_number = '1005'")
    }
    assert {"caller-interrupted-with-star", "caller-hung-up", "success"} <= recorded


def test_check_connector_passes_against_the_served_connector(server):
    result = server.flask(
        "check-connector",
        server.base_url + "/connector",
        "--username",
        CONNECTOR_USER,
        "--password",
        CONNECTOR_PASSWORD,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.count("PASS") >= 25


def test_check_connector_fails_against_the_served_connector_with_wrong_credentials(server):
    result = server.flask(
        "check-connector",
        server.base_url + "/connector",
        "--username",
        CONNECTOR_USER,
        "--password",
        "not-the-password",
    )

    assert result.returncode != 0
    assert "FAIL" in result.stdout
