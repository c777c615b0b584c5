"""Invoices: what callers pay, who holds one while paying, and the card kept on file.

Holds are compare-and-set updates timed by the database's clock (`paying_until` is epoch
seconds on that clock), so two callers on two instances can never both pay one invoice.
"""

from __future__ import annotations

from typing import Any

from storage.clock import now_iso
from storage.db import Connection, IntegrityError
from storage.reconciliation import IN_FLIGHT_SECONDS


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
        paying, or the hold ran out — and the connector has no charge for the invoice in flight
        or booked that no attempt accounts for yet (a caller whose callback is late, or lost).
        So two callers can never pay one invoice at once, and a payment whose outcome is
        unknown blocks every new one until it is reconciled or its hold lapses.
        """
        return bool(
            self.db.execute(
                f"update invoices set paying_call = :call, paying_until = {self.db.now} + :hold,"
                " hold_reason = 'paying' where number = :number and status = 'open'"
                " and (paying_call is null or (paying_call = :call and hold_reason = 'paying')"
                f" or paying_until < {self.db.now})"
                f" and not {UNREPORTED_CHARGE.format(now=self.db.now)}",
                {
                    "call": call_sid,
                    "hold": hold_seconds,
                    "number": number,
                    "in_flight": IN_FLIGHT_SECONDS,
                },
            )
        )

    def charge_booked_unreported(self, number: str, call_sid: str = "") -> bool:
        """Whether the connector holds a charge for the invoice (in flight, or done with no
        attempt recording it): the same test `claim_invoice` makes."""
        return bool(
            self.db.one(
                f"select 1 as booked where {UNREPORTED_CHARGE.format(now=self.db.now)}",
                {"number": number, "call": call_sid, "in_flight": IN_FLIGHT_SECONDS},
            )
        )

    def hold_invoice_unknown(self, number: str, call_sid: str, hold_seconds: float) -> bool:
        """This call's payment outcome is unknown: no new payment until it is reconciled.

        Only the call that holds the invoice (or anyone once nobody does) may set it: a late or
        replayed callback from another call never moves that call's hold.
        """
        return bool(
            self.db.execute(
                f"update invoices set paying_call = :call, paying_until = {self.db.now} + :hold,"
                " hold_reason = 'unknown' where number = :number and status = 'open'"
                " and (paying_call is null or paying_call = :call"
                f" or paying_until < {self.db.now})",
                {"call": call_sid, "hold": hold_seconds, "number": number},
            )
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

    def release_invoice(self, number: str, call_sid: str) -> bool:
        """End this call's 'paying' hold (an 'unknown' hold is left to lapse or reconcile)."""
        return bool(
            self.db.execute(
                "update invoices set paying_call = null, paying_until = null, hold_reason = null"
                " where number = :number and paying_call = :call and hold_reason = 'paying'",
                {"number": number, "call": call_sid},
            )
        )

    def release_unknown_hold(self, number: str, call_sid: str) -> bool:
        """End the 'unknown' hold this call's payment set, once reconciled as not charged."""
        return bool(
            self.db.execute(
                "update invoices set paying_call = null, paying_until = null, hold_reason = null"
                " where number = :number and paying_call = :call and hold_reason = 'unknown'",
                {"number": number, "call": call_sid},
            )
        )

    def mark_invoice_paid(self, number: str, payment_id: int, confirmation: str | None) -> bool:
        """Mark an open invoice paid by this payment; False when it was not open (paid already)."""
        return bool(
            self.db.execute(
                "update invoices set status = 'paid', payment_id = :payment_id,"
                " confirmation = :confirmation, paid_at = :paid_at, paying_call = null,"
                " paying_until = null, hold_reason = null"
                " where number = :number and status = 'open'",
                {
                    "payment_id": payment_id,
                    "confirmation": confirmation,
                    "paid_at": now_iso(),
                    "number": number,
                },
            )
        )

    def keep_card_on_file(
        self, number: str, token: str | None, brand: str | None, last4: str | None
    ) -> None:
        """Keep the processor's token (never the card) with the invoice."""
        self.db.execute(
            "update invoices set card_token = :token, card_brand = :brand,"
            " card_last4 = :last4, card_saved_at = :saved_at where number = :number",
            {
                "token": token,
                "brand": brand,
                "last4": last4,
                "saved_at": now_iso(),
                "number": number,
            },
        )


UNREPORTED_CHARGE = (
    "(exists (select 1 from connector_transactions t where t.invoice_number = :number"
    " and t.method = 'charge' and ("
    "(t.state = 'processing' and t.lease_expires_at >= {now} - :in_flight)"
    " or (t.state = 'done' and t.response_id is not null and not exists ("
    "select 1 from payments p where p.confirmation_code = t.response_id))))"
    " or exists (select 1 from payments p where p.invoice_number = :number"
    " and p.result = 'pending' and p.call_sid <> :call))"
)
"""The connector has a charge for the invoice in flight, or booked with no attempt recording
it, or another call's card-on-file charge of it is waiting for the processor's answer (this call's
own is asked again with the same key)."""
