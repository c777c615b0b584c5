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

    def conclude_payment(
        self, payment_id: int, changes: dict[str, Any], *, unless: tuple[str, ...] = ()
    ) -> bool:
        """Set an attempt's outcome (and what goes with it) unless it already has one of
        `unless`: a compare-and-set, so that two copies of one webhook conclude it once."""
        changes = {**changes, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        guards = {f"unless_{i}": value for i, value in enumerate(unless)}
        condition = (
            f" and (outcome is null or outcome not in ({', '.join(':' + k for k in guards)}))"
            if guards
            else ""
        )
        return bool(
            self.db.execute(
                f"update payments set {assignments} where id = :payment_id{condition}",
                {**changes, **guards, "payment_id": payment_id},
            )
        )

    def finish_pending_payment(self, payment_id: int, report: dict[str, Any]) -> bool:
        """Write the processor's answer into a 'pending' attempt, once (compare-and-set)."""
        assignments = ", ".join(f"{name} = :{name}" for name in report)
        return bool(
            self.db.execute(
                f"update payments set {assignments}, updated_at = :updated_at"
                " where id = :payment_id and result = 'pending'",
                {**report, "updated_at": now_iso(), "payment_id": payment_id},
            )
        )

    def payment_by_callback_key(self, callback_key: str) -> dict[str, Any] | None:
        return self.db.one(
            "select * from payments where callback_key = :key", {"key": callback_key}
        )

    def payments_with_outcomes(
        self, outcomes: list[str], payment_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Attempts with one of these outcomes (or that one attempt), oldest first."""
        names = {f"o{i}": value for i, value in enumerate(outcomes)}
        sql = f"select * from payments where outcome in ({', '.join(':' + k for k in names)})"
        if payment_id is not None:
            sql += " and id = :payment_id"
        return self.db.query(sql + " order by id", {**names, "payment_id": payment_id})

    def payments_recording_charge(self, charge_id: str) -> list[dict[str, Any]]:
        """Attempts that already account for this charge id (settled, refund due, refunded)."""
        return self.db.query(
            "select * from payments where confirmation_code = :charge and outcome in"
            " ('settled', 'refund_due', 'refunded') order by id",
            {"charge": charge_id},
        )

    def unresolved_payments_for_invoice(self, number: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from payments where invoice_number = :number and outcome = 'unknown'"
            " order by id",
            {"number": number},
        )

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
