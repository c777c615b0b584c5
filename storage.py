"""Every SQL statement PayLine runs, behind intent-named methods (SQLite via sqlite-utils).

Concurrency guarantees live in the database, not in Python: unique keys and single-statement
compare-and-set updates, so that the same code is safe across threads, gunicorn workers and
(with a PostgreSQL twin of this module) instances.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

from connector.ledger import ClaimOutcome

migrations = Migrations("payline")

PROJECT_ROOT = Path(__file__).resolve().parent


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///relative/path` (relative to the project) or `sqlite:////absolute/path`."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("DATABASE_URL must be sqlite:///relative/path or sqlite:////absolute/path")
    path = Path(database_url[len(prefix) :])
    return path if path.is_absolute() else PROJECT_ROOT / path


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["connector_transactions"].create(
        {
            "transaction_id": str,
            "method": str,
            "fingerprint": str,
            "state": str,
            "owner": str,
            "lease_expires_at": float,
            "claims": int,
            "processor_calls": int,
            "response": str,
            "response_id": str,
            "error_code": str,
            "payment_method": str,
            "amount": str,
            "currency": str,
            "card_brand": str,
            "last4": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="transaction_id",
        not_null={"method", "fingerprint", "state", "created_at", "updated_at"},
        defaults={"claims": 1, "processor_calls": 0},
    )
    db["sandbox_requests"].create({"idempotency_key": str, "requests": int}, pk="idempotency_key")
    db["sandbox_ledger"].create(
        {
            "idempotency_key": str,
            "kind": str,
            "object_id": str,
            "error_code": str,
            "error_message": str,
            "amount": str,
            "currency": str,
            "created_at": str,
        },
        pk="idempotency_key",
    )
    db["payments"].create(
        {
            "id": int,
            "callback_key": str,
            "call_sid": str,
            "result": str,
            "transaction_id": str,
            "payment_method": str,
            "amount": str,
            "currency": str,
            "card_type": str,
            "last4": str,
            "expiration_date": str,
            "confirmation_code": str,
            "payment_token": str,
            "connector_error": str,
            "payment_error": str,
            "pay_error_code": str,
            "connector_parameters": str,
            "invoice_number": str,
            "caller": str,
            "received_at": str,
        },
        pk="id",
        not_null={"callback_key", "call_sid", "result", "received_at"},
    )
    db["payments"].create_index(["callback_key"], unique=True)
    db["pay_events"].create(
        {
            "id": int,
            "call_sid": str,
            "step": str,
            "attempt": str,
            "error_type": str,
            "payment_method": str,
            "last4": str,
            "received_at": str,
        },
        pk="id",
    )
    db["pay_events"].create_index(["call_sid"])


@migrations()
def m002_invoices(db: sqlite_utils.Database) -> None:
    db["invoices"].create(
        {
            "number": str,
            "customer": str,
            "amount": str,
            "currency": str,
            "status": str,
            "payment_id": int,
            "confirmation": str,
            "paid_at": str,
            "card_token": str,
            "card_brand": str,
            "card_last4": str,
            "card_saved_at": str,
            "created_at": str,
        },
        pk="number",
        not_null={"amount", "currency", "status", "created_at"},
        defaults={"status": "open"},
    )


@migrations()
def m003_invoice_claims(db: sqlite_utils.Database) -> None:
    """One call at a time may run a <Pay> for an invoice; payments get an operator's note."""
    db["invoices"].add_column("paying_call", str)
    db["invoices"].add_column("paying_until", float)
    db["payments"].add_column("note", str)


@migrations()
def m004_invoice_hold_reason(db: sqlite_utils.Database) -> None:
    """Why an invoice is held: a caller's <Pay> ('paying') or a payment to reconcile
    ('unknown'), which no caller — not even the one who made it — may pay over."""
    db["invoices"].add_column("hold_reason", str)


class InvoiceExists(Exception):
    """An invoice with that number is already in the database."""


