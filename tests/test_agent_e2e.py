"""Agent assist end to end: gunicorn (Procfile) with two workers, SQLite, real HTTP, and the
emulator's Payments API stand-in in the place of api.twilio.com (TWILIO_API_BASE_URL).

The stand-in plays Twilio and the caller: it answers the app's REST calls, keys the caller's
digits, posts signed status callbacks to PUBLIC_BASE_URL (delivered to loopback, as through a
tunnel) and sends the connector request to the app's /connector on complete.
"""

from __future__ import annotations

import json
import threading

import pytest
import requests

from emulator.agent_console import ConsoleAgent, take_payment
from emulator.pay import ConnectorEndpoint
from emulator.payments_api import AgentCaller, PaymentsApi
from emulator.transport import HttpTransport
from tests.conftest import AUTH_TOKEN, CONNECTOR_PASSWORD, CONNECTOR_USER, signature
from tests.server import Server, free_port

PUBLIC = "https://payline-agent.example.net"
ACCOUNT = "AC" + "c" * 32
BANK_ACCOUNT = "123456789"
AGENT_PASSWORD = "agent-Zt5kP9wQ2mR7xV4c"


def agent_stack(directory, invoices: str):
    """gunicorn with the stand-in as its Twilio REST API; (server, api, stand-in server)."""
    port = free_port()
    api = PaymentsApi(
        account_sid=ACCOUNT,
        auth_token=AUTH_TOKEN,
        transport=HttpTransport(f"http://127.0.0.1:{port}"),
        connectors={
            "Default": ConnectorEndpoint(
                f"http://127.0.0.1:{port}/connector", CONNECTOR_USER, CONNECTOR_PASSWORD
            )
        },
    )
    stand_in = api.serve()
    server = Server(
        directory=directory,
        env={
            "PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_API_BASE_URL": stand_in.url,
            "AGENT_USERNAME": "agent",
            "AGENT_PASSWORD": AGENT_PASSWORD,
            "SANDBOX_SLOW_SECONDS": "0.2",
        },
        workers=2,
        port=port,
    )
    server.run_release()
    server.start()
    csv = directory / "invoices.csv"
    csv.write_text("number,amount,customer,currency\n" + invoices)
    assert server.flask("invoices", "import", str(csv)).returncode == 0
    return server, api, stand_in


@pytest.fixture(scope="module")
def stack(tmp_path_factory, backend):
    server, api, stand_in = agent_stack(
        tmp_path_factory.mktemp("e2e-agent"),
        "3001,42.50,Ada Lovelace,USD\n3002,120.00,Grace Hopper,USD\n3003,15.51,Alan Turing,USD\n"
        "3004,10.00,Edsger Dijkstra,USD\n3005,11.00,Barbara Liskov,USD\n"
        "3006,12.00,Donald Knuth,USD\n3007,13.00,Frances Allen,USD\n",
    )
    yield server, api
    server.stop()
    stand_in.close()


@pytest.fixture
def server(stack):
    return stack[0]


@pytest.fixture
def api(stack):
    return stack[1]


@pytest.fixture
def agent(server):
    return ConsoleAgent(HttpTransport(server.base_url), "agent", AGENT_PASSWORD)


def invoice(server, number: str) -> dict:
    rows = json.loads(server.flask("invoices", "list", "--json").stdout)
    return next(row for row in rows if row["number"] == number)


def keys_for(api, payment_sid: str) -> list[str]:
    return [
        r.form["IdempotencyKey"]
        for r in api.requests
        if payment_sid in r.path or (r.status == 201 and r.form.get("IdempotencyKey"))
    ]


def test_agent_takes_a_card_payment_recapturing_a_mistyped_expiry(server, api, agent):
    call = api.add_call(AgentCaller.keying(expiry=["1399", "1230"]))

    run = take_payment(agent, api, lambda line: None, call_sid=call, invoice="3001")

    captures = [s["capture"] for s in run.steps if s["agent"] == "capture"]
    assert captures == [
        "payment-card-number",
        "expiration-date",
        "expiration-date",
        "security-code",
        "postal-code",
    ]
    error_seen = [
        cb
        for cb in api.sessions[run.payment_sid].callbacks
        if cb.get("ErrorType") == "invalid-date"
    ]
    assert error_seen and error_seen[0]["Capture"] == "expiration-date"
    view = run.view
    assert view["state"] == "completed" and view["result"] == "success"
    code = view["confirmation_code"]
    assert code and code in view["message"]
    assert view["values"]["card_number"] == "xxxxxxxxxxxx1111"
    assert view["values"]["expiration_date"] == "1230"
    assert invoice(server, "3001")["status"] == "paid"
    assert invoice(server, "3001")["confirmation"] == code
    session_keys = [r.form["IdempotencyKey"] for r in api.requests if call in r.path]
    assert len(session_keys) == 7 and len(set(session_keys)) == 7  # create, 5 captures, complete
    page = requests.get(
        f"{server.base_url}/agent/sessions/{run.payment_sid}",
        auth=("agent", AGENT_PASSWORD),
    )
    assert page.status_code == 200


