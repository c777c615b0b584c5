"""/agent: the agent-assist console, and Twilio's status callbacks for its payment sessions.

The console is HTTP Basic: AGENT_USERNAME / AGENT_PASSWORD (else the ADMIN_* pair), compared in
constant time, or a dashboard operator account (storage/operators.py) whose role may take
payments; with none of these it stays shut. Its JSON API takes only JSON posted with
the console's own header, so that another site cannot post to it with the agent's credentials.
POST /agent/payments/status is Twilio's, signed with X-Twilio-Signature. Thin by design: the
session logic is agent.desk.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from agent import AgentDesk, ApiSettings, DeskSettings, PaymentsApi
from agent.fields import BANK_ACCOUNT_TYPES, MATCHABLE, TOKEN_TYPES, is_sid
from blueprints.security import basic_auth_matches, external_url, twilio_signed

log = logging.getLogger(__name__)

bp = Blueprint("agent", __name__, url_prefix="/agent")

CONSOLE_HEADER = "X-PayLine-Console"
DEVELOPMENT_ACCOUNT_SID = "AC" + "0" * 32
"""The account the emulator's Payments API stand-in knows when TWILIO_ACCOUNT_SID is unset."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _credentials() -> tuple[str | None, str | None]:
    config = current_app.config
    if config.get("AGENT_USERNAME") and config.get("AGENT_PASSWORD"):
        return config["AGENT_USERNAME"], config["AGENT_PASSWORD"]
    return config.get("ADMIN_USERNAME"), config.get("ADMIN_PASSWORD")


AGENT_ROLES = ("operator", "agent")
"""Dashboard accounts (storage/operators.py) that may take payments; a viewer may not."""


def _operator_accounts() -> tuple[bool, str | None, str | None]:
    """(accounts exist, the account's name, its role) from the dashboard's operator accounts,
    when that module is installed; its check is constant-time (argon2) and cached per process."""
    try:
        from blueprints.admin import authenticate  # type: ignore[attr-defined]
    except ImportError:
        return False, None, None
    operator = authenticate()
    if operator is not None:
        return True, operator.name, operator.role
    lister = getattr(store(), "list_operators", None)
    return bool(lister and lister()), None, None


@bp.before_request
def require_agent() -> Response | None:
    if request.endpoint == "agent.payment_status":
        return None  # Twilio's: signed, not Basic
    username, password = _credentials()
    if username and password and basic_auth_matches(username, password):
        g.agent = username
    else:
        accounts, name, role = _operator_accounts()
        if name is not None and role not in AGENT_ROLES:
            return Response(
                f"{name} may only view: taking payments needs an operator account.\n",
                status=403,
                mimetype="text/plain",
            )
        if name is None:
            if not (username and password) and not accounts:
                return Response(
                    "The agent console is closed: set AGENT_USERNAME and AGENT_PASSWORD "
                    "(or ADMIN_USERNAME and ADMIN_PASSWORD), or add an operator account.\n",
                    status=403,
                    mimetype="text/plain",
                )
            return Response(
                "Agent credentials required.\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="PayLine agent console"'},
            )
        g.agent = name
    if request.method == "POST" and (
        not request.is_json or request.headers.get(CONSOLE_HEADER) != "1"
    ):
        return _json({"ok": False, "message": "The console posts JSON with its header."}, 400)
    return None


@bp.after_request
def console_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def store():
    return current_app.extensions["payline"].store()


def desk() -> AgentDesk:
    config = current_app.config
    account_sid = config.get("TWILIO_ACCOUNT_SID")
    if not account_sid and config["PAYLINE_ENV"] == "development":
        account_sid = DEVELOPMENT_ACCOUNT_SID
    if not account_sid:
        abort(503, "Agent assist needs TWILIO_ACCOUNT_SID (the REST API's account).")
    api = PaymentsApi(
        ApiSettings(
            account_sid=account_sid,
            auth_token=config["TWILIO_AUTH_TOKEN"],
            base_url=config.get("TWILIO_API_BASE_URL"),
            timeout_seconds=config.get("TWILIO_API_TIMEOUT_SECONDS", 10.0),
            retries=config.get("TWILIO_API_RETRIES", 2),
        )
    )
    settings = DeskSettings(
        connector=config["PAY_CONNECTOR"],
        status_callback=external_url(url_for("agent.payment_status")),
        business=config["BUSINESS_NAME"],
        hold_seconds=config["INVOICE_HOLD_SECONDS"],
        unknown_hold_seconds=config["UNKNOWN_HOLD_SECONDS"],
        timeout_seconds=config.get("AGENT_CAPTURE_TIMEOUT_SECONDS"),
        ledger_reconciliation=config.get("LEDGER_RECONCILIATION", True),
    )
    return AgentDesk(store(), api, settings)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _answer(answer: Any) -> Response:
    return _json(answer.to_json(), answer.status)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "The body is a JSON object.")
    return data


