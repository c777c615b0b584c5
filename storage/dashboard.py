"""What the operators' dashboard reads: money per currency, pages of payments, invoices and the
connector ledger, one payment with everything around it.

Every list is a keyset page (`where key < :cursor order by key desc limit n+1`), never OFFSET:
page 20,000 costs what page 1 costs. Every filter and search is an indexed condition
(dashboard_0001's indexes), and the money totals read one bounded window of days, grouped in
SQL by exact amount string so that the sums are made in Python with `Decimal`, never float.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from storage.db import Connection

RESULT_CLASSES: dict[str, tuple[str, ...]] = {
    "settled": ("settled",),
    "declined": ("refused",),
    "attention": ("unknown", "needs_review"),
    "refund_due": ("refund_due",),
    "refunded": ("refunded",),
    "abandoned": ("abandoned",),
    "saved": ("saved",),
}
"""The payments list's result filter: a class of billing outcomes (payments.outcome)."""

SCAN_WINDOW = 100_000
"""How many payment ids one page of an unindexed filter (an amount range) searches at most."""

ATTENTION_OUTCOMES = ("unknown", "needs_review", "refund_due")
"""What the "needs attention" queue lists: money that may be, or is, owed back or unsettled."""

COLLECTED = ("settled", "refund_due", "refunded")
UNKNOWN = ("unknown", "needs_review")
DECLINED = ("refused",)

PAYMENT_COLUMNS = (
    "p.id, p.call_sid, p.result, p.outcome, p.review_reason, p.refunded_amount, p.channel,"
    " p.transaction_id, p.payment_method, p.amount, p.currency, p.card_type, p.last4,"
    " p.expiration_date, p.confirmation_code, p.connector_error, p.payment_error,"
    " p.pay_error_code, p.invoice_number, p.caller, p.received_at, p.note"
)
"""Never `payment_token`: a reusable token is not something an operator needs to see."""


