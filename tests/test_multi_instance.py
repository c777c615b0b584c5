"""Two PayLine instances (two gunicorn servers, several workers each) sharing one PostgreSQL.

The reliability suite's storm and kill -9 tests, with the copies of a request spread over both
instances, and the invoice hold: two calls for one invoice on different instances never both
reach <Pay>. "Charged once" is read from outside, with `flask --app app ledger --json`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import pytest
import requests

from tests.conftest import PUBLIC_BASE_URL, basic_auth, card_charge, signature
from tests.server import Server

SLOW = "10.53"


@pytest.fixture
def instances(tmp_path, postgres_server):
    url = postgres_server.create_database("multi_" + uuid.uuid4().hex[:8])
    env = {
        "SANDBOX_SLOW_SECONDS": "2",
        "IDEMPOTENCY_LEASE_SECONDS": "2",
        "IDEMPOTENCY_WAIT_SECONDS": "30",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    servers = []
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        servers.append(Server(directory=directory, env=env, workers=3, database_url=url))
    releases = [threading.Thread(target=s.run_release) for s in servers]  # both at once
    for release in releases:
        release.start()
    for release in releases:
        release.join()
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()
    postgres_server.drop_database(url.rsplit("/", 1)[1])


def charge(server: Server, transaction_id: str, amount: str = "10.00", timeout: float = 60):
    response = requests.post(
        server.base_url + "/connector",
        json=card_charge(transaction_id, amount=amount),
        headers=basic_auth(),
        timeout=timeout,
    )
    assert response.status_code == 200, response.text
    return response.json()


def ledger(server: Server) -> dict[str, dict]:
    result = server.flask("ledger", "--json")
    assert result.returncode == 0, result.stderr
    return {row["transaction_id"]: row for row in json.loads(result.stdout)}


def test_a_storm_spread_over_two_instances_charges_once_and_answers_alike(instances):
    transaction_id = "storm2-" + uuid.uuid4().hex
    targets = [server for server, _ in zip(cycle(instances), range(40), strict=False)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda server: charge(server, transaction_id, SLOW), targets))

    charge_ids = Counter(answer["charge_id"] for answer in answers)
    assert len(charge_ids) == 1 and None not in charge_ids, charge_ids
    row = ledger(instances[1])[transaction_id]
    assert row["state"] == "done" and row["response_id"] == answers[0]["charge_id"]
    assert (row["processor_requests"], row["processor_charges"]) == (1, 1)


def test_parallel_storms_over_two_instances_charge_exactly_once_per_id(instances):
    ids = [f"storms2-{i}-{uuid.uuid4().hex[:8]}" for i in range(10)]
    work = [(tid, SLOW if i % 2 else "10.00") for i, tid in enumerate(ids) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(
            pool.map(
                lambda item: (item[1][0], charge(instances[item[0] % 2], *item[1])),
                enumerate(work),
            )
        )

    per_id: dict[str, set] = {}
    for tid, answer in answers:
        per_id.setdefault(tid, set()).add(answer["charge_id"])
    assert all(len(seen) == 1 and None not in seen for seen in per_id.values()), per_id
    rows = ledger(instances[0])
    assert {tid: rows[tid]["processor_charges"] for tid in ids} == {tid: 1 for tid in ids}
    assert {tid: rows[tid]["processor_requests"] for tid in ids} == {tid: 1 for tid in ids}


def _wait_for_booking(server: Server, transaction_id: str, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = "select 1 from sandbox_ledger where idempotency_key = :key"
        if server.query(query, {"key": transaction_id}):
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox never booked the charge")


def test_an_instance_killed_mid_charge_is_resumed_by_a_retry_on_the_other(instances):
    first, second = instances
    transaction_id = "crash2-" + uuid.uuid4().hex
    original = threading.Thread(target=_swallow, args=(first, transaction_id))
    original.start()
    _wait_for_booking(first, transaction_id)

    first.kill()  # kill -9, master and workers: the claim's lease is never renewed again
    original.join()
    retry = charge(second, transaction_id, SLOW)

    row = ledger(second)[transaction_id]
    assert retry["charge_id"] is not None and row["response_id"] == retry["charge_id"]
    assert row["state"] == "done"
    assert (row["processor_requests"], row["processor_charges"]) == (2, 1)
    assert row["claims"] == 2


def _swallow(server: Server, transaction_id: str) -> None:
    try:
        charge(server, transaction_id, SLOW, timeout=30)
    except requests.RequestException:
        pass


def test_two_calls_for_one_invoice_on_different_instances_never_both_reach_pay(instances):
    numbers = [str(5000 + i) for i in range(12)]
    for number in numbers:
        assert instances[0].flask("invoices", "add", number, "42.50").returncode == 0

    def choose_card(server: Server, number: str, call_sid: str) -> bool:
        url = f"{PUBLIC_BASE_URL}/voice/method?invoice={number}&attempt=1&tries=1"
        params = {"CallSid": call_sid, "Digits": "1"}
        response = requests.post(
            f"{server.base_url}/voice/method?invoice={number}&attempt=1&tries=1",
            data=params,
            headers={"X-Twilio-Signature": signature(url, params)},
            timeout=30,
        )
        assert response.status_code == 200
        return b"<Pay" in response.content

    with ThreadPoolExecutor(max_workers=8) as pool:
        races = {
            number: [
                pool.submit(choose_card, server, number, "CA" + uuid.uuid4().hex)
                for server in instances
            ]
            for number in numbers
        }
        reached_pay = {
            number: sum(f.result() for f in futures) for number, futures in races.items()
        }

    assert reached_pay == {number: 1 for number in numbers}
