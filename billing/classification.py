"""Whether a failure can have charged: every code PayLine knows, classified once, in one table.

A `Result` of Twilio's <Pay>, an `error_code` of the connector's vocabulary (`ConnectorError`)
and a Twilio `PayErrorCode` share one namespace of strings; each is either refused before any
charge was made (safe to release the invoice) or unknown (may have charged: hold and reconcile).
Anything not in the table is unknown. tests/test_billing_classification.py fails when an
`ErrorCode` member or a documented PayErrorCode (64001–64024) is missing.
"""

from __future__ import annotations

from enum import StrEnum

from connector.protocol import ErrorCode


class Charge(StrEnum):
    REFUSED_BEFORE_CHARGE = "refused_before_charge"
    UNKNOWN = "unknown"


REFUSED = Charge.REFUSED_BEFORE_CHARGE
UNKNOWN = Charge.UNKNOWN

CLASSIFICATION: dict[str, Charge] = {
    # -- <Pay> Result values (the action callback's `Result`) --------------------------------
    "caller-interrupted-with-star": REFUSED,  # during capture: nothing was sent to charge
    "caller-hung-up": REFUSED,  # the ledger is asked first: a booked charge wins
    "too-many-failed-attempts": REFUSED,  # capture never completed
    "validation-error": REFUSED,  # Twilio refused the details before the connector
    "payment-connector-error": UNKNOWN,  # decided by its ConnectorError / PayErrorCode
    "internal-error": UNKNOWN,  # Twilio's own failure, at any point
    # -- the connector's error_code vocabulary (connector.protocol.ErrorCode) ----------------
    ErrorCode.INVALID_REQUEST: REFUSED,
    ErrorCode.INVALID_CARD_NUMBER: REFUSED,
    ErrorCode.INVALID_EXPIRY: REFUSED,
    ErrorCode.INVALID_SECURITY_CODE: REFUSED,
    ErrorCode.INVALID_AMOUNT: REFUSED,
    ErrorCode.INVALID_CURRENCY: REFUSED,
    ErrorCode.INVALID_ROUTING_NUMBER: REFUSED,
    ErrorCode.INVALID_ACCOUNT_NUMBER: REFUSED,
    ErrorCode.TEST_MODE_CARD_NOT_ALLOWED: REFUSED,
    ErrorCode.TEST_MODE_ACCOUNT_NOT_ALLOWED: REFUSED,
    ErrorCode.CARD_DECLINED: REFUSED,
    ErrorCode.INSUFFICIENT_FUNDS: REFUSED,
    ErrorCode.PROCESSING_ERROR: UNKNOWN,  # the processor did not confirm either way
    ErrorCode.IDEMPOTENCY_MISMATCH: UNKNOWN,  # the key's first use may have charged
    # -- Twilio's PayErrorCode 64001–64024 (reference/twilio-pay-facts.md) -------------------
    "64001": UNKNOWN,  # configuration error: when it arises is not documented
    "64002": UNKNOWN,  # service unavailable: Twilio or the provider, at any point
    "64003": REFUSED,  # invalid charge amount: refused by Twilio
    "64004": REFUSED,  # no installed connector by that name
    "64005": REFUSED,  # connector does not tokenize
    "64006": REFUSED,  # tokenType not supported
    "64007": REFUSED,  # connector does not charge
    "64008": UNKNOWN,  # gateway rejected the charge: decided by ConnectorError when present
    "64009": UNKNOWN,  # no longer authorized (branded connectors): not documented when
    "64010": UNKNOWN,  # gateway rejected token creation: decided by ConnectorError
    "64011": REFUSED,  # currency not supported by the connector
    "64012": UNKNOWN,  # gateway rejected the card: decided by ConnectorError
    "64013": REFUSED,  # paymentMethod not supported
    "64014": REFUSED,  # ACH without AVSName
    "64015": REFUSED,  # a required <Parameter> is missing
    "64016": REFUSED,  # non-https action URL
    "64017": REFUSED,  # BankAccountType with credit-card
    "64018": REFUSED,  # Payments API: Capture xor Status, refused as sent
    "64019": REFUSED,  # Payments API: completed before every field was captured
    "64020": REFUSED,  # invalid attribute or parameter value
    "64021": UNKNOWN,  # Payments API: a session is already running, and it may charge
    "64022": REFUSED,  # TEST mode: not a test card
    "64023": REFUSED,  # TEST mode: not a test bank account
    "64024": REFUSED,  # connector not approved for LIVE
}
"""The one table. A key missing here is unknown: it may have charged."""


def classify(code: str | None) -> Charge:
    """One code's class; None or a code nobody classified is unknown."""
    return CLASSIFICATION.get(code or "", UNKNOWN)


def failure_class(result: str, connector_error: str | None, pay_error_code: str | None) -> Charge:
    """Whether a failed <Pay> (or token charge) can have charged.

    A `payment-connector-error` is decided by the connector's own code when it gave one, else
    by Twilio's PayErrorCode; every other Result by itself.
    """
    if result != "payment-connector-error":
        return classify(result)
    if connector_error:
        return classify(connector_error)
    return classify(pay_error_code)
