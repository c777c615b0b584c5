"""A session's result, recorded and settled as a <Pay> result is: once, with the invoice held
when the outcome is unknown.

Interim: until the settlement core (billing/) lands this follows the IVR's rules through the
same store calls the IVR makes (settle_invoice, hold_invoice_unknown, release_invoice); the
classification of an unknown outcome is the IVR's own (ivr.speech.outcome_unknown).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agent import messages
from agent.fields import masked, plain
from connector.redact import mask_long_numbers, mask_value
from ivr.speech import outcome_unknown


class SettleStore(Protocol):
    def settle_invoice(self, number: str, record: dict[str, Any]) -> str: ...
    def save_card_on_file(self, number: str, record: dict[str, Any]) -> None: ...
    def record_pay_result(self, record: dict[str, Any]) -> int | None: ...
    def hold_invoice_unknown(self, number: str, call_sid: str, hold_seconds: float) -> None: ...
    def release_invoice(self, number: str, call_sid: str) -> None: ...
    def payments_for_call(self, call_sid: str) -> list[dict[str, Any]]: ...


class HoldSettings(Protocol):
    unknown_hold_seconds: float


@dataclass(frozen=True)
class AgentResult:
    result: str
    unknown: bool
    message: str
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
    store: SettleStore,
    session: Mapping[str, Any],
    form: Mapping[str, str],
    settings: HoldSettings,
) -> AgentResult:
    """Record the result once; settle the invoice, keep the card, or hold or release it."""
    record = payment_record(session, form)
    result = record["result"]
    options = json.loads(session["options"])
    number = session["invoice_number"]
    saving = options.get("purpose") == "save"
    details = {
        "confirmation_code": record["confirmation_code"],
        "payment_token": record["payment_token"],
        "connector_error": record["connector_error"],
        "payment_error": record["payment_error"],
        "pay_error_code": record["pay_error_code"],
    }
    if result == "success":
        if saving:
            store.save_card_on_file(number, record)
            message = "Card saved on file" + (
                f" (ending {record['last4']})." if record["last4"] else "."
            )
        else:
            settled = store.settle_invoice(number, record)
            message = f"Payment taken. Confirmation code: {record['confirmation_code']}."
            if settled == "duplicate":
                message = (
                    "Payment taken, but the invoice had already been paid: a refund is due. "
                    f"Confirmation code: {record['confirmation_code']}."
                )
        return AgentResult(result, False, message, payment_id=_payment_id(store, record), **details)
    store.record_pay_result(record)
    unknown = result != "cancelled" and outcome_unknown(
        result, record["connector_error"], record["pay_error_code"]
    )
    if not saving and number:
        if unknown:
            store.hold_invoice_unknown(number, session["call_sid"], settings.unknown_hold_seconds)
        else:
            store.release_invoice(number, session["call_sid"])
    if unknown:
        message = messages.UNKNOWN_OUTCOME
    elif record["connector_error"] in messages.CONNECTOR_ERRORS:
        message = messages.CONNECTOR_ERRORS[record["connector_error"]]
    else:
        message = messages.RESULTS.get(
            result, "The payment did not go through. Nothing has been charged."
        )
    return AgentResult(result, unknown, message, payment_id=_payment_id(store, record), **details)


def _payment_id(store: SettleStore, record: dict[str, Any]) -> int | None:
    for row in store.payments_for_call(record["call_sid"]):
        if row["callback_key"] == record["callback_key"]:
            return int(row["id"])
    return None
