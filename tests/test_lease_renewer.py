"""One lease-renewal thread per process, however many claims are in flight."""

from __future__ import annotations

import threading
import time

from connector.ledger import LeaseRenewer


class RecordingStore:
    def __init__(self, renewed: list[tuple[str, str]], keep: bool = True):
        self.renewed = renewed
        self.keep = keep

    def renew_claim(self, transaction_id: str, owner: str, lease_seconds: float) -> bool:
        self.renewed.append((transaction_id, owner))
        return self.keep

    def close(self) -> None:
        pass


def renewer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lease-renewer"]


def test_twenty_claims_in_flight_are_renewed_by_one_thread():
    renewed: list[tuple[str, str]] = []
    leases = LeaseRenewer(lambda: RecordingStore(renewed))
    before = len(renewer_threads())
    release = threading.Event()
    holding = threading.Barrier(21)

    def work(i: int) -> None:
        with leases.hold(f"tx-{i}", f"owner-{i}", lease_seconds=0.3):
            holding.wait()
            release.wait()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for worker in workers:
        worker.start()
    holding.wait()
    deadline = time.monotonic() + 10
    while len({tid for tid, _ in renewed}) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    threads_while_busy = len(renewer_threads()) - before
    release.set()
    for worker in workers:
        worker.join()

    assert threads_while_busy == 1
    assert {tid for tid, _ in renewed} == {f"tx-{i}" for i in range(20)}
    assert leases.held() == 0


def test_a_lease_taken_over_elsewhere_is_no_longer_renewed():
    renewed: list[tuple[str, str]] = []
    leases = LeaseRenewer(lambda: RecordingStore(renewed, keep=False))

    with leases.hold("tx-lost", "me", lease_seconds=0.15):
        deadline = time.monotonic() + 5
        while not renewed and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)

    assert renewed == [("tx-lost", "me")]
