"""PROCESSOR=authorize_net end to end: gunicorn (Procfile) in front of a fake Authorize.Net
served over real HTTP on loopback (tests/fakegateway.py), with its duplicate window and its
unsettled list. "Charged once" is read from the gateway's own books, as an operator would read
the Merchant Interface: one auth-capture per transaction_id.

The fake answers an amount ending in .53 after 2 s while the adapter waits 1 s, so every slow
charge's first answer is lost: the adapter must find it (unsettled list) or resend it
byte-identical (duplicate 11), never charge it again.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import (
    CONNECTOR_PASSWORD,
    CONNECTOR_USER,
    TEST_CVV,
    VISA,
    basic_auth,
    card_charge,
)
from tests.fakegateway import KEY, LOGIN, FakeAuthorizeNet
from tests.server import serve
from tests.test_reliability import _swallow, _worker_pids

SLOW = "10.53"


@pytest.fixture(scope="module")
def gateway():
    fake = FakeAuthorizeNet(slow_seconds=2.0).serve()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway, backend):
    server = serve(
        tmp_path_factory.mktemp("authorize-net-e2e"),
        workers=4,
        PROCESSOR="authorize_net",
        AUTHORIZE_NET_API_LOGIN_ID=LOGIN,
        AUTHORIZE_NET_TRANSACTION_KEY=KEY,
        AUTHORIZE_NET_API_URL=gateway.url,
        AUTHORIZE_NET_TIMEOUT_SECONDS="1",
        IDEMPOTENCY_LEASE_SECONDS="2",
        IDEMPOTENCY_WAIT_SECONDS="30",
    )
    yield server
    server.stop()


def charge(server, transaction_id: str, amount: str = "10.00", timeout: float = 60) -> dict:
    response = requests.post(
        server.base_url + "/connector",
        json=card_charge(transaction_id, amount=amount),
        headers=basic_auth(),
        timeout=timeout,
    )
    assert response.status_code == 200, response.text
    return response.json()


def gateway_charges(gateway, charge_ids: set[str]) -> Counter[str]:
    """Auth-captures at the gateway per invoice number, for the charges PayLine answered."""
    return Counter(c["invoiceNumber"] for c in gateway.charges() if c["transId"] in charge_ids)


def _wait_for_gateway_booking(gateway, before: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(gateway.charges()) > before:
            return
        time.sleep(0.05)
    raise AssertionError("the gateway never booked the charge")


def test_a_storm_of_50_concurrent_copies_is_one_gateway_charge(server, gateway):
    transaction_id = "anet-storm-" + uuid.uuid4().hex
    before, asked = len(gateway.charges()), Counter(gateway.requests)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: charge(server, transaction_id, SLOW), range(50)))

    charge_ids = Counter(answer["charge_id"] for answer in answers)
    assert len(charge_ids) == 1 and None not in charge_ids, charge_ids
    assert len(gateway.charges()) == before + 1
    assert list(gateway_charges(gateway, set(charge_ids)).values()) == [1]
    calls = Counter(gateway.requests) - asked
    # The first answer is lost (2 s > the adapter's 1 s): found in the unsettled list, not resent.
    assert calls["createTransactionRequest"] == 1, calls
    print(f"\nauthorize_net storm: 50 requests, 1 id, 1 gateway charge, calls {dict(calls)}")


def test_parallel_storms_with_distinct_ids_are_one_gateway_charge_each(server, gateway):
    ids = [f"anet-storms-{i}-{uuid.uuid4().hex[:8]}" for i in range(8)]
    work = [(tid, SLOW if i % 2 else "10.00") for i, tid in enumerate(ids) for _ in range(4)]
    before = len(gateway.charges())
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda item: (item[0], charge(server, *item)), work))

    per_id: dict[str, set] = {}
    for tid, answer in answers:
        per_id.setdefault(tid, set()).add(answer["charge_id"])
    assert all(len(seen) == 1 and None not in seen for seen in per_id.values()), per_id
    charge_ids = {next(iter(seen)) for seen in per_id.values()}
    assert len(charge_ids) == len(ids)
    assert len(gateway.charges()) == before + len(ids)
    assert set(gateway_charges(gateway, charge_ids).values()) == {1}


@pytest.mark.parametrize("crash", ["whole-server", "workers-only"])
def test_a_crash_mid_charge_is_resumed_without_a_second_gateway_charge(server, gateway, crash):
    transaction_id = f"anet-crash-{crash}-" + uuid.uuid4().hex
    before, asked = len(gateway.charges()), Counter(gateway.requests)
    original = threading.Thread(
        target=lambda: _swallow(lambda: charge(server, transaction_id, SLOW, timeout=30))
    )
    original.start()
    _wait_for_gateway_booking(gateway, before)

    if crash == "whole-server":
        server.kill()
        server.start()
    else:
        for pid in _worker_pids(server.process.pid):
            os.kill(pid, signal.SIGKILL)
    original.join()

    retry = charge(server, transaction_id, SLOW)

    assert retry["charge_id"] is not None and retry["error_code"] is None
    assert len(gateway.charges()) == before + 1
    assert gateway_charges(gateway, {retry["charge_id"]}).total() == 1
    calls = Counter(gateway.requests) - asked
    print(f"\nauthorize_net crash ({crash}): survived, 1 gateway charge, calls {dict(calls)}")


def test_check_connector_passes_against_payline_on_authorize_net(server):
    result = server.flask(
        "check-connector",
        server.base_url + "/connector",
        "--username",
        CONNECTOR_USER,
        "--password",
        CONNECTOR_PASSWORD,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_adapters_attempts_are_kept_in_the_database_without_card_data(server):
    rows = server.query("select * from authorize_net_attempts")

    assert rows, "the adapter persisted no attempt"
    assert all(row["invoice_number"] and row["template"] for row in rows if row["kind"] == "charge")
    kept = json.dumps(rows)
    assert VISA not in kept and f'"{TEST_CVV}"' not in kept
