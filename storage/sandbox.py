"""The sandbox processor's own tables: every request it received, what it booked per key.

They belong to the sandbox (their own migration branch), not to PayLine's core schema: the
sandbox is one processor among others.
"""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection


class SandboxStatements:
    db: Connection

    def sandbox_note_request(self, key: str) -> None:
        self.db.execute(
            "insert into sandbox_requests (idempotency_key, requests) values (:key, 1)"
            " on conflict (idempotency_key) do update"
            " set requests = sandbox_requests.requests + 1",
            {"key": key},
        )

    def sandbox_book(self, key: str, entry: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert the entry unless the key is booked; (the booked entry, whether it is new)."""
        created = self.db.execute(
            "insert into sandbox_ledger (idempotency_key, kind, object_id, error_code,"
            " error_message, amount, currency, created_at)"
            " values (:key, :kind, :object_id, :error_code, :error_message, :amount, :currency,"
            " :created_at) on conflict (idempotency_key) do nothing",
            {**entry, "key": key, "created_at": now_iso()},
        )
        booked = self.db.one(
            "select * from sandbox_ledger where idempotency_key = :key", {"key": key}
        )
        assert booked is not None
        return booked, bool(created)

    def sandbox_entry(self, key: str) -> dict[str, Any] | None:
        return self.db.one(
            "select * from sandbox_ledger where idempotency_key = :key", {"key": key}
        )

    def sandbox_requests_seen(self, key: str) -> int:
        row = self.db.one(
            "select requests from sandbox_requests where idempotency_key = :key", {"key": key}
        )
        return int(row["requests"]) if row else 0

    def sandbox_object(self, object_id: str, kind: str) -> dict[str, Any] | None:
        """The charge or token the sandbox created with this id (its own ledger entry)."""
        return self.db.one(
            "select * from sandbox_ledger where object_id = :id and kind = :kind",
            {"id": object_id, "kind": kind},
        )

    def sandbox_refund(self, key: str) -> dict[str, Any] | None:
        return self.db.one(
            "select * from sandbox_refunds where idempotency_key = :key", {"key": key}
        )

    def sandbox_book_refund(
        self, key: str, entry: dict[str, Any], minor: int, limit_minor: int
    ) -> tuple[dict[str, Any], bool]:
        """Book a refund (or void) of `minor` units against its charge, once per key, never
        past `limit_minor` in all: a compare-and-set on the charge's refunded total."""
        with self.db.atomic():
            booked = self.sandbox_refund(key)
            if booked is not None:
                return booked, False
            if entry["refund_id"] is not None:
                taken = self.db.execute(
                    "update sandbox_ledger set refunded_minor = coalesce(refunded_minor, 0)"
                    " + :minor where object_id = :charge and kind = 'charge'"
                    " and coalesce(refunded_minor, 0) + :minor <= :limit",
                    {"minor": minor, "charge": entry["charge_id"], "limit": limit_minor},
                )
                if not taken:
                    entry = {
                        **entry,
                        "refund_id": None,
                        "error_code": "invalid_amount",
                        "error_message": "more than what is left of the charge",
                    }
            self.db.execute(
                "insert into sandbox_refunds (idempotency_key, kind, charge_id, refund_id,"
                " amount, error_code, error_message, created_at) values (:key, :kind,"
                " :charge_id, :refund_id, :amount, :error_code, :error_message, :created_at)",
                {**entry, "key": key, "created_at": now_iso()},
            )
            booked = self.sandbox_refund(key)
            assert booked is not None
            return booked, True

    def sandbox_refunded_minor(self, charge_id: str) -> int:
        row = self.sandbox_object(charge_id, "charge")
        return int(row.get("refunded_minor") or 0) if row else 0
