"""GET /admin/...: what operators see — payments, calls, invoices, the connector ledger.

HTTP Basic with ADMIN_USERNAME / ADMIN_PASSWORD; with either unset the dashboard stays shut.
Read-only: nothing here changes money or records.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template

from blueprints.security import basic_auth_matches

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_operator() -> Response | None:
    config = current_app.config
    if not (config["ADMIN_USERNAME"] and config["ADMIN_PASSWORD"]):
        return Response(
            "The dashboard is closed: set ADMIN_USERNAME and ADMIN_PASSWORD to open it.\n",
            status=403,
            mimetype="text/plain",
        )
    if not basic_auth_matches(config["ADMIN_USERNAME"], config["ADMIN_PASSWORD"]):
        return Response(
            "Operator credentials required.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="PayLine dashboard"'},
        )
    return None


def store():
    return current_app.extensions["payline"].store()


@bp.get("/")
def payments() -> str:
    """The latest payment attempts, newest first."""
    return render_template("admin/payments.html", payments=store().recent_payments(200))


@bp.get("/calls/<call_sid>")
def call(call_sid: str) -> str:
    """One call: its payment attempts and every <Pay> progress event."""
    attempts = store().payments_for_call(call_sid)
    events = store().pay_events_for_call(call_sid)
    if not attempts and not events:
        abort(404)
    return render_template("admin/call.html", call_sid=call_sid, payments=attempts, events=events)


@bp.get("/invoices")
def invoices() -> str:
    return render_template("admin/invoices.html", invoices=store().list_invoices())


@bp.get("/ledger")
def ledger() -> str:
    """Connector transactions with the processor's own counts (charged once, visibly)."""
    return render_template("admin/ledger.html", rows=list(store().ledger_report()))
