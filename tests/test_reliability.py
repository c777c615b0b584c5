"""Never charge twice, never lose a charge: real concurrency and real crashes against gunicorn.

Several gthread workers on loopback, one SQLite file, the sandbox processor; "charged once" is
read from outside, through `flask --app app ledger --json`, as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import basic_auth, card_charge
from tests.server import PROJECT, serve

SLOW = "10.53"


@pytest.fixture
def server(tmp_path):
    server = serve(
        tmp_path,
        workers=4,
        SANDBOX_SLOW_SECONDS="2",
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


def ledger(server) -> dict[str, dict]:
    """`flask --app app ledger --json`, run as an operator would, against the server's database."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "ledger", "--json"],
        cwd=PROJECT,
        env=server._env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {row["transaction_id"]: row for row in json.loads(result.stdout)}


def test_a_storm_of_50_concurrent_copies_charges_once_and_answers_alike(server):
    transaction_id = "storm-" + uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: charge(server, transaction_id, SLOW), range(50)))

    charge_ids = Counter(answer["charge_id"] for answer in answers)
    assert len(charge_ids) == 1 and None not in charge_ids, charge_ids
    row = ledger(server)[transaction_id]
    assert row["state"] == "done"
    assert row["response_id"] == answers[0]["charge_id"]
    assert row["processor_requests"] == 1
    assert row["processor_charges"] == 1
    print(f"\nstorm: 50 requests, 1 id, {row['processor_charges']} charge")


def test_parallel_storms_with_distinct_ids_charge_exactly_once_per_id(server):
    ids = [f"storms-{i}-{uuid.uuid4().hex[:8]}" for i in range(12)]
    work = [(tid, SLOW if i % 2 else "10.00") for i, tid in enumerate(ids) for _ in range(5)]
    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(lambda item: (item[0], charge(server, *item)), work))

    per_id: dict[str, set] = {}
    for tid, answer in answers:
        per_id.setdefault(tid, set()).add(answer["charge_id"])
    assert all(len(seen) == 1 and None not in seen for seen in per_id.values()), per_id
    rows = ledger(server)
    assert {tid: rows[tid]["processor_charges"] for tid in ids} == {tid: 1 for tid in ids}
    assert {tid: rows[tid]["processor_requests"] for tid in ids} == {tid: 1 for tid in ids}
    assert len({rows[tid]["response_id"] for tid in ids}) == len(ids)
    print(f"\nparallel storms: {len(work)} requests, {len(ids)} ids, {len(ids)} charges")


def test_a_retry_in_flight_does_not_starve_other_calls(server):
    slow_id, quick_id = "starve-slow-" + uuid.uuid4().hex, "starve-quick-" + uuid.uuid4().hex
    finished: list[str] = []

    def slow_copy() -> None:
        charge(server, slow_id, SLOW)
        finished.append("slow")

    copies = [threading.Thread(target=slow_copy) for _ in range(6)]
    for copy in copies:
        copy.start()
    time.sleep(0.3)
    quick = charge(server, quick_id)
    finished.append("quick")
    for copy in copies:
        copy.join()

    assert quick["charge_id"]
    assert finished[0] == "quick"


def _wait_for_booking(server, transaction_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        booked = server.query(
            "select 1 from sandbox_ledger where idempotency_key = :key", {"key": transaction_id}
        )
        if booked:
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox never booked the charge")


def _worker_pids(master_pid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == master_pid:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return pids


@pytest.mark.parametrize("crash", ["whole-server", "workers-only"])
def test_a_crash_mid_charge_is_resumed_by_a_retry_without_a_second_charge(server, crash):
    transaction_id = f"crash-{crash}-" + uuid.uuid4().hex
    original = threading.Thread(
        target=lambda: _swallow(lambda: charge(server, transaction_id, SLOW, timeout=30))
    )
    original.start()
    _wait_for_booking(server, transaction_id)

    if crash == "whole-server":
        server.kill()
        server.start()
    else:
        for pid in _worker_pids(server.process.pid):
            os.kill(pid, signal.SIGKILL)
    original.join()

    retry = charge(server, transaction_id, SLOW)

    row = ledger(server)[transaction_id]
    assert retry["charge_id"] is not None
    assert row["response_id"] == retry["charge_id"]
    assert row["processor_charges"] == 1
    assert row["processor_requests"] == 2
    assert row["state"] == "done"
    print(f"\ncrash ({crash}): survived, 1 charge, {row['processor_requests']} processor requests")


def _swallow(call) -> None:
    try:
        call()
    except requests.RequestException:
        pass
