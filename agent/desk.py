"""An agent's payment session on a live call: start, capture each field, complete or cancel.

Framework-free: the console blueprint parses requests and renders what this returns. The only
shared state is the database, so any worker can serve any agent and several agents can work
several calls at once. Each logical API call is written (with a fresh idempotency key) before
it is made; a retry of that same call — automatic, or the agent's Retry after no answer — sends
the same key; a new click is a new call with a new key.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import billing
from agent import messages
from agent.api import ApiRefused, ApiUnanswered, PaymentsApi
from agent.fields import (
    LABELS,
    InvalidOptions,
    SessionOptions,
    callback_event,
    is_sid,
    parse_options,
    required_fields,
)
from agent.settle import CANCELLED, AgentResult, settle_result

log = logging.getLogger(__name__)

OPEN_STATES = ("active", "completing")
FINAL_STATE = {
    "settled": "completed",
    "refund_due": "completed",
    "refunded": "completed",
    "saved": "completed",
    "unknown": "unknown",
    "needs_review": "review",
    "refused": "failed",
    "abandoned": "failed",
}
"""The session's state after billing's outcome of its result."""
VALUE_COLUMNS = (
    "card_number",
    "card_type",
    "expiration_date",
    "postal_code",
    "security_code",
    "routing_number",
    "account_number",
)
FIELD_VALUE = {
    "payment-card-number": "card_number",
    "expiration-date": "expiration_date",
    "security-code": "security_code",
    "postal-code": "postal_code",
    "bank-routing-number": "routing_number",
    "bank-account-number": "account_number",
}


@dataclass(frozen=True)
class DeskSettings:
    connector: str
    """PAY_CONNECTOR: the connector's unique name in the Twilio console."""
    status_callback: str
    """The absolute URL of POST /agent/payments/status, as Twilio will sign it."""
    business: str = "PayLine"
    hold_seconds: float = 600.0
    unknown_hold_seconds: float = 1800.0
    timeout_seconds: int | None = None
    """Twilio's per-digit Timeout for the caller (default 5)."""
    ledger_reconciliation: bool = True
    """PayLine is the installed connector: billing checks each result against its ledger."""


@dataclass
class Answer:
    """What one agent action came to: the HTTP status, a message, where to look next."""

    ok: bool
    message: str
    status: int = 200
    payment_sid: str | None = None
    retry_operation: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {"ok": self.ok, "message": self.message, **self.extra}
        if self.payment_sid:
            data["payment_sid"] = self.payment_sid
        if self.retry_operation is not None:
            data["retry_operation"] = self.retry_operation
        return data


class DeskStore(Protocol):
    def invoice(self, number: str) -> dict[str, Any] | None: ...
    def claim_invoice(self, number: str, call_sid: str, hold_seconds: float) -> bool: ...
    def charge_booked_unreported(self, number: str) -> bool: ...
    def release_invoice(self, number: str, call_sid: str) -> Any: ...
    def add_agent_operation(self, **kwargs: Any) -> int: ...
    def agent_operation(self, operation_id: int) -> dict[str, Any] | None: ...
    def count_agent_try(self, operation_id: int) -> None: ...
    def finish_agent_operation(self, operation_id: int, state: str, **kwargs: Any) -> None: ...
    def claim_agent_retry(self, operation_id: int) -> bool: ...
    def unanswered_create_for_call(self, call_sid: str) -> dict[str, Any] | None: ...
    def agent_operations_for(self, payment_sid: str) -> list[dict[str, Any]]: ...
    def add_agent_session(self, session: dict[str, Any]) -> bool: ...
    def agent_session(self, payment_sid: str) -> dict[str, Any] | None: ...
    def update_agent_session(self, payment_sid: str, changes: dict[str, Any]) -> None: ...
    def move_agent_session(self, payment_sid: str, from_states: Any, to_state: str) -> bool: ...
    def note_agent_session(self, payment_sid: str, message: str, state: str) -> bool: ...
    def record_agent_event(self, event: dict[str, Any]) -> None: ...
    def agent_events(self, payment_sid: str) -> list[dict[str, Any]]: ...


def new_idempotency_key() -> str:
    return f"payline-agent-{uuid.uuid4()}"