def _payment_sid(payment_sid: str) -> str:
    if not is_sid(payment_sid, "PK"):
        abort(404)
    return payment_sid


# -- pages ---------------------------------------------------------------------------------------


@bp.get("/")
def console() -> str:
    """Start a session: the caller's Call SID, the invoice, card or bank, the options."""
    invoices = [i for i in store().list_invoices() if i["status"] == "open"]
    return render_template(
        "agent/index.html",
        invoices=invoices,
        sessions=store().open_agent_sessions(),
        recent=store().recent_agent_sessions(20),
        call_sid=request.args.get("call_sid", "")[:34],
        invoice=request.args.get("invoice", "")[:12],
        matchable=MATCHABLE,
        token_types=TOKEN_TYPES,
        bank_account_types=BANK_ACCOUNT_TYPES,
        agent=g.agent,
    )


@bp.get("/sessions/<payment_sid>")
def session_page(payment_sid: str) -> str:
    """One session, live: the page polls its JSON."""
    if store().agent_session(_payment_sid(payment_sid)) is None:
        abort(404)
    return render_template("agent/session.html", payment_sid=payment_sid, agent=g.agent)


# -- the console's JSON API -----------------------------------------------------------------------


@bp.get("/api/invoices/<number>")
def invoice(number: str) -> Response:
    found = store().invoice(number) if number.isascii() and number.isdigit() else None
    if found is None:
        return _json({"ok": False, "message": "There is no invoice with that number."}, 404)
    fields = ("number", "customer", "amount", "currency", "status")
    return _json({"ok": True, **{k: found[k] for k in fields}})


@bp.get("/api/sessions")
def open_sessions() -> Response:
    fields = ("payment_sid", "call_sid", "agent", "invoice_number", "state", "created_at")
    rows = [{k: row[k] for k in fields} for row in store().open_agent_sessions()]
    return _json({"ok": True, "sessions": rows})


@bp.post("/api/sessions")
def start() -> Response:
    answer = desk().start(g.agent, _body())
    if answer.payment_sid:
        answer.extra["url"] = url_for("agent.session_page", payment_sid=answer.payment_sid)
    return _answer(answer)


@bp.get("/api/sessions/<payment_sid>")
def session_state(payment_sid: str) -> Response:
    view = desk().view(_payment_sid(payment_sid))
    if view is None:
        return _json({"ok": False, "message": "There is no such payment session."}, 404)
    return _json({"ok": True, **view})


@bp.post("/api/sessions/<payment_sid>/capture")
def capture(payment_sid: str) -> Response:
    field = str(_body().get("capture") or "")
    return _answer(desk().capture(g.agent, _payment_sid(payment_sid), field))


@bp.post("/api/sessions/<payment_sid>/complete")
def complete(payment_sid: str) -> Response:
    return _answer(desk().complete(g.agent, _payment_sid(payment_sid)))


@bp.post("/api/sessions/<payment_sid>/cancel")
def cancel(payment_sid: str) -> Response:
    return _answer(desk().cancel(g.agent, _payment_sid(payment_sid)))


@bp.post("/api/operations/<int:operation_id>/retry")
def retry(operation_id: int) -> Response:
    return _answer(desk().retry(g.agent, operation_id))


# -- Twilio's status callbacks ------------------------------------------------------------------


@bp.post("/payments/status")
@twilio_signed
def payment_status() -> Response:
    """statusCallback of every session: progress, errors, and the final result (settled)."""
    desk().record_callback(request.form)
    return Response(status=204)


@bp.errorhandler(Exception)
def agent_error(error: Exception):
    """The console's API and Twilio's callback answer JSON, never an HTML error page."""
    if isinstance(error, HTTPException):
        if request.path.startswith(("/agent/api/", "/agent/payments/")):
            message = error.description or error.name
            return _json({"ok": False, "message": message}, error.code or 500)
        return error
    log.exception("agent console %s %s failed", request.method, request.path)
    return _json({"ok": False, "message": "Something went wrong in PayLine; try again."}, 500)
