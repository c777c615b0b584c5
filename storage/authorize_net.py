"""The Authorize.Net adapter's own table (connector/processors/authorize_net.py): its attempts.

One row per idempotency key, inserted before the request is sent, so that a retry after a
timeout or a crash — in any worker or instance — reuses the same invoice number and resends
the same bytes. Its own migration branch (`versions/authorize_net/`), like the sandbox's.
"""

from __future__ import annotations

import json
from typing import Any

from storage.db import Connection

COLUMNS = (
    "idempotency_key",
    "kind",
    "invoice_number",
    "ref_id",
    "amount",
    "currency",
    "last4",
    "reference",
    "template",
    "digest",
    "created_at",
    "sent_at",
    "sends",
    "outcome",
    "gateway_id",
)


class AuthorizeNetStatements:
    db: Connection

    def anet_attempt(self, key: str) -> dict[str, Any] | None:
        return self.db.one(
            "select * from authorize_net_attempts where idempotency_key = :key", {"key": key}
        )

    def anet_begin_attempt(self, row: dict[str, Any]) -> dict[str, Any]:
        """Insert the attempt unless its key has one; the stored attempt (maybe an older one)."""
        self.db.execute(
            f"insert into authorize_net_attempts ({', '.join(COLUMNS)})"
            f" values ({', '.join(':' + c for c in COLUMNS)})"
            " on conflict (idempotency_key) do nothing",
            {column: row.get(column) for column in COLUMNS},
        )
        stored = self.anet_attempt(row["idempotency_key"])
        assert stored is not None
        return stored

    def anet_note_send(self, key: str, sent_at: str) -> None:
        self.db.execute(
            "update authorize_net_attempts set sends = sends + 1, sent_at = :sent_at"
            " where idempotency_key = :key",
            {"key": key, "sent_at": sent_at},
        )

    def anet_finish_attempt(self, key: str, outcome: dict[str, Any]) -> None:
        self.db.execute(
            "update authorize_net_attempts set outcome = :outcome, gateway_id = :gateway_id"
            " where idempotency_key = :key",
            {
                "key": key,
                "outcome": json.dumps(outcome, sort_keys=True),
                "gateway_id": outcome.get("gateway_id"),
            },
        )
