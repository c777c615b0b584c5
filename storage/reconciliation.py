"""The connector ledger read as the other book: which charges it booked for a call and invoice.

The invoice and call of a connector transaction are written with its claim (storage.ledger),
before the processor is asked, so that a charge in flight is known by invoice too, not only once
finished; `note_transaction_subject` sets them on a row made otherwise (tests, repairs).
"""

from __future__ import annotations

import json
from typing import Any

from storage.db import Connection

IN_FLIGHT_SECONDS = 3600.0
"""A ledger claim still 'processing' this long after its lease ran out blocks no new payment
(its owner died; reconcile asks the processor about its key)."""


class ReconciliationStatements:
    db: Connection

    def note_transaction_subject(
        self, transaction_id: str, invoice_number: str | None, call_sid: str | None
    ) -> None:
        """Name the invoice and call a connector transaction is for (its <Parameter>s)."""
        self.db.execute(
            "update connector_transactions set invoice_number = :invoice, call_sid = :call"
            " where transaction_id = :id",
            {"invoice": invoice_number, "call": call_sid, "id": transaction_id},
        )

    def ledger_entry_for_charge(self, charge_id: str) -> dict[str, Any] | None:
        """The finished connector transaction whose answer carried this id (charge or token)."""
        return _decoded(
            self.db.one(
                "select * from connector_transactions where response_id = :id"
                " and state = 'done' order by created_at limit 1",
                {"id": charge_id},
            )
        )

    def ledger_entries_for_attempt(
        self, call_sid: str, invoice_number: str, method: str = "charge"
    ) -> list[dict[str, Any]]:
        """Every connector transaction this call made for this invoice, oldest first."""
        rows = self.db.query(
            "select *, (lease_expires_at >= "
            f"{self.db.now} - {IN_FLIGHT_SECONDS}) as recent"
            " from connector_transactions where call_sid = :call and invoice_number = :invoice"
            " and method = :method order by created_at, transaction_id",
            {"call": call_sid, "invoice": invoice_number, "method": method},
        )
        return [_decoded(row) for row in rows]  # type: ignore[misc]

    def unreported_ledger_charges(self) -> list[dict[str, Any]]:
        """Charges the connector booked for an invoice that no attempt accounts for yet."""
        rows = self.db.query(
            "select t.* from connector_transactions t where t.method = 'charge'"
            " and t.state = 'done' and t.response_id is not null"
            " and t.invoice_number is not null and not exists (select 1 from payments p"
            " where p.confirmation_code = t.response_id)"
            " order by t.created_at"
        )
        return [_decoded(row) for row in rows]  # type: ignore[misc]


def _decoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row and row.get("response"):
        row["response"] = json.loads(row["response"])
    return row
