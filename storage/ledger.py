"""The connector's idempotency ledger: one row per transaction_id, claimed once.

The compare-and-set statements here are what stand between a storm of Twilio retries and a
second charge; they exist once, for both backends. Leases are timed by the database's clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from connector.ledger import ClaimOutcome
from storage.clock import now_iso
from storage.db import Connection

SUMMARY_COLUMNS = ("error_code", "payment_method", "amount", "currency", "card_brand", "last4")


class LedgerStatements:
    db: Connection

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
        """Atomically claim the id, take over an expired claim, or report what holds it.

        `processor_calls` is counted with the claim (the owner is about to ask the processor):
        one durable write instead of two. Reads first, so that copies polling for an in-flight
        original do not compete for the write lock with the owner's lease renewals; every write
        is a single statement whose effect (`rowcount`) says who won.
        """
        row = self._transaction(transaction_id)
        if row is None:
            stamp = now_iso()
            inserted = self.db.execute(
                "insert into connector_transactions (transaction_id, method, fingerprint,"
                " state, owner, lease_expires_at, claims, processor_calls, invoice_number,"
                " call_sid, created_at, updated_at) values (:id, :method, :fingerprint,"
                f" 'processing', :owner, {self.db.now} + :lease, 1, :calls, :invoice, :call,"
                " :stamp, :stamp)"
                " on conflict (transaction_id) do nothing",
                {
                    "id": transaction_id,
                    "method": method,
                    "fingerprint": fingerprint,
                    "owner": owner,
                    "lease": lease_seconds,
                    "calls": processor_calls,
                    "invoice": (subject or {}).get("invoice_number"),
                    "call": (subject or {}).get("call_sid"),
                    "stamp": stamp,
                },
            )
            if inserted:
                return ClaimOutcome("claimed")
            row = self._transaction(transaction_id)
            assert row is not None
        if (row["method"], row["fingerprint"]) != (method, fingerprint):
            return ClaimOutcome("mismatch")
        if row["state"] == "done":
            return ClaimOutcome("done", json.loads(row["response"]))
        if row["leased"]:
            return ClaimOutcome("busy")
        taken_over = self.db.execute(
            f"update connector_transactions set owner = :owner,"
            f" lease_expires_at = {self.db.now} + :lease, claims = claims + 1,"
            " processor_calls = processor_calls + :calls, updated_at = :stamp"
            " where transaction_id = :id and state = 'processing'"
            f" and lease_expires_at < {self.db.now}",
            {
                "owner": owner,
                "lease": lease_seconds,
                "calls": processor_calls,
                "stamp": now_iso(),
                "id": transaction_id,
            },
        )
        return ClaimOutcome("claimed" if taken_over else "busy")

    def _transaction(self, transaction_id: str) -> dict[str, Any] | None:
        return self.db.one(
            "select method, fingerprint, state, response,"
            f" (lease_expires_at >= {self.db.now}) as leased"
            " from connector_transactions where transaction_id = :id",
            {"id": transaction_id},
        )

    def renew_claim(self, transaction_id: str, owner: str, lease_seconds: float) -> bool:
        return bool(
            self.db.execute(
                f"update connector_transactions set lease_expires_at = {self.db.now} + :lease"
                " where transaction_id = :id and owner = :owner and state = 'processing'",
                {"lease": lease_seconds, "id": transaction_id, "owner": owner},
            )
        )

    def release_claim(self, transaction_id: str, owner: str) -> None:
        """Let the next copy take over at once: the outcome is unknown, not final."""
        self.db.execute(
            "update connector_transactions set lease_expires_at = 0, updated_at = :stamp"
            " where transaction_id = :id and owner = :owner and state = 'processing'",
            {"stamp": now_iso(), "id": transaction_id, "owner": owner},
        )

    def finish_transaction(
        self, transaction_id: str, owner: str, response: dict[str, Any], summary: dict[str, Any]
    ) -> bool:
        id_value = response.get("charge_id", response.get("token_id"))
        columns = {k: summary.get(k) for k in SUMMARY_COLUMNS}
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        return bool(
            self.db.execute(
                f"update connector_transactions set state = 'done', response = :response,"
                f" response_id = :response_id, updated_at = :now, {assignments}"
                " where transaction_id = :transaction_id and owner = :owner"
                " and state = 'processing'",
                {
                    **columns,
                    "response": json.dumps(response, sort_keys=True),
                    "response_id": id_value,
                    "now": now_iso(),
                    "transaction_id": transaction_id,
                    "owner": owner,
                },
            )
        )

    def note_processor_call(self, transaction_id: str) -> None:
        self.db.execute(
            "update connector_transactions set processor_calls = processor_calls + 1"
            " where transaction_id = :id",
            {"id": transaction_id},
        )

    def connector_transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """One ledger row, its stored answer decoded (`response`), or None."""
        row = self.db.one(
            "select * from connector_transactions where transaction_id = :id",
            {"id": transaction_id},
        )
        if row and row.get("response"):
            row["response"] = json.loads(row["response"])
        return row

    def ledger_report(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """One row per connector transaction, with what the processor says it did for the key.

        `limit`: only the newest that many (in the same order), read through the created_at
        index: what a page that must not read the whole ledger per request asks for.

        For the sandbox, its own counts (every request it received, every charge or token it
        created); for other processors, the calls PayLine made and whether an id came back.
        """
        rows = self.db.query(
            "select t.transaction_id, t.method, t.state, t.response_id, t.error_code,"
            " t.payment_method, t.amount, t.currency, t.card_brand, t.last4, t.claims,"
            " t.created_at, t.updated_at,"
            " coalesce(r.requests, t.processor_calls) as processor_requests,"
            " case when l.idempotency_key is not null"
            "   then (case when l.object_id is not null then 1 else 0 end)"
            "   else (case when t.response_id is not null then 1 else 0 end) end"
            " as processor_charges"
            " from connector_transactions t"
            " left join sandbox_requests r on r.idempotency_key = t.transaction_id"
            " left join sandbox_ledger l on l.idempotency_key = t.transaction_id"
            + (
                " where t.transaction_id in (select transaction_id from connector_transactions"
                " order by created_at desc, transaction_id desc limit :limit)"
                if limit is not None
                else ""
            )
            + " order by t.created_at, t.transaction_id",
            {"limit": limit} if limit is not None else {},
        )
        for row in rows:
            row["processor_charges"] = int(row["processor_charges"])
            yield row
