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
