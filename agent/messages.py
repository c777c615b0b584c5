"""What the agent reads when Twilio refuses a call or reports an error: plain words, no codes
alone, and always what to do next."""

from __future__ import annotations

API_ERRORS: dict[int, str] = {
    64018: "Twilio needs exactly one thing per request: a field to capture, or complete, or "
    "cancel. Try the button again.",
    64019: "Some payment details are still missing. Capture the fields still marked as "
    "required, then complete.",
    64021: "A payment session is already running on this call (perhaps another agent's, or the "
    "caller's own). Finish or cancel it first, then start again.",
    64020: "Twilio refused one of the session's settings as invalid. Check the options and start "
    "again.",
    64003: "The amount is not valid for this currency.",
    64004: "The pay connector named in PayLine's settings (PAY_CONNECTOR) is not installed on "
    "the Twilio account.",
    64013: "The pay connector does not take this payment method.",
    64014: "A bank payment needs the account holder's name (AVSName).",
    64017: "A bank account type only applies to bank payments.",
    20404: "Twilio does not know this call, or it has ended. Check the Call SID: it is the "
    "caller's leg of a call in progress (CA…).",
    20003: "Twilio refused PayLine's credentials (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN).",
    21220: "The call is not in progress any more.",
}

UNANSWERED = (
    "Twilio did not answer, so we cannot tell whether it acted. Press Retry: it sends the same "
    "request again, which Twilio will not carry out twice."
)

ERROR_TYPES: dict[str, str] = {
    "input-timeout": "The caller did not key anything in time. Ask them to try again, then "
    "capture the field again.",
    "invalid-card-number": "The card number is not valid. Capture it again.",
    "invalid-card-type": "That card type is not accepted. Ask for another card.",
    "invalid-date": "The expiry date is not valid. Capture it again.",
    "invalid-security-code": "The security code is not valid. Capture it again.",
    "invalid-postal-code": "The postal code is not valid. Capture it again.",
    "invalid-bank-routing-number": "The routing number is not valid. Capture it again.",
    "invalid-bank-account-number": "The account number is not valid. Capture it again.",
    "input-matching-failed": "The two entries did not match. Capture the field again.",
    "session-in-progress": "Another payment session is already running on this call.",
}

RESULTS: dict[str, str] = {
    "success": "Payment taken.",
    "caller-hung-up": "The caller hung up. Nothing has been charged.",
    "caller-interrupted-with-star": "The caller pressed * to stop. Nothing has been charged.",
    "validation-error": "Some details were not accepted. Nothing has been charged.",
    "cancelled": "Session cancelled. Nothing has been charged; you may start a new one.",
    "agent-cancelled": "Session cancelled. Nothing has been charged; you may start a new one.",
}

CONNECTOR_ERRORS: dict[str, str] = {
    "card_declined": "The card was declined. Nothing has been charged; ask for another card.",
    "insufficient_funds": "Declined for insufficient funds. Nothing has been charged.",
    "invalid_card_number": "The card number was refused. Nothing has been charged.",
    "invalid_expiry": "The expiry date was refused. Nothing has been charged.",
    "test_mode_card_not_allowed": "The line is in test mode: only test cards work. Nothing "
    "has been charged.",
    "test_mode_account_not_allowed": "The line is in test mode: only test bank accounts work. "
    "Nothing has been charged.",
    "invalid_routing_number": "The routing number was refused. Nothing has been charged.",
    "invalid_account_number": "The account number was refused. Nothing has been charged.",
}

NEEDS_REVIEW = (
    "The result does not match PayLine's books, so it is recorded for an operator to review. "
    "Do not take the payment again; tell the caller we will confirm it."
)

UNKNOWN_OUTCOME = (
    "We could not confirm whether the payment went through. Do not take the payment again: "
    "the invoice is held until an operator has checked it."
)


SESSION_OVER = (
    "Twilio says the session cannot do that now: it has ended or is being processed. "
    "Refresh to see its state; start a new session if it has ended."
)


def api_error(code: int | None, status: int, message: str, *, update: bool = False) -> str:
    """Twilio's refusal of an API call, for the agent (`update`: a capture, complete, cancel)."""
    if update and code == 64021:
        return SESSION_OVER
    if code in API_ERRORS:
        return API_ERRORS[code]  # type: ignore[index]
    if status == 404:
        return API_ERRORS[20404]
    if code is not None:
        return f"Twilio refused the request (error {code}). Nothing was done."
    return f"Twilio refused the request (HTTP {status}). Nothing was done."


def error_type(value: str | None) -> str | None:
    if not value:
        return None
    return ERROR_TYPES.get(value, f"The caller's entry was not accepted ({value}).")