@dataclass(frozen=True)
class PaymentFilters:
    """The payments list's filters; empty values filter nothing."""

    result: str | None = None
    method: str | None = None
    received_from: str | None = None
    """Inclusive lower bound, an ISO-8601 UTC string (the operator's local day, converted)."""
    received_to: str | None = None
    """Exclusive upper bound, like received_from."""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    search: str | None = None

    @property
    def scans(self) -> bool:
        """Whether a filter no index serves is set (amounts are compared as numbers)."""
        return self.amount_min is not None or self.amount_max is not None

    def where(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions (on payments as `p`) and their parameters; the result class is not
        among them (`payments_page` walks each of its outcomes' index in turn)."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if self.method:
            conditions.append("p.payment_method = :method")
            params["method"] = self.method
        if self.received_from:
            conditions.append("p.received_at >= :received_from")
            params["received_from"] = self.received_from
        if self.received_to:
            conditions.append("p.received_at < :received_to")
            params["received_to"] = self.received_to
        if self.amount_min is not None:
            conditions.append("cast(p.amount as numeric) >= :amount_min")
            params["amount_min"] = str(self.amount_min)
        if self.amount_max is not None:
            conditions.append("cast(p.amount as numeric) <= :amount_max")
            params["amount_max"] = str(self.amount_max)
        if self.search:
            conditions.append(
                "(p.invoice_number = :q or p.confirmation_code = :q or p.last4 = :q"
                " or p.caller = :q or p.caller = :q_plus or p.caller = :q_us)"
            )
            digits = "".join(c for c in self.search if c in "0123456789")
            params.update(q=self.search, q_plus=f"+{digits}", q_us=f"+1{digits}")
        return conditions, params


@dataclass
class Page:
    """One page of a list, newest first, with the cursors of its neighbours (None: no more)."""

    rows: list[dict[str, Any]]
    older: str | None = None
    newer: str | None = None
    searched_to: int | None = None
    """Set when a filter no index serves stopped at this id: older ids are not searched yet."""


@dataclass
class Money:
    """One currency's amounts in a window (Decimal) and how many payments make each."""

    collected: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    declined: Decimal = Decimal(0)
    unknown: Decimal = Decimal(0)
    counts: dict[str, int] = field(
        default_factory=lambda: {"collected": 0, "refunded": 0, "declined": 0, "unknown": 0}
    )

    def add(self, kind: str, amount: Decimal, count: int) -> None:
        setattr(self, kind, getattr(self, kind) + amount * count)
        self.counts[kind] += count


@dataclass
class Overview:
    """Today's and the whole window's money per currency, and the window day by day."""

    days: list[dt.date]
    today: dict[str, Money]
    period: dict[str, Money]
    series: dict[str, list[Money]]
    """Per currency, one Money per day of `days`."""


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _day_case(column: str, days: int, low: int = 0) -> str:
    """Which day (0 … days-1) of the window a timestamp falls in, by the bounds :b0 … :bN:
    a binary search in nested CASEs (5 comparisons for 30 days, not up to 30)."""
    if days == 1:
        return str(low)
    half = days // 2
    return (
        f"case when {column} >= :b{low + half} then {_day_case(column, days - half, low + half)}"
        f" else {_day_case(column, half, low)} end"
    )


def _total(per_day: Sequence[Money]) -> Money:
    total = Money()
    for day in per_day:
        for kind in ("collected", "refunded", "declined", "unknown"):
            setattr(total, kind, getattr(total, kind) + getattr(day, kind))
            total.counts[kind] += day.counts[kind]
    return total


def _in(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{n}" for n in names), names


class DashboardStatements:
    db: Connection

    # -- overview -------------------------------------------------------------------------

    def money_overview(self, days: Sequence[dt.date], bounds: Sequence[str]) -> Overview:
        """Money per currency per day; `bounds` are the len(days)+1 UTC instants that start
        each day in the operator's time zone (and end the last one)."""
        assert len(bounds) == len(days) + 1
        bound_params = {f"b{i}": bound for i, bound in enumerate(bounds)}
        kinds = {**dict.fromkeys(COLLECTED, "collected"), **dict.fromkeys(UNKNOWN, "unknown")}
        kinds.update(dict.fromkeys(DECLINED, "declined"))
        names, outcome_params = _in("o", list(kinds))
        payments = self.db.query(
            f"select {_day_case('received_at', len(days))} as day, currency,"
            " outcome, amount, count(*) as n from payments"
            f" where received_at >= :b0 and received_at < :b{len(days)}"
            # coalesce(): the time range is the index to read (an outcome index would visit a
            # million rows), and the covering index holds every column summed.
            f" and coalesce(outcome, '') in ({names}) group by 1, currency, outcome, amount",
            {**bound_params, **outcome_params},
        )
        refunds = self.db.query(
            f"select {_day_case('created_at', len(days))} as day, currency, amount,"
            " count(*) as n from refunds where status = 'done'"
            f" and created_at >= :b0 and created_at < :b{len(days)}"
            " group by 1, currency, amount",
            bound_params,
        )
        series: dict[str, list[Money]] = {}

        def money(currency: str, day: int) -> Money:
            if currency not in series:
                series[currency] = [Money() for _ in days]
            return series[currency][day]

        for row in payments:
            amount = _decimal(row["amount"])
            if amount is not None and row["currency"]:
                money(row["currency"], row["day"]).add(kinds[row["outcome"]], amount, row["n"])
        for row in refunds:
            amount = _decimal(row["amount"])
            if amount is not None and row["currency"]:
                money(row["currency"], row["day"]).add("refunded", amount, row["n"])
        totals = {currency: _total(per_day) for currency, per_day in series.items()}
        period = dict(sorted(totals.items(), key=lambda item: (-item[1].collected, item[0])))
        today = {currency: per_day[-1] for currency, per_day in series.items()}
        return Overview(days=list(days), today=today, period=period, series=series)

    def attention_counts(self) -> dict[str, int]:
        """How many payments wait in the queue, per outcome."""
        names, params = _in("o", ATTENTION_OUTCOMES)
        rows = self.db.query(
            f"select outcome, count(*) as n from payments where outcome in ({names})"
            " group by outcome",
            params,
        )
        return {row["outcome"]: row["n"] for row in rows}

    # -- payments ---------------------------------------------------------------------------

    def payments_page(
        self,
        filters: PaymentFilters,
        *,
        older_than: int | None = None,
        newer_than: int | None = None,
        limit: int = 50,
    ) -> Page:
        """Payments newest first, after (older than) or before (newer than) a cursor id."""
        conditions, params = filters.where()
        return self._payments_keyset(
            conditions,
            params,
            older_than,
            newer_than,
            limit,
            outcomes=RESULT_CLASSES.get(filters.result or "", ()),
            window=SCAN_WINDOW if filters.scans else None,
        )

    def attention_page(
        self, *, older_than: int | None = None, newer_than: int | None = None, limit: int = 50
    ) -> Page:
        """The queue: unknown, needs-review and refund-due payments, newest first."""
        return self._payments_keyset(
            [], {}, older_than, newer_than, limit, outcomes=ATTENTION_OUTCOMES
        )

    def _payments_keyset(
        self,
        conditions: list[str],
        params: dict[str, Any],
        older_than: int | None,
        newer_than: int | None,
        limit: int,
        *,
        outcomes: Sequence[str] = (),
        window: int | None = None,
    ) -> Page:
        """One keyset page. With several `outcomes`, one index walk per outcome, merged (an
        `IN` list would sort every match); with a `window`, at most that many ids are
        searched per page (for filters no index serves), the page saying how far it looked."""
        conditions = list(conditions)
        backwards = newer_than is not None and older_than is None
        params = dict(params)
        if backwards:
            conditions.append("p.id > :cursor")
            params["cursor"] = newer_than
        elif older_than is not None:
            conditions.append("p.id < :cursor")
            params["cursor"] = older_than
        edge: int | None = None
        if window is not None:
            top = self.db.one("select max(id) as top from payments")
            last = int(top["top"] or 0) if top else 0
            if backwards:
                edge = int(newer_than or 0) + window
                conditions.append("p.id <= :edge")
                edge = edge if edge < last else None
            else:
                edge = (older_than if older_than is not None else last + 1) - window
                conditions.append("p.id >= :edge")
                edge = edge if edge > 1 else None
            params["edge"] = edge if edge is not None else (last + 1 if backwards else 0)
        order = "asc" if backwards else "desc"
        rows: list[dict[str, Any]] = []
        for outcome in outcomes or (None,):
            where = [*conditions, "p.outcome = :outcome"] if outcome else conditions
            rows += self.db.query(
                f"select {PAYMENT_COLUMNS}, i.customer, i.status as invoice_status,"
                " i.paying_until, i.hold_reason, i.paying_call,"
                f" (i.paying_call is not null and i.paying_until > {self.db.now})"
                f" as hold_active, {self.db.now} as db_now"
                " from payments p left join invoices i on i.number = p.invoice_number"
                f" {'where ' + ' and '.join(where) if where else ''}"
                f" order by p.id {order} limit :limit",
                {**params, "outcome": outcome, "limit": limit + 1},
            )
        rows.sort(key=lambda row: row["id"], reverse=not backwards)
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        page = Page(rows=rows)
        if backwards:
            page.older = str(rows[-1]["id"] if rows else int(newer_than or 0) + 1)
            if more:
                page.newer = str(rows[0]["id"])
            elif edge is not None:
                page.newer, page.searched_to = str(edge), edge
        else:
            if more:
                page.older = str(rows[-1]["id"])
            elif edge is not None:
                page.older, page.searched_to = str(edge), edge
            if older_than is not None:
                page.newer = str(rows[0]["id"] if rows else older_than - 1)
        return page

    def payments_for_export(self, filters: PaymentFilters, chunk: int = 1000) -> Iterator[dict]:
        """Every payment the filters match, newest first, read a chunk at a time (keyset), so
        that an export of a million rows never holds more than one chunk in memory."""
        cursor: int | None = None
        while True:
            page = self.payments_page(filters, older_than=cursor, limit=chunk)
            yield from page.rows
            if page.older is None:
                return
            cursor = int(page.older)

    # -- one payment ------------------------------------------------------------------------

    def payment_detail(self, payment_id: int) -> dict[str, Any] | None:
        """One payment with its invoice, the call's <Pay> progress, the connector transaction
        and the processor's view of it, its refunds and the other attempts of the call."""
        payment = self.db.one(
            f"select {PAYMENT_COLUMNS}, p.updated_at from payments p where p.id = :id",
            {"id": payment_id},
        )
        if payment is None:
            return None
        invoice = None
        if payment["invoice_number"]:
            invoice = self.db.one(
                "select number, customer, amount, currency, status, payment_id, confirmation,"
                " paid_at, card_brand, card_last4, card_saved_at, created_at, paying_call,"
                " paying_until, hold_reason,"
                f" (paying_call is not null and paying_until > {self.db.now}) as hold_active"
                " from invoices where number = :number",
                {"number": payment["invoice_number"]},
            )
        events = self.db.query(
            "select step, attempt, error_type, payment_method, last4, received_at"
            " from pay_events where call_sid = :sid order by id limit 500",
            {"sid": payment["call_sid"]},
        )
        attempts = self.db.query(
            "select id, result, outcome, amount, currency, received_at from payments"
            " where call_sid = :sid order by id limit 100",
            {"sid": payment["call_sid"]},
        )
        transaction = None
        if payment["transaction_id"]:
            rows = self._ledger_rows(
                "where t.transaction_id = :tx", {"tx": payment["transaction_id"]}, "", 1
            )
            transaction = rows[0] if rows else None
        refunds = self.db.query(
            "select id, idempotency_key, amount, currency, reason, operator, status,"
            " processor_refund_id, error_code, created_at from refunds where payment_id = :id"
            " order by id",
            {"id": payment_id},
        )
        return {
            "payment": payment,
            "invoice": invoice,
            "events": events,
            "attempts": attempts,
            "transaction": transaction,
            "refunds": refunds,
            "db_now": self.db.one(f"select {self.db.now} as now")["now"],  # type: ignore[index]
        }

    def notes_for_payment(self, payment_id: int) -> list[dict[str, Any]]:
        """Operators' notes on a payment (billing.add_note writes them), oldest first."""
        return self.db.query(
            "select id, text, operator, created_at from payment_notes"
            " where payment_id = :id order by id limit 500",
            {"id": payment_id},
        )

    # -- invoices ---------------------------------------------------------------------------

    def invoices_page(
        self,
        *,
        status: str | None = None,
        search: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Invoices by number; `status` open | paid | held; search: number or customer prefix."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if status in ("open", "paid"):
            conditions.append("status = :status")
            params["status"] = status
        elif status == "held":
            conditions.append(
                f"status = 'open' and paying_call is not null and paying_until > {self.db.now}"
            )
        if search:
            conditions.append("(number = :q or (lower(customer) >= :lo and lower(customer) < :hi))")
            lo = search.lower()
            # The prefix's range: [lo, lo with its last character incremented).
            params.update(q=search, lo=lo, hi=lo[:-1] + chr(min(ord(lo[-1]) + 1, 0x10FFFF)))
        backwards = before is not None and after is None
        if backwards:
            conditions.append("number < :cursor")
            params["cursor"] = before
        elif after is not None:
            conditions.append("number > :cursor")
            params["cursor"] = after
        where = f"where {' and '.join(conditions)}" if conditions else ""
        rows = self.db.query(
            "select number, customer, amount, currency, status, payment_id, confirmation,"
            " paid_at, card_brand, card_last4, (card_token is not null) as card_on_file,"
            " created_at, paying_call, paying_until, hold_reason,"
            f" (paying_call is not null and paying_until > {self.db.now}) as hold_active"
            f" from invoices {where} order by number {'desc' if backwards else 'asc'}"
            " limit :limit",
            {**params, "limit": limit + 1},
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        if not rows:
            return Page(rows=[])
        later = rows[-1]["number"] if (more or backwards) else None
        earlier = rows[0]["number"] if (more if backwards else after is not None) else None
        return Page(rows=rows, older=later, newer=earlier)

    # -- the connector ledger ---------------------------------------------------------------

    def ledger_page(
        self,
        *,
        state: str | None = None,
        search: str | None = None,
        older_than: str | None = None,
        newer_than: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Connector transactions newest first; search: transaction_id or the answer's id."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if state in ("processing", "done"):
            conditions.append("t.state = :state")
            params["state"] = state
        if search:
            conditions.append("(t.transaction_id = :q or t.response_id = :q)")
            params["q"] = search
        cursor = older_than if older_than is not None else newer_than
        backwards = newer_than is not None and older_than is None
        if cursor is not None:
            created_at, transaction_id = json.loads(cursor)
            op = ">" if backwards else "<"
            conditions.append(f"(t.created_at, t.transaction_id) {op} (:c_at, :c_id)")
            params.update(c_at=created_at, c_id=transaction_id)
        where = f"where {' and '.join(conditions)}" if conditions else ""
        order = "asc" if backwards else "desc"
        rows = self._ledger_rows(
            where, params, f"order by t.created_at {order}, t.transaction_id {order}", limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        if not rows:
            return Page(rows=[])

        def key(row: dict[str, Any]) -> str:
            return json.dumps([row["created_at"], row["transaction_id"]])

        older = key(rows[-1]) if (more or backwards) else None
        newer = key(rows[0]) if (more if backwards else older_than is not None) else None
        return Page(rows=rows, older=older, newer=newer)

    def _ledger_rows(self, where: str, params: dict[str, Any], order: str, limit: int) -> list:
        rows = self.db.query(
            "select t.transaction_id, t.method, t.state, t.response_id, t.error_code,"
            " t.payment_method, t.amount, t.currency, t.card_brand, t.last4, t.claims,"
            " t.processor_calls, t.created_at, t.updated_at,"
            " coalesce(r.requests, t.processor_calls) as processor_requests,"
            " case when l.idempotency_key is not null"
            "   then (case when l.object_id is not null then 1 else 0 end)"
            "   else (case when t.response_id is not null then 1 else 0 end) end"
            " as processor_charges, l.object_id as processor_object_id,"
            " l.error_code as processor_error_code"
            " from connector_transactions t"
            " left join sandbox_requests r on r.idempotency_key = t.transaction_id"
            " left join sandbox_ledger l on l.idempotency_key = t.transaction_id"
            f" {where} {order} limit :limit",
            {**params, "limit": limit},
        )
        for row in rows:
            row["processor_charges"] = int(row["processor_charges"])
        return rows
