"""ACH debit authorisations given by phone (NACHA TEL): what the caller heard and agreed to."""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection


class AchStatements:
    db: Connection

    def record_ach_authorization(self, authorization: dict[str, Any]) -> None:
        """Keep the agreement once per call, invoice and attempt (a retried webhook is one)."""
        self.db.execute(
            "insert into ach_authorizations (call_sid, invoice_number, attempt, amount,"
            " currency, statement, statement_version, caller, agreed_at) values (:call_sid,"
            " :invoice_number, :attempt, :amount, :currency, :statement, :statement_version,"
            " :caller, :agreed_at) on conflict (call_sid, invoice_number, attempt) do nothing",
            {**authorization, "agreed_at": now_iso()},
        )

    def ach_authorization(
        self, call_sid: str, invoice_number: str, attempt: int
    ) -> dict[str, Any] | None:
        return self.db.one(
            "select * from ach_authorizations where call_sid = :call"
            " and invoice_number = :invoice and attempt = :attempt",
            {"call": call_sid, "invoice": invoice_number, "attempt": attempt},
        )

    def link_ach_authorization(
        self, call_sid: str, invoice_number: str, attempt: int, payment_id: int
    ) -> None:
        self.db.execute(
            "update ach_authorizations set payment_id = :payment_id where call_sid = :call"
            " and invoice_number = :invoice and attempt = :attempt and payment_id is null",
            {
                "payment_id": payment_id,
                "call": call_sid,
                "invoice": invoice_number,
                "attempt": attempt,
            },
        )

    def ach_authorizations_for_payment(self, payment_id: int) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from ach_authorizations where payment_id = :id", {"id": payment_id}
        )
