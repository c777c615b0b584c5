"""Payment attempts (one row per <Pay> action callback) and the call's progress events."""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection


class PaymentStatements:
    db: Connection

    def record_pay_result(self, record: dict[str, Any]) -> int | None:
        """Insert one action callback; a repeated callback (same key) is ignored.

        Returns the new payment's id, or None when the callback was already recorded.
        """
        record = {**record, "received_at": now_iso()}
        row = self.db.one(
            f"insert into payments ({', '.join(record)})"
            f" values ({', '.join(':' + k for k in record)})"
            " on conflict (callback_key) do nothing returning id",
            record,
        )
        return row["id"] if row else None

    def update_payment(self, payment_id: int, changes: dict[str, Any]) -> None:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        self.db.execute(
            f"update payments set {assignments} where id = :payment_id",
            {**changes, "payment_id": payment_id},
        )

    def payment(self, payment_id: int) -> dict[str, Any] | None:
        return self.db.one("select * from payments where id = :id", {"id": payment_id})

    def record_pay_event(self, event: dict[str, Any]) -> None:
        event = {**event, "received_at": now_iso()}
        self.db.execute(
            f"insert into pay_events ({', '.join(event)})"
            f" values ({', '.join(':' + k for k in event)})",
            event,
        )

    def recent_payments(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from payments order by id desc limit :limit", {"limit": limit}
        )

    def payments_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from payments where call_sid = :sid order by id", {"sid": call_sid}
        )

    def pay_events_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from pay_events where call_sid = :sid order by id", {"sid": call_sid}
        )
