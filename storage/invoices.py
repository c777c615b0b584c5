"""Invoices: what callers pay, who holds one while paying, and the card kept on file.

Holds are compare-and-set updates timed by the database's clock (`paying_until` is epoch
seconds on that clock), so two callers on two instances can never both pay one invoice.
"""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection, IntegrityError


class InvoiceExists(Exception):
    """An invoice with that number is already in the database."""


class InvoiceStatements:
    db: Connection

    def add_invoices(self, invoices: list[Any]) -> None:
        """Insert all or none: an existing number rolls the whole batch back."""
        now = now_iso()
        try:
            with self.db.atomic():
                for invoice in invoices:
                    self.db.execute(
                        "insert into invoices (number, customer, amount, currency, status,"
                        " created_at) values (:number, :customer, :amount, :currency, 'open',"
                        " :created_at)",
                        {
                            "number": invoice.number,
                            "customer": invoice.customer,
                            "amount": str(invoice.amount),
                            "currency": invoice.currency,
                            "created_at": now,
                        },
                    )
        except IntegrityError:
            taken = [i.number for i in invoices if self.invoice(i.number) is not None]
            raise InvoiceExists(", ".join(taken) or "duplicate invoice number") from None

    def invoice(self, number: str) -> dict[str, Any] | None:
        """The invoice, with `hold_active`: whether its hold is still running (database clock)."""
        return self.db.one(
            "select *, (paying_call is not null and paying_until is not null"
            f" and paying_until > {self.db.now}) as hold_active"
            " from invoices where number = :number",
            {"number": number},
        )

    def list_invoices(self) -> list[dict[str, Any]]:
        return self.db.query("select * from invoices order by length(number), number")

    def claim_invoice(self, number: str, call_sid: str, hold_seconds: float) -> bool:
        """Let this call (alone) run a <Pay> for an open invoice for `hold_seconds`.

        A compare-and-set: it succeeds when nobody holds the invoice, this call holds it for
        paying, or the hold ran out — so two callers can never pay one invoice at once, and a
        payment whose outcome is unknown blocks every new one until its hold lapses.
        """
        return bool(
            self.db.execute(
                f"update invoices set paying_call = :call, paying_until = {self.db.now} + :hold,"
                " hold_reason = 'paying' where number = :number and status = 'open'"
                " and (paying_call is null or (paying_call = :call and hold_reason = 'paying')"
                f" or paying_until < {self.db.now})",
                {"call": call_sid, "hold": hold_seconds, "number": number},
            )
        )

    def hold_invoice_unknown(self, number: str, call_sid: str, hold_seconds: float) -> None:
        """The last payment's outcome is unknown: no new payment until it is reconciled."""
        self.db.execute(
            f"update invoices set paying_call = :call, paying_until = {self.db.now} + :hold,"
            " hold_reason = 'unknown' where number = :number and status = 'open'",
            {"call": call_sid, "hold": hold_seconds, "number": number},
        )

    def clear_invoice_hold(self, number: str) -> bool:
        """An operator's decision after reconciling: the invoice may be paid again."""
        return bool(
            self.db.execute(
                "update invoices set paying_call = null, paying_until = null, hold_reason = null"
                " where number = :number and paying_call is not null",
                {"number": number},
            )
        )

    def release_invoice(self, number: str, call_sid: str) -> None:
        """End this call's 'paying' hold (an 'unknown' hold is left to lapse or reconcile)."""
        self.db.execute(
            "update invoices set paying_call = null, paying_until = null, hold_reason = null"
            " where number = :number and paying_call = :call and hold_reason = 'paying'",
            {"number": number, "call": call_sid},
        )

    def settle_invoice(self, number: str, record: dict[str, Any]) -> str:
        """Record a successful payment and mark its invoice paid, in one transaction.

        Returns "settled" when this payment settled the invoice, "repeat" for a callback
        already recorded (nothing changes), "duplicate" for a payment of an invoice that
        another payment had settled: recorded with a note, never settling it again.
        """
        with self.db.atomic():
            payment_id = self.record_pay_result(record)  # type: ignore[attr-defined]
            if payment_id is None:
                return "repeat"
            settled = self.db.execute(
                "update invoices set status = 'paid', payment_id = :payment_id,"
                " confirmation = :confirmation, paid_at = :paid_at, paying_call = null,"
                " paying_until = null, hold_reason = null"
                " where number = :number and status = 'open'",
                {
                    "payment_id": payment_id,
                    "confirmation": record.get("confirmation_code"),
                    "paid_at": now_iso(),
                    "number": number,
                },
            )
            if settled:
                return "settled"
            self.update_payment(  # type: ignore[attr-defined]
                payment_id, {"note": "duplicate: the invoice was already paid; refund due"}
            )
            return "duplicate"

    def save_card_on_file(self, number: str, record: dict[str, Any]) -> None:
        """Record a tokenize result and keep the token (never the card) with the invoice."""
        with self.db.atomic():
            if self.record_pay_result(record) is not None:  # type: ignore[attr-defined]
                self.db.execute(
                    "update invoices set card_token = :token, card_brand = :brand,"
                    " card_last4 = :last4, card_saved_at = :saved_at where number = :number",
                    {
                        "token": record.get("payment_token"),
                        "brand": record.get("card_type"),
                        "last4": record.get("last4"),
                        "saved_at": now_iso(),
                        "number": number,
                    },
                )
