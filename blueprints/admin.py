"""GET/POST /admin/...: the operators' dashboard — money, the needs-attention queue, payments,
invoices, the connector ledger — and the few actions the settlement core offers.

Who: HTTP Basic against the operators table (argon2 hashes), with ADMIN_USERNAME /
ADMIN_PASSWORD kept as a bootstrap account of role "operator"; with neither configured the
dashboard stays shut. Viewers read; operators may also act. Every action is a POST form with a
CSRF token (Flask-WTF, on this blueprint only: Twilio's webhooks carry signatures, not
tokens), asks for confirmation, carries a one-time action key (the refund's idempotency key,
the audit entry's key) so that a double-click acts once, and is written to the audit log.

Thin: parse the request, call storage (reads) or billing (every money decision), render.
Nothing here shows more of a card than its brand and last four.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response as WerkzeugResponse

import billing
from blueprints import admin_labels as labels
from blueprints.security import basic_auth_matches
from storage import Store
from storage.dashboard import PaymentFilters
from storage.operators import hash_password, password_matches

bp = Blueprint("admin", __name__, url_prefix="/admin")
csrf = CSRFProtect()

PAGE_SIZE = 50
CHART_DAYS = 30
NOTE_LIMIT = 2000
EXPORT_CHUNK = 1000
"""Rows the CSV export reads per query (keyset): its memory is one chunk, whatever the size."""
ACTIONS = ("reconcile", "release", "refund", "note")


@dataclass(frozen=True)
class Operator:
    name: str
    role: str

    @property
    def may_act(self) -> bool:
        return self.role == "operator"


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    """CSRF for the dashboard's forms only: off by default app-wide, checked in our hook."""
    state.app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(state.app)


def store() -> Store:
    return current_app.extensions["payline"].store()


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["OPERATOR_TIMEZONE"])


# -- who is signed in ------------------------------------------------------------------------

_UNKNOWN_NAME_HASH = hash_password(secrets.token_urlsafe(16))
_verified: dict[bytes, str] = {}
_verified_lock = threading.Lock()


def _remember(key: bytes, role: str) -> None:
    with _verified_lock:
        if len(_verified) > 512:
            _verified.clear()
        _verified[key] = role


def authenticate() -> Operator | None:
    """The operator the request's HTTP Basic credentials name, or None.

    argon2 is slow on purpose; a browser sends the credentials with every request, so a match
    is remembered in this process under an HMAC of (name, password, stored hash): a changed
    password, role or a removed account no longer matches it.
    """
    config = current_app.config
    if basic_auth_matches(config["ADMIN_USERNAME"], config["ADMIN_PASSWORD"]):
        return Operator(config["ADMIN_USERNAME"], "operator")
    try:
        auth = request.authorization
    except ValueError:
        return None
    if auth is None or auth.type != "basic" or not auth.username or not auth.password:
        return None
    row = store().operator(auth.username)
    if row is None:
        password_matches(_UNKNOWN_NAME_HASH, auth.password)  # as slow as a wrong password
        return None
    key = hmac.new(
        config["SECRET_KEY"].encode(),
        "\0".join([row["name"], auth.password, row["password_hash"], row["role"]]).encode(),
        hashlib.sha256,
    ).digest()
    if _verified.get(key) == row["role"]:
        return Operator(row["name"], row["role"])
    if not password_matches(row["password_hash"], auth.password):
        return None
    _remember(key, row["role"])
    return Operator(row["name"], row["role"])


@bp.before_request
def require_operator() -> Response | None:
    operator = authenticate()
    if operator is None:
        config = current_app.config
        configured = config["ADMIN_USERNAME"] and config["ADMIN_PASSWORD"]
        if not configured and not store().list_operators():
            return Response(
                "The dashboard is closed: set ADMIN_USERNAME and ADMIN_PASSWORD, or add an"
                " operator with `flask --app app operators add NAME --role operator`.\n",
                status=403,
                mimetype="text/plain",
            )
        return Response(
            "Operator credentials required.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="PayLine dashboard", charset="UTF-8"'},
        )
    g.operator = operator
    if request.method == "POST":
        if not operator.may_act:
            return Response(
                f"{operator.name} is a viewer: only operators may act.\n",
                status=403,
                mimetype="text/plain",
            )
        csrf.protect()
    return None


