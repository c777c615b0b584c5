"""Refunds of a payment's charge (one row per idempotency key) and operators' notes."""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection


class RefundStatements:
    db: Connection

    def begin_refund(self, refund: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert a 'pending' refund unless its key exists; (the row, whether it is new)."""
        stamp = now_iso()
        created = self.db.execute(
            "insert into refunds (payment_id, idempotency_key, amount, currency, reason,"
            " operator, status, created_at, updated_at) values (:payment_id, :idempotency_key,"
            " :amount, :currency, :reason, :operator, 'pending', :stamp, :stamp)"
            " on conflict (idempotency_key) do nothing",
            {**refund, "stamp": stamp},
        )
        row = self.refund_by_key(refund["idempotency_key"])
        assert row is not None
        return row, bool(created)

    def refund_by_key(self, key: str) -> dict[str, Any] | None:
        return self.db.one("select * from refunds where idempotency_key = :key", {"key": key})

    def finish_refund(self, refund_id: int, changes: dict[str, Any]) -> bool:
        """Conclude a refund once: only a row not yet 'done' changes."""
        changes = {**changes, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        return bool(
            self.db.execute(
                f"update refunds set {assignments} where id = :refund_id and status <> 'done'",
                {**changes, "refund_id": refund_id},
            )
        )

    def refunds_for_payment(self, payment_id: int) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from refunds where payment_id = :id order by id", {"id": payment_id}
        )

    def add_payment_note(self, payment_id: int, text: str, operator: str) -> None:
        self.db.execute(
            "insert into payment_notes (payment_id, text, operator, created_at)"
            " values (:payment_id, :text, :operator, :stamp)",
            {"payment_id": payment_id, "text": text, "operator": operator, "stamp": now_iso()},
        )

    def payment_notes(self, payment_id: int) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from payment_notes where payment_id = :id order by id", {"id": payment_id}
        )