class AgentDesk:
    def __init__(
        self,
        store: DeskStore,
        api: PaymentsApi,
        settings: DeskSettings,
        new_key: Callable[[], str] = new_idempotency_key,
    ):
        self.store = store
        self.api = api
        self.settings = settings
        self.new_key = new_key

    # -- start ------------------------------------------------------------------------------

    def start(self, agent: str, data: Mapping[str, Any]) -> Answer:
        """Start a session on the caller's leg for an invoice's balance (or to save a card)."""
        call_sid = str(data.get("call_sid") or "").strip()
        if not is_sid(call_sid, "CA"):
            return Answer(False, "Enter the caller's Call SID: CA followed by 32 hex digits.", 400)
        number = str(data.get("invoice") or "").strip()
        invoice = self.store.invoice(number) if number.isascii() and number.isdigit() else None
        if invoice is None:
            return Answer(False, "There is no invoice with that number.", 404)
        try:
            options = parse_options(data)
        except InvalidOptions as error:
            return Answer(False, str(error), 400)
        if options.purpose == "pay":
            payable = billing.payability(self.store, invoice, call_sid)
            if payable is billing.Payability.PAID:
                return Answer(False, f"Invoice {number} is already paid.", 409)
            if options.ach and invoice["currency"] != "USD":
                return Answer(False, "A bank (ACH) payment moves US dollars only.", 400)
            claimed = payable is billing.Payability.PAYABLE and billing.claim(
                self.store, number, call_sid, self.settings.hold_seconds
            )
            if not claimed:
                return Answer(
                    False,
                    f"Invoice {number} is being paid on another call, or a payment of it is "
                    "waiting to be confirmed.",
                    409,
                )
        params = self._create_params(call_sid, invoice, options)
        request = {
            "params": params,
            "status_callback": self.settings.status_callback,
            "session": {
                "call_sid": call_sid,
                "agent": agent,
                "invoice_number": number,
                "amount": params.get("charge_amount"),
                "currency": invoice["currency"],
                "payment_method": options.payment_method,
                "options": options.to_json(),
            },
        }
        operation = self.store.add_agent_operation(
            key=self.new_key(),
            kind="create",
            call_sid=call_sid,
            payment_sid=None,
            agent=agent,
            request=request,
        )
        return self._perform(operation)

    def _create_params(
        self, call_sid: str, invoice: dict[str, Any], options: SessionOptions
    ) -> dict[str, Any]:
        """twilio-python's create() arguments. ChargeAmount is a decimal string, never a float
        (twilio-python types it float; a string goes out as written)."""
        parameter = {
            "invoice_number": invoice["number"],
            "customer": invoice["customer"] or "",
            "call_sid": call_sid,
        }
        params: dict[str, Any] = {
            "payment_connector": self.settings.connector,
            "payment_method": options.payment_method,
            "currency": invoice["currency"],
            "input": "dtmf",
        }
        if options.purpose == "pay":
            params["charge_amount"] = str(Decimal(invoice["amount"]))
            params["description"] = f"{self.settings.business} invoice {invoice['number']}"
        else:
            params["charge_amount"] = "0"
            params["description"] = (
                f"{self.settings.business} card on file for invoice {invoice['number']}"
            )
            params["token_type"] = options.token_type or "reusable"
        if options.ach:
            parameter["AVSName"] = options.avs_name or invoice["customer"] or "Account holder"
            params["bank_account_type"] = options.bank_account_type
        else:
            params["postal_code"] = options.postal_code
            params["security_code"] = options.security_code
            if options.min_postal_code_length:
                params["min_postal_code_length"] = options.min_postal_code_length
            params["confirmation"] = "true" if options.confirmation else "false"
            if options.require_matching_inputs:
                params["require_matching_inputs"] = ",".join(options.require_matching_inputs)
        if self.settings.timeout_seconds:
            params["timeout"] = self.settings.timeout_seconds
        params["parameter"] = parameter
        return params

    # -- capture, complete, cancel -------------------------------------------------------------

    def capture(self, agent: str, payment_sid: str, capture: str) -> Answer:
        """Ask the caller for one field (again, if it was captured before)."""
        session = self.store.agent_session(payment_sid)
        if session is None:
            return Answer(False, "There is no such payment session.", 404)
        if session["state"] != "active":
            return Answer(False, "This session is over: start a new one.", 409, payment_sid)
        options = SessionOptions.from_json(json.loads(session["options"]))
        if capture not in options.captures():
            allowed = ", ".join(options.captures())
            return Answer(False, f"This session captures only: {allowed}.", 400, payment_sid)
        return self._update(agent, session, "capture", {"capture": capture})

    def complete(self, agent: str, payment_sid: str) -> Answer:
        """Send the collected details to the connector (Twilio does, on Status=complete)."""
        session = self.store.agent_session(payment_sid)
        if session is None:
            return Answer(False, "There is no such payment session.", 404)
        if not self.store.move_agent_session(payment_sid, ["active"], "completing"):
            return Answer(False, "This session is not waiting to be completed.", 409, payment_sid)
        return self._update(agent, session, "complete", {"status": "complete"})

    def cancel(self, agent: str, payment_sid: str) -> Answer:
        """End the session without charging; a new one can be started on the call."""
        session = self.store.agent_session(payment_sid)
        if session is None:
            return Answer(False, "There is no such payment session.", 404)
        if session["state"] not in OPEN_STATES:
            return Answer(False, "This session is already over.", 409, payment_sid)
        return self._update(agent, session, "cancel", {"status": "cancel"})

    def retry(self, agent: str, operation_id: int) -> Answer:
        """Send an unanswered call again, with its own idempotency key."""
        operation = self.store.agent_operation(operation_id)
        if operation is None:
            return Answer(False, "There is no such request.", 404)
        if operation["state"] != "unknown" or not self.store.claim_agent_retry(operation_id):
            return Answer(
                False, "That request is not waiting for a retry.", 409, operation["payment_sid"]
            )
        return self._perform(operation_id)

    def _update(
        self, agent: str, session: dict[str, Any], kind: str, request: dict[str, Any]
    ) -> Answer:
        operation = self.store.add_agent_operation(
            key=self.new_key(),
            kind=kind,
            call_sid=session["call_sid"],
            payment_sid=session["payment_sid"],
            agent=agent,
            request={**request, "status_callback": self.settings.status_callback},
        )
        return self._perform(operation)

    # -- one API call ---------------------------------------------------------------------------

    def _perform(self, operation_id: int) -> Answer:
        """Make the operation's call (every try with its key) and record what came of it."""
        op = self.store.agent_operation(operation_id)
        assert op is not None
        request = json.loads(op["request"])
        on_try = lambda: self.store.count_agent_try(operation_id)  # noqa: E731
        try:
            if op["kind"] == "create":
                payment_sid = self.api.create(
                    op["call_sid"],
                    op["idempotency_key"],
                    request["status_callback"],
                    request["params"],
                    on_try,
                )
            else:
                payment_sid = op["payment_sid"]
                self.api.update(
                    op["call_sid"],
                    payment_sid,
                    op["idempotency_key"],
                    request["status_callback"],
                    capture=request.get("capture"),
                    status=request.get("status"),
                    on_try=on_try,
                )
        except ApiRefused as error:
            self.store.finish_agent_operation(
                operation_id,
                "failed",
                error_code=str(error.code or error.status),
                error_message=error.message[:300],
            )
            return self._refused(op, request, error)
        except ApiUnanswered as error:
            self.store.finish_agent_operation(
                operation_id, "unknown", error_message=str(error)[:300]
            )
            if op["payment_sid"]:
                self.store.update_agent_session(op["payment_sid"], {"message": messages.UNANSWERED})
            return Answer(False, messages.UNANSWERED, 504, op["payment_sid"], operation_id)
        self.store.finish_agent_operation(operation_id, "done", payment_sid=payment_sid)
        return self._succeeded(op, request, payment_sid)

    def _succeeded(self, op: dict[str, Any], request: dict[str, Any], payment_sid: str) -> Answer:
        kind = op["kind"]
        if kind == "create":
            self._adopt(payment_sid, request["session"])
            return Answer(True, "Session started: capture the first field.", 201, payment_sid)
        session = self.store.agent_session(payment_sid)
        assert session is not None
        if kind == "capture":
            field_name = request["capture"]
            self._extend_hold(session)
            if self.store.note_agent_session(payment_sid, "", "active"):
                self.store.update_agent_session(payment_sid, {"requested_capture": field_name})
            label = LABELS.get(field_name.removesuffix("-matcher"), field_name)
            again = " (confirmation)" if field_name.endswith("-matcher") else ""
            return Answer(True, f"Asking the caller for: {label}{again}.", 200, payment_sid)
        if kind == "complete":
            self._extend_hold(session)
            message = "Sent for processing: waiting for the result."
            self.store.note_agent_session(payment_sid, message, "completing")
            return Answer(True, message, 200, payment_sid)
        # cancel: nothing was sent to the connector, so nothing can have been charged
        if self.store.move_agent_session(payment_sid, OPEN_STATES, "cancelled"):
            settle_result(
                self.store,
                session,
                self._cancel_record(session),
                self.settings,  # type: ignore[arg-type]
            )
            self.store.update_agent_session(
                payment_sid, {"result": "cancelled", "message": messages.RESULTS["cancelled"]}
            )
        return Answer(True, messages.RESULTS["cancelled"], 200, payment_sid)

    def _refused(self, op: dict[str, Any], request: dict[str, Any], error: ApiRefused) -> Answer:
        update = op["kind"] != "create"
        message = messages.api_error(error.code, error.status, error.message, update=update)
        payment_sid = op["payment_sid"]
        if op["kind"] == "create":
            session = request["session"]
            if session["options"]["purpose"] == "pay":
                self.store.release_invoice(session["invoice_number"], session["call_sid"])
            return Answer(False, message, 502)
        if op["kind"] == "complete":
            self.store.move_agent_session(payment_sid, ["completing"], "active")
        self.store.update_agent_session(payment_sid, {"message": message})
        return Answer(False, message, 502, payment_sid)

    def _adopt(self, payment_sid: str, session: dict[str, Any]) -> None:
        row = {**session, "payment_sid": payment_sid, "state": "active"}
        row["options"] = json.dumps(session["options"], sort_keys=True)
        self.store.add_agent_session(row)

    def _extend_hold(self, session: dict[str, Any]) -> None:
        """An agent still at work keeps the invoice held against other callers."""
        options = json.loads(session["options"])
        if options.get("purpose") == "pay" and session["invoice_number"]:
            billing.claim(
                self.store,
                session["invoice_number"],
                session["call_sid"],
                self.settings.hold_seconds,
            )

    def _cancel_record(self, session: dict[str, Any]) -> dict[str, Any]:
        return {"Result": CANCELLED, "Sid": session["payment_sid"]}

    # -- status callbacks ----------------------------------------------------------------------

    def record_callback(self, form: Mapping[str, str]) -> AgentResult | None:
        """One signed status callback: record it; a final one settles the session's result."""
        event = callback_event(form)
        payment_sid = event["payment_sid"]
        if not is_sid(payment_sid, "PK"):
            log.warning("agent status callback without a Payment SID: ignored")
            return None
        session = self.store.agent_session(payment_sid)
        if session is None:
            session = self._adopt_unanswered(payment_sid, form.get("CallSid", ""))
        self.store.record_agent_event(event)
        if session is None or not form.get("Result"):
            return None
        if session["state"] == "cancelled":
            return None
        outcome = settle_result(self.store, session, dict(form), self.settings)
        state = FINAL_STATE.get(outcome.outcome or "", "failed")
        self.store.move_agent_session(payment_sid, OPEN_STATES, state)
        self.store.update_agent_session(
            payment_sid,
            {
                "result": outcome.result,
                "confirmation_code": outcome.confirmation_code,
                "payment_token": outcome.payment_token,
                "connector_error": outcome.connector_error,
                "payment_error": outcome.payment_error,
                "pay_error_code": outcome.pay_error_code,
                "payment_id": outcome.payment_id,
                "message": outcome.message,
            },
        )
        return outcome

    def _adopt_unanswered(self, payment_sid: str, call_sid: str) -> dict[str, Any] | None:
        """A callback for a session whose create call never got its answer: Twilio did start
        it, so the session is recorded from that operation."""
        op = self.store.unanswered_create_for_call(call_sid) if call_sid else None
        if op is None:
            return None
        self.store.finish_agent_operation(op["id"], "done", payment_sid=payment_sid)
        self._adopt(payment_sid, json.loads(op["request"])["session"])
        return self.store.agent_session(payment_sid)

    # -- what the console shows -----------------------------------------------------------------

    def view(self, payment_sid: str) -> dict[str, Any] | None:
        """The session as the agent sees it: live capture state folded from the callbacks."""
        session = self.store.agent_session(payment_sid)
        if session is None:
            return None
        options = SessionOptions.from_json(json.loads(session["options"]))
        live: dict[str, Any] = {
            "capture": session["requested_capture"],
            "partial_result": None,
            "required": None,
            "error_type": None,
        }
        values: dict[str, Any] = {}
        events = self.store.agent_events(payment_sid)
        for event in events:
            if event["capture"]:
                live["capture"] = event["capture"]
            live["partial_result"] = event["partial_result"]
            live["error_type"] = event["error_type"]
            if event["required"] is not None:
                live["required"] = event["required"]
            if event["partial_result"] == "true":
                continue  # digits still arriving: shown once the field is in
            for name in VALUE_COLUMNS:
                if event[name]:
                    values[name] = event[name]
            if event["error_type"] and event["capture"] in FIELD_VALUE:
                values.pop(FIELD_VALUE[event["capture"]], None)
        required = options.captures()
        if live["required"] is not None:
            required = required_fields(live["required"])
        unanswered = [
            {"id": op["id"], "kind": op["kind"]}
            for op in self.store.agent_operations_for(payment_sid)
            if op["state"] == "unknown"
        ]
        message = session["message"]
        if session["state"] == "active" and live["error_type"]:
            message = messages.error_type(live["error_type"])
        return {
            "payment_sid": payment_sid,
            "call_sid": session["call_sid"],
            "agent": session["agent"],
            "invoice_number": session["invoice_number"],
            "amount": session["amount"],
            "currency": session["currency"],
            "payment_method": session["payment_method"],
            "options": options.to_json(),
            "state": session["state"],
            "capture": live["capture"],
            "partial_result": live["partial_result"] == "true",
            "required": required,
            "error_type": live["error_type"],
            "captures": options.captures(),
            "labels": LABELS,
            "values": values,
            "result": session["result"],
            "confirmation_code": session["confirmation_code"],
            "connector_error": session["connector_error"],
            "message": message,
            "unanswered": unanswered,
            "events": len(events),
        }