@bp.after_request
def no_caching(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.context_processor
def helpers() -> dict[str, Any]:
    tz = zone()
    return {
        "operator": g.get("operator"),
        "labels": labels,
        "local": lambda value, **kw: labels.local_time(value, tz, **kw),
        "money": labels.money,
        "card": labels.card,
        "outcome_label": labels.outcome_label,
        "reason": labels.reason,
        "age": labels.age,
        "timezone": current_app.config["OPERATOR_TIMEZONE"],
    }


# -- reading ---------------------------------------------------------------------------------


def _local_days(today: dt.date, count: int) -> tuple[list[dt.date], list[str]]:
    """The last `count` days up to today, and the UTC instants that start (and end) them."""
    days = [today - dt.timedelta(days=count - 1 - i) for i in range(count)]
    edges = [*days, today + dt.timedelta(days=1)]
    return days, [_utc_iso(dt.datetime.combine(day, dt.time(), zone())) for day in edges]


def _utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@bp.get("/")
def overview() -> str:
    """Today's and the last 30 days' money per currency, the queue's size, a 30-day chart."""
    today = dt.datetime.now(zone()).date()
    days, bounds = _local_days(today, CHART_DAYS)
    money = store().money_overview(days, bounds)
    queue = store().attention_page(limit=5)
    return render_template(
        "admin/overview.html",
        overview=money,
        charts={c: _chart(days, series) for c, series in money.series.items()},
        counts=store().attention_counts(),
        queue=queue,
    )


def _chart(days: list[dt.date], series: list[Any]) -> dict[str, Any]:
    """Bar geometry for an inline SVG: collected and declined per day, on one scale."""
    width, height, top, bottom, left = 640, 180, 10, 24, 4
    peak = max([d.collected for d in series] + [d.declined for d in series] + [Decimal(1)])
    slot = (width - left) / len(days)
    plot = height - top - bottom
    bars = []
    for i, (day, money) in enumerate(zip(days, series, strict=True)):
        for j, (kind, value) in enumerate(
            (("collected", money.collected), ("declined", money.declined))
        ):
            h = float(value / peak) * plot if value else 0.0
            bars.append(
                {
                    "kind": kind,
                    "x": round(left + i * slot + 1 + j * (slot - 2) / 2, 1),
                    "y": round(top + plot - h, 1),
                    "width": round((slot - 2) / 2 - 0.5, 1),
                    "height": round(h, 1),
                    "title": f"{day.isoformat()}: {kind} {labels.money(value)}",
                }
            )
    last = len(days) - 1
    ticks = [
        {
            "x": round(left + (i + 1) * slot if i == last else left + i * slot + slot / 2, 1),
            "anchor": "end" if i == last else "middle",
            "label": days[i].strftime("%d %b"),
        }
        for i in range(last, 1, -7)
    ]
    return {
        "width": width,
        "height": height,
        "baseline": height - bottom,
        "bars": bars,
        "ticks": ticks,
        "peak": labels.money(peak),
    }


@bp.get("/queue")
def queue() -> str:
    """Unknown outcomes, needs-review attempts and refunds due, with age and hold expiry."""
    page = store().attention_page(
        older_than=_int_arg("older"), newer_than=_int_arg("newer"), limit=PAGE_SIZE
    )
    return render_template("admin/queue.html", page=page, counts=store().attention_counts())


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _filters() -> tuple[PaymentFilters, dict[str, str], list[str]]:
    """The payments filters from the query string, the values to show back, and problems."""
    args = request.args
    shown = {
        k: args.get(k, "").strip() for k in ("result", "method", "from", "to", "min", "max", "q")
    }
    problems: list[str] = []

    def day(name: str, *, end: bool = False) -> str | None:
        if not shown[name]:
            return None
        try:
            value = dt.date.fromisoformat(shown[name])
        except ValueError:
            problems.append(f"“{shown[name]}” is not a date (YYYY-MM-DD): ignored")
            shown[name] = ""
            return None
        if end:
            value += dt.timedelta(days=1)
        return _utc_iso(dt.datetime.combine(value, dt.time(), zone()))

    def amount(name: str) -> Decimal | None:
        if not shown[name]:
            return None
        try:
            value = Decimal(shown[name])
            if not value.is_finite() or not shown[name].replace(".", "", 1).isascii():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"“{shown[name]}” is not an amount: ignored")
            shown[name] = ""
            return None
        return value

    if shown["result"] not in labels.RESULT_FILTERS:
        shown["result"] = ""
    if shown["method"] not in labels.METHODS:
        shown["method"] = ""
    filters = PaymentFilters(
        result=shown["result"] or None,
        method=shown["method"] or None,
        received_from=day("from"),
        received_to=day("to", end=True),
        amount_min=amount("min"),
        amount_max=amount("max"),
        search=shown["q"][:100] or None,
    )
    return filters, shown, problems