class Store:
    """One connection's worth of PayLine storage; not to be shared between threads."""

    def __init__(self, database_url: str):
        path = sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        self.db = sqlite_utils.Database(conn)
        self.path = path

    def close(self) -> None:
        self.db.close()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Create or upgrade the schema; safe on every deploy. Returns the migrations applied."""
        with self.db.ensure_autocommit_on():
            self.db.enable_wal()
        pending = [m.name for m in migrations.pending(self.db)]
        migrations.apply(self.db)
        return pending

    def healthy(self) -> bool:
        try:
            return self.db.execute("select 1").fetchone() == (1,)
        except sqlite3.Error:
            return False

    # -- the connector's idempotency ledger ---------------------------------------------------

    def claim_transaction(
        self,
        transaction_id: str,
        method: str,
        fingerprint: str,
        owner: str,
        lease_until: float,
        now: float,
    ) -> ClaimOutcome:
        """Atomically claim the id, take over an expired claim, or report what holds it.

        Reads first, so that copies polling for an in-flight original do not compete for
        SQLite's write lock with the owner's lease renewals; every write is a single
        statement whose effect (`rowcount`) says who won.
        """
        row = self._transaction(transaction_id)
        if row is None:
            stamp = now_iso()
            inserted = self.db.execute(
                "insert into connector_transactions (transaction_id, method, fingerprint,"
                " state, owner, lease_expires_at, claims, processor_calls, created_at,"
                " updated_at) values (?, ?, ?, 'processing', ?, ?, 1, 0, ?, ?)"
                " on conflict (transaction_id) do nothing",
                [transaction_id, method, fingerprint, owner, lease_until, stamp, stamp],
            ).rowcount
            if inserted:
                return ClaimOutcome("claimed")
            row = self._transaction(transaction_id)
        stored_method, stored_fingerprint, state, response, lease = row
        if (stored_method, stored_fingerprint) != (method, fingerprint):
            return ClaimOutcome("mismatch")
        if state == "done":
            return ClaimOutcome("done", json.loads(response))
        if lease >= now:
            return ClaimOutcome("busy")
        taken_over = self.db.execute(
            "update connector_transactions set owner = ?, lease_expires_at = ?,"
            " claims = claims + 1, updated_at = ?"
            " where transaction_id = ? and state = 'processing' and lease_expires_at < ?",
            [owner, lease_until, now_iso(), transaction_id, now],
        ).rowcount
        return ClaimOutcome("claimed" if taken_over else "busy")

    def _transaction(self, transaction_id: str) -> tuple | None:
        return self.db.execute(
            "select method, fingerprint, state, response, lease_expires_at"
            " from connector_transactions where transaction_id = ?",
            [transaction_id],
        ).fetchone()

    def renew_claim(self, transaction_id: str, owner: str, lease_until: float) -> bool:
        return bool(
            self.db.execute(
                "update connector_transactions set lease_expires_at = ?"
                " where transaction_id = ? and owner = ? and state = 'processing'",
                [lease_until, transaction_id, owner],
            ).rowcount
        )

    def release_claim(self, transaction_id: str, owner: str) -> None:
        """Let the next copy take over at once: the outcome is unknown, not final."""
        self.db.execute(
            "update connector_transactions set lease_expires_at = 0, updated_at = ?"
            " where transaction_id = ? and owner = ? and state = 'processing'",
            [now_iso(), transaction_id, owner],
        )

    def finish_transaction(
        self, transaction_id: str, owner: str, response: dict[str, Any], summary: dict[str, Any]
    ) -> bool:
        id_value = response.get("charge_id", response.get("token_id"))
        columns = {k: summary.get(k) for k in _SUMMARY_COLUMNS}
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
            ).rowcount
        )

    def note_processor_call(self, transaction_id: str) -> None:
        self.db.execute(
            "update connector_transactions set processor_calls = processor_calls + 1"
            " where transaction_id = ?",
            [transaction_id],
        )

    def ledger_report(self) -> Iterator[dict[str, Any]]:
        """One row per connector transaction, with what the processor says it did for the key.

        For the sandbox, its own counts (every request it received, every charge or token it
        created); for other processors, the calls PayLine made and whether an id came back.
        """
        rows = self.db.query(
            "select t.transaction_id, t.method, t.state, t.response_id, t.error_code,"
            " t.payment_method, t.amount, t.currency, t.card_brand, t.last4, t.claims,"
            " t.created_at, t.updated_at,"
            " coalesce(r.requests, t.processor_calls) as processor_requests,"
            " case when l.idempotency_key is not null"
            "   then (l.object_id is not null)"
            "   else (t.response_id is not null) end as processor_charges"
            " from connector_transactions t"
            " left join sandbox_requests r on r.idempotency_key = t.transaction_id"
            " left join sandbox_ledger l on l.idempotency_key = t.transaction_id"
            " order by t.created_at, t.transaction_id"
        )
        for row in rows:
            row["processor_charges"] = int(row["processor_charges"])
            yield row

    # -- the sandbox processor's own ledger -----------------------------------------------

    def sandbox_note_request(self, key: str) -> None:
        self.db.execute(
            "insert into sandbox_requests (idempotency_key, requests) values (?, 1)"
            " on conflict (idempotency_key) do update set requests = requests + 1",
            [key],
        )

    def sandbox_book(self, key: str, entry: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        created = self.db.execute(
            "insert into sandbox_ledger (idempotency_key, kind, object_id, error_code,"
            " error_message, amount, currency, created_at)"
            " values (:key, :kind, :object_id, :error_code, :error_message, :amount, :currency,"
            " :created_at) on conflict (idempotency_key) do nothing",
            {**entry, "key": key, "created_at": now_iso()},
        ).rowcount
        booked = self.db["sandbox_ledger"].get(key)
        return booked, bool(created)

    # -- <Pay> results and progress -------------------------------------------------------

    def record_pay_result(self, record: dict[str, Any]) -> bool:
        """Insert one action callback; a repeated callback (same key) is ignored. True if new."""
        record = {**record, "received_at": now_iso()}
        return bool(
            self.db.execute(
                f"insert into payments ({', '.join(record)})"
                f" values ({', '.join(':' + k for k in record)})"
                " on conflict (callback_key) do nothing",
                record,
            ).rowcount
        )

    def record_pay_event(self, event: dict[str, Any]) -> None:
        self.db["pay_events"].insert({**event, "received_at": now_iso()})

    def recent_payments(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.db.query("select * from payments order by id desc limit ?", [limit]))

    def payments_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return list(
            self.db.query("select * from payments where call_sid = ? order by id", [call_sid])
        )

    def pay_events_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return list(
            self.db.query("select * from pay_events where call_sid = ? order by id", [call_sid])
        )

    # -- invoices -------------------------------------------------------------------------

    def add_invoices(self, invoices: list[Any]) -> None:
        """Insert all or none: an existing number rolls the whole batch back."""
        now = now_iso()
        rows = [
            {
                "number": invoice.number,
                "customer": invoice.customer,
                "amount": str(invoice.amount),
                "currency": invoice.currency,
                "status": "open",
                "created_at": now,
            }
            for invoice in invoices
        ]
        try:
            with self.db.atomic():
                self.db["invoices"].insert_all(rows)
        except sqlite3.IntegrityError:
            numbers = [row["number"] for row in rows]
            marks = ", ".join("?" * len(numbers))
            taken = [
                row["number"]
                for row in self.db.query(
                    f"select number from invoices where number in ({marks})", numbers
                )
            ]
            raise InvoiceExists(", ".join(taken) or "duplicate invoice number") from None

    def invoice(self, number: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from invoices where number = ?", [number]))
        return rows[0] if rows else None

    def list_invoices(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from invoices order by cast(number as integer)"))

    def claim_invoice(self, number: str, call_sid: str, until: float, now: float) -> bool:
        """Let this call (alone) run a <Pay> for an open invoice until `until`.

        A compare-and-set: it succeeds when nobody holds the invoice, this call holds it for
        paying, or the hold ran out — so two callers can never pay one invoice at once, and a
        payment whose outcome is unknown blocks every new one until its hold lapses.
        """
        return bool(
            self.db.execute(
                "update invoices set paying_call = ?, paying_until = ?, hold_reason = 'paying'"
                " where number = ? and status = 'open' and (paying_call is null"
                " or (paying_call = ? and hold_reason = 'paying') or paying_until < ?)",
                [call_sid, until, number, call_sid, now],
            ).rowcount
        )

    def hold_invoice_unknown(self, number: str, call_sid: str, until: float) -> None:
        """The last payment's outcome is unknown: no new payment until it is reconciled."""
        self.db.execute(
            "update invoices set paying_call = ?, paying_until = ?, hold_reason = 'unknown'"
            " where number = ? and status = 'open'",
            [call_sid, until, number],
        )

    def clear_invoice_hold(self, number: str) -> bool:
        """An operator's decision after reconciling: the invoice may be paid again."""
        return bool(
            self.db.execute(
                "update invoices set paying_call = null, paying_until = null, hold_reason = null"
                " where number = ? and paying_call is not null",
                [number],
            ).rowcount
        )

    def release_invoice(self, number: str, call_sid: str) -> None:
        """End this call's 'paying' hold (an 'unknown' hold is left to lapse or reconcile)."""
        self.db.execute(
            "update invoices set paying_call = null, paying_until = null, hold_reason = null"
            " where number = ? and paying_call = ? and hold_reason = 'paying'",
            [number, call_sid],
        )

    def settle_invoice(self, number: str, record: dict[str, Any]) -> str:
        """Record a successful payment and mark its invoice paid, in one transaction.

        Returns "settled" when this payment settled the invoice, "repeat" for a callback
        already recorded (nothing changes), "duplicate" for a payment of an invoice that
        another payment had settled: recorded with a note, never settling it again.
        """
        with self.db.atomic():
            if not self.record_pay_result(record):
                return "repeat"
            payment_id = self.db.execute("select last_insert_rowid()").fetchone()[0]
            settled = self.db.execute(
                "update invoices set status = 'paid', payment_id = ?, confirmation = ?,"
                " paid_at = ?, paying_call = null, paying_until = null, hold_reason = null"
                " where number = ? and status = 'open'",
                [payment_id, record.get("confirmation_code"), now_iso(), number],
            ).rowcount
            if settled:
                return "settled"
            self.db["payments"].update(
                payment_id, {"note": "duplicate: the invoice was already paid; refund due"}
            )
            return "duplicate"

    def save_card_on_file(self, number: str, record: dict[str, Any]) -> None:
        """Record a tokenize result and keep the token (never the card) with the invoice."""
        with self.db.atomic():
            if self.record_pay_result(record):
                self.db.execute(
                    "update invoices set card_token = ?, card_brand = ?, card_last4 = ?,"
                    " card_saved_at = ? where number = ?",
                    [
                        record.get("payment_token"),
                        record.get("card_type"),
                        record.get("last4"),
                        now_iso(),
                        number,
                    ],
                )


_SUMMARY_COLUMNS = ("error_code", "payment_method", "amount", "currency", "card_brand", "last4")