def test_agent_takes_a_bank_payment(server, api, agent):
    call = api.add_call(AgentCaller.keying(bank_account=BANK_ACCOUNT))

    run = take_payment(agent, api, lambda line: None, call_sid=call, invoice="3002", method="bank")

    assert [s["capture"] for s in run.steps if s["agent"] == "capture"] == [
        "bank-routing-number",
        "bank-account-number",
    ]
    assert run.view["state"] == "completed"
    assert run.view["values"]["account_number"] == "*******89"
    assert invoice(server, "3002")["status"] == "paid"
    assert invoice(server, "3002")["confirmation"] == run.view["confirmation_code"]
    create = next(r for r in api.requests if call in r.path and r.status == 201)
    assert create.form["PaymentMethod"] == "ach-debit"
    assert json.loads(create.form["Parameter"])["AVSName"] == "Grace Hopper"


def test_agent_cancels_then_starts_again_on_the_same_call(server, api, agent):
    call = api.add_call()
    first = agent.start(call_sid=call, invoice="3004")
    api.wait_idle(first["payment_sid"])
    agent.act(first["payment_sid"], "capture", {"capture": "payment-card-number"})
    api.wait_idle(first["payment_sid"])

    too_early = agent.act(first["payment_sid"], "complete")
    assert too_early["http_status"] == 502 and "still missing" in too_early["message"]
    busy = agent.start(call_sid=call, invoice="3005")
    assert busy["http_status"] == 502 and "already running on this call" in busy["message"]
    cancelled = agent.act(first["payment_sid"], "cancel")
    assert cancelled["ok"] and "Nothing has been charged" in cancelled["message"]
    assert agent.view(first["payment_sid"])["state"] == "cancelled"
    assert invoice(server, "3004")["status"] == "open" and not invoice(server, "3004")["hold"]

    run = take_payment(agent, api, lambda line: None, call_sid=call, invoice="3004")

    assert run.payment_sid != first["payment_sid"]
    assert run.view["state"] == "completed"
    assert invoice(server, "3004")["status"] == "paid"
    results = [
        row["result"]
        for row in server.query(
            "select result from payments where invoice_number = '3004' order by id"
        )
    ]
    assert results == ["agent-cancelled", "success"]


def test_agent_hits_a_decline_and_the_invoice_stays_payable(server, api, agent):
    call = api.add_call()

    run = take_payment(agent, api, lambda line: None, call_sid=call, invoice="3003")

    assert run.view["state"] == "failed"
    assert run.view["result"] == "payment-connector-error"
    assert run.view["connector_error"] == "card_declined"
    assert "declined" in run.view["message"] and "Nothing has been charged" in run.view["message"]
    found = invoice(server, "3003")
    assert found["status"] == "open" and not found["hold"]
    again = agent.start(call_sid=call, invoice="3003")
    assert again["ok"], again
    agent.act(again["payment_sid"], "cancel")


def test_two_agents_take_two_payments_on_two_calls_at_once(server, api):
    calls = [api.add_call(), api.add_call(AgentCaller.keying(card="5555555555554444"))]
    agents = [ConsoleAgent(HttpTransport(server.base_url), "agent", AGENT_PASSWORD) for _ in calls]
    runs: dict[int, object] = {}

    def work(index: int, number: str) -> None:
        runs[index] = take_payment(
            agents[index], api, lambda line: None, call_sid=calls[index], invoice=number
        )

    threads = [threading.Thread(target=work, args=(i, n)) for i, n in enumerate(["3006", "3007"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    views = [runs[0].view, runs[1].view]  # type: ignore[attr-defined]
    assert [v["state"] for v in views] == ["completed", "completed"]
    assert [v["values"]["card_type"] for v in views] == ["visa", "mastercard"]
    assert views[0]["confirmation_code"] != views[1]["confirmation_code"]
    assert invoice(server, "3006")["status"] == "paid"
    assert invoice(server, "3007")["status"] == "paid"


def test_a_forged_status_callback_is_refused(server, api, agent):
    call = api.add_call()
    started = agent.start(call_sid=call, invoice="3005")
    sid = started["payment_sid"]
    api.wait_idle(sid)
    params = {
        "AccountSid": ACCOUNT,
        "CallSid": call,
        "Sid": sid,
        "Result": "success",
        "PaymentConfirmationCode": "forged",
    }
    url = f"{server.base_url}/agent/payments/status"

    wrong_token = requests.post(
        url,
        data=params,
        headers={"X-Twilio-Signature": signature(f"{PUBLIC}/agent/payments/status", params, "x")},
    )
    wrong_url = requests.post(
        url,
        data=params,
        headers={"X-Twilio-Signature": signature(f"{PUBLIC}/voice/pay/status", params)},
    )
    unsigned = requests.post(url, data=params)

    assert [r.status_code for r in (wrong_token, wrong_url, unsigned)] == [403, 403, 403]
    assert agent.view(sid)["state"] == "active"
    assert invoice(server, "3005")["status"] == "open"
    agent.act(sid, "cancel")


def test_no_card_number_reaches_the_servers_database_or_logs(server):
    text = server.logs()
    for table in ("agent_events", "agent_sessions", "agent_operations", "payments"):
        text += json.dumps(server.query(f"select * from {table}"))
    for secret in ("4111111111111111", "5555555555554444", BANK_ACCOUNT):
        assert secret not in text