@bp.get("/payments")
def payments() -> str:
    """Payments newest first; filters and search; keyset pages."""
    filters, shown, problems = _filters()
    page = store().payments_page(
        filters, older_than=_int_arg("older"), newer_than=_int_arg("newer"), limit=PAGE_SIZE
    )
    query = {k: v for k, v in shown.items() if v}
    return render_template(
        "admin/payments.html", page=page, shown=shown, problems=problems, query=query
    )


CSV_COLUMNS = (
    "id",
    "received_at_utc",
    "received_at_local",
    "invoice",
    "customer",
    "result",
    "outcome",
    "amount",
    "currency",
    "refunded_amount",
    "method",
    "card",
    "confirmation_code",
    "caller",
    "reason",
    "codes",
)


def _cell(value: Any) -> str:
    """Keep a spreadsheet from reading a cell as a formula (=, @, or +/- not a number)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in ("+", "-") and not text[1:].replace(".", "", 1).isdigit()
    ):
        return "'" + text
    return text


@bp.get("/payments.csv")
def payments_csv() -> Response:
    """The same filters as the list, every matching row, streamed a chunk at a time."""
    filters, _, _ = _filters()
    tz = zone()
    export_store = current_app.extensions["payline"].open_store()

    def lines() -> Iterator[str]:
        try:
            yield from _csv_lines(export_store.payments_for_export(filters, EXPORT_CHUNK), tz)
        finally:  # the export outlives the request's own connection
            export_store.close()

    stamp = dt.datetime.now(tz).strftime("%Y%m%d-%H%M")
    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payments-{stamp}.csv"'},
    )


def _csv_lines(rows: Iterator[dict[str, Any]], tz: ZoneInfo) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, 1):
        why = labels.reason(row)
        writer.writerow(
            [
                _cell(v)
                for v in (
                    row["id"],
                    row["received_at"],
                    labels.local_time(row["received_at"], tz, seconds=True),
                    row["invoice_number"],
                    row["customer"],
                    labels.outcome_label(row)[0],
                    row["outcome"],
                    row["amount"],
                    row["currency"],
                    row["refunded_amount"],
                    labels.METHODS.get(row["payment_method"] or "", row["payment_method"]),
                    labels.card(row),
                    row["confirmation_code"],
                    row["caller"],
                    why[0] if why else "",
                    why[1] if why else "",
                )
            ]
        )
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/payments/<int:payment_id>")
def payment(payment_id: int) -> str:
    """One payment and everything around it, with what operators did about it."""
    detail = store().payment_detail(payment_id)
    if detail is None:
        abort(404)
    p = detail["payment"]
    return render_template(
        "admin/payment.html",
        **detail,
        notes=_notes(payment_id),
        audit=store().audit_for_payment(payment_id, p["invoice_number"]),
        actions=_available_actions(detail),
    )


def _notes(payment_id: int) -> list[dict[str, Any]]:
    return store().notes_for_payment(payment_id)


def _available_actions(detail: dict[str, Any]) -> list[str]:
    """What the settlement core can do about this payment now (shown to operators only)."""
    p, invoice = detail["payment"], detail["invoice"]
    actions = []
    if p["outcome"] in billing.UNRESOLVED or (p["transaction_id"] and p["outcome"] is None):
        actions.append("reconcile")
    if invoice and invoice["paying_call"]:
        actions.append("release")
    if billing.refundable_amount(store(), p) > 0:
        actions.append("refund")
    actions.append("note")
    return actions


@bp.get("/calls/<call_sid>")
def call(call_sid: str) -> WerkzeugResponse:
    """A call's attempts: its last payment's page (which shows every attempt and event)."""
    attempts = store().payments_for_call(call_sid)
    if not attempts:
        abort(404)
    return redirect(url_for("admin.payment", payment_id=attempts[-1]["id"]))


@bp.get("/invoices")
def invoices() -> str:
    """Invoices by number, filtered by status (open, paid, held), searched by number/customer."""
    status = request.args.get("status", "")
    status = status if status in ("open", "paid", "held") else ""
    q = request.args.get("q", "").strip()[:100]
    page = store().invoices_page(
        status=status or None,
        search=q or None,
        after=request.args.get("after") or None,
        before=request.args.get("before") or None,
        limit=PAGE_SIZE,
    )
    query = {k: v for k, v in {"status": status, "q": q}.items() if v}
    return render_template("admin/invoices.html", page=page, status=status, q=q, query=query)


@bp.get("/ledger")
def ledger() -> str:
    """Connector transactions newest first, with what the processor did for each key."""
    state = request.args.get("state", "")
    state = state if state in ("processing", "done") else ""
    q = request.args.get("q", "").strip()[:255]
    try:
        page = store().ledger_page(
            state=state or None,
            search=q or None,
            older_than=request.args.get("older") or None,
            newer_than=request.args.get("newer") or None,
            limit=PAGE_SIZE,
        )
    except (ValueError, TypeError):
        abort(400, "That page link is not valid; start from the first page.")
    query = {k: v for k, v in {"state": state, "q": q}.items() if v}
    return render_template("admin/ledger.html", page=page, state=state, q=q, query=query)


# -- acting ------------------------------------------------------------------------------------


def _action_key(action: str, payment_id: int) -> str:
    return f"dash-{action}-{payment_id}-{secrets.token_urlsafe(12)}"


def _valid_key(key: str, action: str, payment_id: int) -> bool:
    prefix = f"dash-{action}-{payment_id}-"
    return key.startswith(prefix) and 8 <= len(key) - len(prefix) <= 32 and key.isascii()


@bp.post("/payments/<int:payment_id>/<action>")
def act(payment_id: int, action: str) -> WerkzeugResponse | tuple[str, int]:
    """Step one (no `confirmed`): show what will happen, with a one-time action key.
    Step two (`confirmed` and the key): do it once, record it, go back to the payment."""
    if action not in ACTIONS:
        abort(404)
    detail = store().payment_detail(payment_id)
    if detail is None:
        abort(404)
    form = request.form
    request_values, problem = _action_values(action, detail, form)
    if problem or not form.get("confirmed"):
        return render_template(
            "admin/confirm.html",
            action=action,
            values=request_values,
            problem=problem,
            action_key=_action_key(action, payment_id),
            back=_back(form, payment_id),
            **detail,
        ), (422 if problem else 200)
    key = form.get("action_key", "")
    if not _valid_key(key, action, payment_id):
        abort(400, "The confirmation form is not valid; open the action again.")
    message = _perform(action, detail, request_values, key)
    flash(message)
    return redirect(_back(form, payment_id))


def _back(form: Any, payment_id: int) -> str:
    """Where the form came from, when that is a dashboard page; else the payment's page."""
    url = form.get("back") or ""
    if url.startswith("/admin/") and "//" not in url and "\\" not in url and url.isascii():
        return str(url)
    return url_for("admin.payment", payment_id=payment_id)


