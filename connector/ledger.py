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
import threading
import time
import uuid
from collections.abc import Callable
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
    ) -> ClaimOutcome:
        """Claim, take over an expired lease (timed by the database's clock), or report."""
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
) -> ConnectorResponse:
    """Run `decide` at most once at a time per transaction_id and answer every copy alike."""
    owner = uuid.uuid4().hex
    deadline = clock() + settings.wait_seconds
    poll = settings.poll_seconds
    while True:
        claim = store.claim_transaction(
            envelope.transaction_id, envelope.method, fingerprint, owner, settings.lease_seconds
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
            return _decide_as_owner(envelope, owner, decide, store, open_store, settings, clock)
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
    open_store: Callable[[], LedgerStore],
    settings: LedgerSettings,
    clock: Callable[[], float],
) -> ConnectorResponse:
    with _LeaseKeeper(envelope.transaction_id, owner, open_store, settings, clock):
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


class _LeaseKeeper:
    """Renews the claim's lease from a thread of its own while the owner is busy.

    The thread opens its own store: a SQLite connection is not shared between threads.
    """

    def __init__(self, transaction_id, owner, open_store, settings: LedgerSettings, clock):
        self.transaction_id = transaction_id
        self.owner = owner
        self.open_store = open_store
        self.settings = settings
        self.clock = clock
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        interval = self.settings.lease_seconds / 3
        store = None
        try:
            while not self.stop.wait(interval):
                try:
                    store = store or self.open_store()
                    lease = self.settings.lease_seconds
                    if not store.renew_claim(self.transaction_id, self.owner, lease):
                        return
                except Exception:
                    log.exception("could not renew the lease of %s", self.transaction_id)
        finally:
            close = getattr(store, "close", None)
            if close:
                close()
