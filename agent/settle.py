"""A session's result, recorded and settled through the settlement core (billing/), exactly as
a <Pay> result is: once, checked against the connector's ledger, the invoice paid, released
after a refusal, held after an unknown outcome, flagged for review when the books disagree.

This module only builds the attempt's record (the same payments columns as a <Pay> action's)
and puts the decision in the agent's words; every money decision is billing's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import billing
from agent import messages
from agent.fields import masked, plain
from billing import Outcome
from connector.redact import mask_long_numbers, mask_value

CANCELLED = "agent-cancelled"
"""The Result PayLine records for a session the agent cancelled: nothing went to the connector
(billing classifies it as refused before any charge)."""


class HoldSettings(Protocol):
    @property
    def unknown_hold_seconds(self) -> float: ...
    @property
    def ledger_reconciliation(self) -> bool: ...


@dataclass(frozen=True)
class AgentResult:
    result: str
    unknown: bool
    message: str
    outcome: str | None = None
    confirmation_code: str | None = None
    payment_token: str | None = None
    connector_error: str | None = None
    payment_error: str | None = None
    pay_error_code: str | None = None
    payment_id: int | None = None


def payment_record(session: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The payments row of a session's result (the same columns as a <Pay> action's)."""
    parameters = {
        key.removeprefix("PayConnector_"): value
        for key, value in form.items()
        if key.startswith("PayConnector_")
    }
    number = form.get("PaymentCardNumber") or form.get("BankAccountNumber")
    last4 = "".join(c for c in (masked(number) or "")[-4:] if "0" <= c <= "9") or None
    error = form.get("PaymentError")
    connector_error = form.get("ConnectorError")
    return {
        "callback_key": f"agent:{session['payment_sid']}",
        "call_sid": session["call_sid"],
        "result": plain(form.get("Result"), 60) or "unknown",
        "transaction_id": parameters.get("transaction_id"),
        "payment_method": session["payment_method"],
        "amount": session["amount"],
        "currency": session["currency"],
        "invoice_number": session["invoice_number"],
        "card_type": plain(form.get("PaymentCardType")),
        "last4": last4,
        "expiration_date": plain(form.get("ExpirationDate"), 6),
        "confirmation_code": plain(form.get("PaymentConfirmationCode"), 255),
        "payment_token": plain(form.get("PaymentToken"), 255),
        "connector_error": mask_long_numbers(connector_error) if connector_error else None,
        "payment_error": mask_long_numbers(error) if error else None,
        "pay_error_code": plain(form.get("PayErrorCode"), 10),
        "connector_parameters": json.dumps(mask_value(parameters), sort_keys=True),
        "caller": None,
        "note": f"agent assist by {session['agent']}" if session.get("agent") else "agent assist",
    }


def settle_result(
    store: Any,
    session: Mapping[str, Any],
    form: Mapping[str, str],
    settings: HoldSettings,
) -> AgentResult:
    """Record and settle the result through billing; what the agent is told of it."""
    record = payment_record(session, form)
    options = json.loads(session["options"])
    purpose = "save" if options.get("purpose") == "save" else "pay"
    decision = billing.settle_attempt(
        store,
        billing.Attempt(record, purpose=purpose, channel="agent"),
        billing.BillingSettings(
            ledger_reconciliation=settings.ledger_reconciliation,
            unknown_hold_seconds=settings.unknown_hold_seconds,
        ),
    )
    outcome = decision.outcome
    code = decision.confirmation or record["confirmation_code"]
    if outcome in (Outcome.SETTLED, Outcome.REFUNDED):
        message = f"Payment taken. Confirmation code: {code}."
    elif outcome is Outcome.REFUND_DUE:
        message = (
            "Payment taken, but the invoice had already been paid: a refund is due. "
            f"Confirmation code: {code}."
        )
    elif outcome is Outcome.SAVED:
        message = "Card saved on file" + (
            f" (ending {record['last4']})." if record["last4"] else "."
        )
    elif outcome is Outcome.NEEDS_REVIEW:
        message = messages.NEEDS_REVIEW
    elif outcome is Outcome.UNKNOWN:
        message = messages.UNKNOWN_OUTCOME
    elif record["connector_error"] in messages.CONNECTOR_ERRORS:
        message = messages.CONNECTOR_ERRORS[record["connector_error"]]
    else:
        message = messages.RESULTS.get(
            record["result"], "The payment did not go through. Nothing has been charged."
        )
    return AgentResult(
        result=record["result"],
        unknown=decision.may_have_charged and not decision.charged,
        message=message,
        outcome=str(outcome),
        confirmation_code=code,
        payment_token=record["payment_token"],
        connector_error=record["connector_error"],
        payment_error=record["payment_error"],
        pay_error_code=record["pay_error_code"],
        payment_id=decision.payment_id,
    )