def _action_values(
    action: str, detail: dict[str, Any], form: Any
) -> tuple[dict[str, Any], str | None]:
    p = detail["payment"]
    if action == "refund" and form.get("retry"):
        asked = [r for r in detail["refunds"] if str(r["id"]) == form.get("retry")]
        if not asked or asked[0]["status"] not in ("unknown", "pending"):
            return {"retry": None}, "That refund is not waiting for the processor's answer."
        refund = asked[0]
        return {
            "retry": refund,
            "refund": Decimal(refund["amount"]),
            "full": False,
            "reason": refund["reason"] or "",
            "amount": refund["amount"],
        }, None
    if action == "refund":
        remaining = billing.refundable_amount(store(), p)
        reason_text = (form.get("reason") or "").strip()[:500]
        raw = (form.get("amount") or "").strip()
        values: dict[str, Any] = {"reason": reason_text, "amount": raw, "remaining": remaining}
        if remaining <= 0:
            return values, "Nothing is left to refund on this payment."
        if raw:
            try:
                amount = Decimal(raw)
                if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
                    raise InvalidOperation
            except InvalidOperation:
                return values, "The amount must be a positive amount with at most two decimals."
            if amount > remaining:
                return values, f"At most {labels.money(remaining, p['currency'])} can be refunded."
            values["refund"] = amount
        else:
            values["refund"] = remaining
        values["full"] = values["refund"] == remaining
        if not reason_text:
            return values, "Say why the payment is refunded (it is recorded with the refund)."
        return values, None
    if action == "note":
        text = (form.get("text") or "").strip()
        if not text:
            return {"text": ""}, "Write the note first."
        if len(text) > NOTE_LIMIT:
            return {"text": text[:NOTE_LIMIT]}, f"A note has at most {NOTE_LIMIT} characters."
        return {"text": text}, None
    if action == "release":
        invoice = detail["invoice"]
        if not invoice or not invoice["paying_call"]:
            return {}, "The invoice is not held."
        return {"invoice": invoice}, None
    return {}, None


