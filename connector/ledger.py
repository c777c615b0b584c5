"""Exactly-once answers per transaction_id, with the guarantees kept by the database.

Twilio gives up on a connector request after 10 s and sends it again, up to 5 times, with the
same `transaction_id`; several workers (or instances) may serve those copies at once. The
ledger makes that safe:

- the first request *claims* the id with a unique key and an atomic insert; the claim carries a
  lease that its owner renews while it waits for the processor;
- a copy that finds the id finished replays the stored answer; one that finds it in flight
  polls until it is finished (bounded by `wait_seconds`, well past Twilio's 10 s);
- a copy that finds an expired lease (its owner died: kill -9, OOM, a deploy) takes the claim
  over with a compare-and-set and asks the processor again with the same idempotency key, which
  the processor honours, so the charge is not repeated;
- a copy whose details differ (HMAC fingerprint) is refused and nothing is charged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from connector.protocol import ConnectorResponse, Envelope, ErrorCode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimOutcome:
    kind: Literal["claimed", "done", "busy", "mismatch"]
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """What deciding a transaction produced; `final` answers are stored and replayed."""

    response: ConnectorResponse
    final: bool = True
    summary: dict[str, Any] = field(default_factory=dict)


class LedgerStore(Protocol):
    def claim_transaction(
        self,
        transaction_id: str,
        method: str,
        fingerprint: str,
        owner: str,
        lease_seconds: float,
        processor_calls: int = 0,
        subject: Mapping[str, str | None] | None = None,
    ) -> ClaimOutcome:
        """Claim, take over an expired lease (timed by the database's clock), or report;
        `processor_calls` is counted with a successful claim (one write, not two), and
        `subject` (the invoice and call the transaction is for) is written with it."""
        ...

    def renew_claim(self, transaction_id: str, owner: str, lease_seconds: float) -> bool: ...

    def finish_transaction(
        self, transaction_id: str, owner: str, response: dict[str, Any], summary: dict[str, Any]
    ) -> bool: ...

    def release_claim(self, transaction_id: str, owner: str) -> None: ...


@dataclass(frozen=True)
class LedgerSettings:
    wait_seconds: float = 50.0
    lease_seconds: float = 15.0
    poll_seconds: float = 0.05


def answer_once(
    envelope: Envelope,
    fingerprint: str,
    decide: Callable[[], Outcome],
    *,
    store: LedgerStore,
    open_store: Callable[[], LedgerStore],
    settings: LedgerSettings,
    clock: Callable[[], float] = time.time,
    leases: LeaseRenewer | None = None,
    calls_processor: bool = False,
    subject: Mapping[str, str | None] | None = None,
) -> ConnectorResponse:
    """Run `decide` at most once at a time per transaction_id and answer every copy alike.

    `calls_processor`: `decide` asks the processor once (more only on an unknown outcome), so
    the claim counts that call in the same write. `leases`: the process's lease renewer.
    """
    owner = uuid.uuid4().hex
    deadline = clock() + settings.wait_seconds
    poll = settings.poll_seconds
    leases = leases or LeaseRenewer(open_store)
    while True:
        claim = store.claim_transaction(
            envelope.transaction_id,
            envelope.method,
            fingerprint,
            owner,
            settings.lease_seconds,
            processor_calls=1 if calls_processor else 0,
            subject=subject,
        )
        if claim.kind == "mismatch":
            return ConnectorResponse.error(
                envelope.method,
                ErrorCode.IDEMPOTENCY_MISMATCH,
                "this transaction_id was already used with different payment details",
            )
        if claim.kind == "done":
            return ConnectorResponse.from_json(envelope.method, claim.response or {})
        if claim.kind == "claimed":
            return _decide_as_owner(envelope, owner, decide, store, leases, settings)
        if clock() >= deadline:
            log.warning(
                "transaction %s still in flight after %.0fs",
                envelope.transaction_id,
                settings.wait_seconds,
            )
            return ConnectorResponse.error(
                envelope.method,
                ErrorCode.PROCESSING_ERROR,
                "the transaction is still being processed; retry with the same transaction_id",
            )
        time.sleep(poll)
        poll = min(poll * 1.5, 0.5)


def _decide_as_owner(
    envelope: Envelope,
    owner: str,
    decide: Callable[[], Outcome],
    store: LedgerStore,
    leases: LeaseRenewer,
    settings: LedgerSettings,
) -> ConnectorResponse:
    with leases.hold(envelope.transaction_id, owner, settings.lease_seconds):
        try:
            outcome = decide()
        except BaseException:
            store.release_claim(envelope.transaction_id, owner)
            raise
    if not outcome.final:
        store.release_claim(envelope.transaction_id, owner)
        return outcome.response
    stored = store.finish_transaction(
        envelope.transaction_id, owner, outcome.response.to_json(), outcome.summary
    )
    if not stored:
        # Our lease lapsed and another copy took over; the processor's idempotency made its
        # answer equal to ours, but the stored one is the one every later copy will see.
        log.warning("transaction %s: lease lost before finishing", envelope.transaction_id)
    return outcome.response


@dataclass
class _Lease:
    transaction_id: str
    owner: str
    lease_seconds: float
    renew_at: float


class LeaseRenewer:
    """One thread per process renews the lease of every claim this process owns.

    It used to be a thread started and joined per charge; now a claim registers here for as
    long as its owner works on it, and a single thread renews each one a third of its lease
    after the last renewal (the thread ends after a minute without claims and starts again with
    the next one). It opens a store of its own per round: a SQLite connection is not shared
    between threads, and a PostgreSQL connection goes back to the pool between rounds.
    """

    IDLE_SECONDS = 60.0

    def __init__(
        self,
        open_store: Callable[[], LedgerStore],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.open_store = open_store
        self.clock = clock
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @contextmanager
    def hold(self, transaction_id: str, owner: str, lease_seconds: float) -> Iterator[None]:
        """Keep this claim's lease alive while the block runs."""
        key = (transaction_id, owner)
        lease = _Lease(transaction_id, owner, lease_seconds, self.clock() + lease_seconds / 3)
        with self._changed:
            self._leases[key] = lease
            self._ensure_thread()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._leases.pop(key, None)

    def held(self) -> int:
        with self._changed:
            return len(self._leases)

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's thread does not exist here
            self._pid, self._thread = os.getpid(), None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
            self._thread.start()

    def _due(self) -> tuple[list[_Lease], float | None]:
        now = self.clock()
        due = [lease for lease in self._leases.values() if lease.renew_at <= now]
        pending = [lease.renew_at for lease in self._leases.values() if lease.renew_at > now]
        wait = (min(pending) - now) if pending else None
        return due, wait

    def _run(self) -> None:
        idle_since = self.clock()
        while True:
            with self._changed:
                due, wait = self._due()
                if not due:
                    if not self._leases and self.clock() - idle_since >= self.IDLE_SECONDS:
                        self._thread = None
                        return
                    self._changed.wait(wait if wait is not None else self.IDLE_SECONDS)
                    if self._leases:
                        idle_since = self.clock()
                    continue
            self._renew(due)
            idle_since = self.clock()

    def _renew(self, due: list[_Lease]) -> None:
        store = None
        try:
            store = self.open_store()
            for lease in due:
                with self._changed:
                    if (lease.transaction_id, lease.owner) not in self._leases:
                        continue
                try:
                    kept = store.renew_claim(lease.transaction_id, lease.owner, lease.lease_seconds)
                except Exception:
                    log.exception("could not renew the lease of %s", lease.transaction_id)
                    kept = True  # try again at the next round
                with self._changed:
                    if kept:
                        lease.renew_at = self.clock() + lease.lease_seconds / 3
                    else:  # another copy took it over: nothing left to renew
                        self._leases.pop((lease.transaction_id, lease.owner), None)
        except Exception:
            log.exception("could not open a store to renew leases")
            with self._changed:
                for lease in due:
                    lease.renew_at = self.clock() + 1.0
        finally:
            close = getattr(store, "close", None)
            if close:
                close()