def _perform(action: str, detail: dict[str, Any], values: dict[str, Any], key: str) -> str:
    """Hand the decision to billing, once per action key: the audit entry is claimed first
    (a double-click's second request finds it taken and does nothing), then completed."""
    p = detail["payment"]
    name = g.operator.name
    st = store()
    asked = _asked(action, p, values)
    if not st.record_audit(
        key, name, action, payment_id=p["id"], invoice_number=p["invoice_number"], detail=asked
    ):
        return "That was already done (the form was sent twice); nothing was repeated."
    if action == "reconcile":
        processor = current_app.extensions["payline"].processor(st)
        results = billing.reconcile(st, processor, payment_id=p["id"])
        message = "; ".join(r.message for r in results) or "Nothing to reconcile."
    elif action == "release":
        released = billing.release_hold(st, p["invoice_number"], operator=name)
        message = (
            f"Invoice {p['invoice_number']}: hold released."
            if released
            else f"Invoice {p['invoice_number']} was not held."
        )
    elif action == "refund":
        processor = current_app.extensions["payline"].processor(st)
        retry = values.get("retry")
        result = billing.refund_payment(
            st,
            processor,
            p["id"],
            amount=None if values["full"] else values["refund"],
            reason=values["reason"],
            operator=name,
            # Asking again about a refund whose answer was lost reuses its key: never twice.
            idempotency_key=retry["idempotency_key"] if retry else key,
        )
        message = f"Refund {result.status}: {result.message}"
    else:
        billing.add_note(st, p["id"], values["text"], operator=name)
        message = "Note added."
    st.complete_audit(key, f"{asked} → {message}")
    return message


def _asked(action: str, p: dict[str, Any], values: dict[str, Any]) -> str:
    if action == "refund" and values.get("retry"):
        return f"ask again about refund #{values['retry']['id']}"
    if action == "refund":
        kind = "full" if values["full"] else "partial"
        return (
            f"refund {labels.money(values['refund'], p['currency'])} ({kind}): {values['reason']}"
        )
    if action == "note":
        return values["text"]
    if action == "release":
        return f"release the hold on invoice {p['invoice_number']}"
    return "reconcile with the processor"
