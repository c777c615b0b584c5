"""Authorize.Net (JSON API) behind the connector: MOTO cards, TEL eChecks, CIM tokens, refunds.

What the gateway gives and what this adapter builds on it (facts: the README's Processors
section and ../shared/reference/authorize-net-facts.md):

- **No idempotency key.** Duplicates are found by a time window (`duplicateWindow`, always
  sent) over the transaction's data, the invoice number included. So every operation gets its
  own invoice number, derived from the idempotency key and *persisted before anything is sent*
  (`AuthorizeNetStore`), with the request's non-secret template and an HMAC of the exact
  request. After an unknown outcome (timeout, 5xx, crash) the adapter first looks for the
  attempt — the unsettled list (and settled batches) matched by invoice number, amount and last
  four, confirmed by `getTransactionDetails` — and only when it is not there resends the
  *byte-identical* request; if the first one did land, the gateway answers "duplicate" (11) with
  the original, which is resolved, never charged again. `refId` is only echoed and is never
  relied on.
- **Element order matters** (JSON is translated to XML): every dict is built in XSD order.
- **Responses start with a UTF-8 BOM**: decoded with `utf-8-sig`, never `resp.json()`.
- **Held for review** (responseCode 4, the fraud filter): neither a success nor a decline.
  It is answered `pending_review` (an unknown outcome for the settlement core: the invoice is
  held, the caller is told not to pay again) with the gateway's transaction id in
  `parameters`; `lookup(key)` later says CHARGED once the merchant approves it in the
  Merchant Interface, REFUSED once it is declined.
- **Tokens** are Customer Information Manager profiles: `token_id` is
  `cim:<customerProfileId>:<customerPaymentProfileId>`. The profile's `merchantCustomerId` is
  derived from the idempotency key, so a retry meets E00039 (duplicate) and recovers the
  existing profile instead of creating a second one.

Card and account numbers go only into the request body sent to the gateway: never into a log
line, an exception message, the store (placeholders stand in the template) or an answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import requests

from connector.processors import (
    ChargeRef,
    Lookup,
    LookupStatus,
    ProcessorResult,
    ProcessorUnavailable,
)
from connector.processors.registry import (
    BuildContext,
    ProcessorSpec,
    Setting,
    SettingError,
    StoreBound,
    integer,
    number,
    one_of,
)
from connector.processors.transport import MAX_GATEWAY_SECONDS, GatewayClient, url_problem
from connector.protocol import ConnectorRequest, ErrorCode
from connector.redact import mask_long_numbers, mask_secrets

log = logging.getLogger(__name__)

NAME = "authorize_net"
ENDPOINTS = {
    "sandbox": "https://apitest.authorize.net/xml/v1/request.api",
    "production": "https://api.authorize.net/xml/v1/request.api",
}
MAX_DUPLICATE_WINDOW = 28800
"""The gateway clamps larger windows to 8 h."""
QUIET_SECONDS = 300.0
"""A sent attempt is declared never seen (NOT_FOUND) only this long after it was sent: by then
no request can still be in flight inside the gateway."""
RESEND_MARGIN_SECONDS = 60.0
"""A resend must land well inside the duplicate window opened by the first send."""
ACCOUNT_HOLDER = "Account holder"
"""nameOnAccount when the <Pay> sent no AVSName (the IVR's own fallback, ivr/flow.py)."""
TOKEN_PREFIX = "cim:"

_PAN = "@cardNumber@"
_CVV = "@cardCode@"
_ACCOUNT = "@accountNumber@"


# -- what the adapter keeps (per idempotency key) -------------------------------------------


class AuthorizeNetStore(Protocol):
    """The adapter's own persistence: one row per idempotency key, written before sending.

    A row: `idempotency_key`, `kind` (charge, charge_token, tokenize, refund, void),
    `invoice_number`, `ref_id`, `amount`, `currency`, `last4`, `reference` (the profile, token
    or original transaction it is about), `template` (the request's JSON with placeholders for
    card and account numbers), `digest` (HMAC-SHA256 of the request as sent), `created_at`,
    `sent_at` (ISO-8601 UTC), `sends`, `outcome` (JSON of the final answer) and
    `gateway_id`.
    """

    def anet_attempt(self, key: str) -> dict[str, Any] | None: ...

    def anet_begin_attempt(self, row: dict[str, Any]) -> dict[str, Any]:
        """Insert the row unless its key exists; return the stored row (which may be older)."""
        ...

    def anet_note_send(self, key: str, sent_at: str) -> None:
        """Called *before* each send: from now on the attempt may have reached the gateway."""
        ...

    def anet_finish_attempt(self, key: str, outcome: dict[str, Any]) -> None: ...


class MemoryAuthorizeNetStore:
    """In-memory AuthorizeNetStore: for tests and a single process only."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def anet_attempt(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.rows.get(key)
            return dict(row) if row else None

    def anet_begin_attempt(self, row: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            stored = self.rows.setdefault(row["idempotency_key"], dict(row))
            return dict(stored)

    def anet_note_send(self, key: str, sent_at: str) -> None:
        with self._lock:
            row = self.rows[key]
            row["sends"] += 1
            row["sent_at"] = sent_at

    def anet_finish_attempt(self, key: str, outcome: dict[str, Any]) -> None:
        with self._lock:
            self.rows[key]["outcome"] = json.dumps(outcome, sort_keys=True)
            self.rows[key]["gateway_id"] = outcome.get("gateway_id")


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizeNetSettings:
    login_id: str
    transaction_key: str = field(repr=False)
    url: str
    hmac_key: bytes = field(repr=False)
    duplicate_window: int = 1800
    market_type: str | None = "1"
    validation_mode: str = "liveMode"
    currency: str = "USD"
    timeout_seconds: float = 8.0


# -- error vocabulary -------------------------------------------------------------------------


def _codes(codes: str, error: ErrorCode) -> dict[str, ErrorCode]:
    found: dict[str, ErrorCode] = {}
    for part in codes.split():
        low, _, high = part.partition("-")
        for code in range(int(low), int(high or low) + 1):
            found[str(code)] = error
    return found


REASON_CODES: dict[str, ErrorCode] = {
    # Order matters: later lines win, so the specific families overwrite the broad decline.
    **_codes("2 3 4 41 141 145 200-223 250 251 254", ErrorCode.CARD_DECLINED),
    **_codes("6 37 200 315", ErrorCode.INVALID_CARD_NUMBER),
    **_codes("7 201 316", ErrorCode.INVALID_EXPIRY),
    **_codes("8 317", ErrorCode.EXPIRED_CARD),
    **_codes("78", ErrorCode.INVALID_SECURITY_CODE),
    **_codes("44 45 65 165", ErrorCode.INCORRECT_SECURITY_CODE),
    **_codes("27 127", ErrorCode.INCORRECT_POSTAL_CODE),
    **_codes("5 49 55", ErrorCode.INVALID_AMOUNT),
    **_codes("17 28 56", ErrorCode.CARD_NOT_SUPPORTED),
    **_codes("11", ErrorCode.DUPLICATE_TRANSACTION),
    **_codes("9", ErrorCode.INVALID_ROUTING_NUMBER),
    **_codes("10", ErrorCode.INVALID_ACCOUNT_NUMBER),
    **_codes("18 90", ErrorCode.PAYMENT_METHOD_NOT_SUPPORTED),
    **_codes("53 101 243-245", ErrorCode.INVALID_BANK_ACCOUNT),
    **_codes("19-23 25 26 57-63 120-122 180 181 261", ErrorCode.PROCESSING_ERROR),
    **_codes("13 24 29-31 34 35 38 43", ErrorCode.CONFIGURATION_ERROR),
    **_codes("16", ErrorCode.INVALID_REQUEST),
    **_codes("54", ErrorCode.TRANSACTION_NOT_SETTLED),
    **_codes("252 253", ErrorCode.PENDING_REVIEW),
}
"""Response reason codes (transactionResponse.errors[].errorCode / messages[].code)."""

MESSAGE_CODES: dict[str, ErrorCode] = {
    "E00003": ErrorCode.INVALID_REQUEST,  # schema: an element out of order, a bad value
    "E00013": ErrorCode.INVALID_REQUEST,
    "E00014": ErrorCode.INVALID_REQUEST,
    "E00015": ErrorCode.INVALID_REQUEST,
    "E00041": ErrorCode.INVALID_REQUEST,
    "E00042": ErrorCode.INVALID_REQUEST,  # the profile holds its maximum of payment profiles
    "E00007": ErrorCode.CONFIGURATION_ERROR,  # wrong credentials (or the other environment's)
    "E00008": ErrorCode.CONFIGURATION_ERROR,  # the account is inactive
    "E00009": ErrorCode.CONFIGURATION_ERROR,  # the account is in Test Mode
    "E00011": ErrorCode.CONFIGURATION_ERROR,  # no permission (Transaction Details API off)
    "E00044": ErrorCode.CONFIGURATION_ERROR,  # CIM is not enabled
    "E00040": ErrorCode.TOKEN_NOT_FOUND,
    "E00051": ErrorCode.INVALID_REQUEST,
    "E00027": ErrorCode.CARD_DECLINED,  # "The transaction was unsuccessful." (CIM validation)
}
"""Request-level message codes, when there is no transactionResponse.responseCode."""

UNKNOWN_MESSAGE_CODES = frozenset({"E00001"})
"""'An error occurred during processing': the gateway itself cannot say; ask again."""

CHARGED_STATUSES = frozenset(
    {
        "voided",  # charged, then voided by someone (unless it was held for review)
        "couldNotVoid",
        "returnedItem",
        "chargeback",
        "chargebackReversal",
        "authorizedPendingCapture",
        "capturedPendingSettlement",
        "settledSuccessfully",
        "approvedReview",
        "refundPendingSettlement",
        "refundSettledSuccessfully",
        "pendingFinalSettlement",
        "pendingSettlement",
    }
)
REFUSED_STATUSES = frozenset({"declined", "generalError", "failedReview", "expired"})
# Anything else (FDSPendingReview, FDSAuthorizedPendingReview, underReview, communicationError,
# settlementError, a status this code has never seen) is not decided yet: never guessed as
# charged nor as refused, it is answered pending_review and looked up again later.


# -- the adapter ------------------------------------------------------------------------------


class AuthorizeNetProcessor:
    name = NAME

    def __init__(
        self,
        settings: AuthorizeNetSettings,
        store: AuthorizeNetStore,
        *,
        client: GatewayClient | None = None,
        session: requests.Session | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self.settings = settings
        self.store = store
        self.client = client or GatewayClient(
            settings.url, timeout_seconds=settings.timeout_seconds, session=session
        )
        self.now = now

    # -- the processor interface ----------------------------------------------------------

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        refusal = self._refuse_before_sending(request, charge=True)
        if refusal:
            return refusal
        invoice = _invoice_number("charge", idempotency_key, _invoice_hint(request.parameters))
        payment: dict[str, Any]
        if request.card:
            payment = {"creditCard": _credit_card(request)}
        else:
            payment = {"bankAccount": _bank_account(request)}
        transaction: dict[str, Any] = {
            "transactionType": "authCaptureTransaction",
            "amount": _amount_text(request.amount),
            "payment": payment,
            "order": _order(invoice, _description(request.description, request.parameters)),
        }
        if request.card and request.card.postal_code:
            transaction["billTo"] = {"zip": request.card.postal_code[:20]}
        if request.card and self.settings.market_type is not None:
            transaction["retail"] = {"marketType": self.settings.market_type}
        transaction["transactionSettings"] = self._duplicate_window()
        last4 = request.card.last4 if request.card else request.bank.last4  # type: ignore[union-attr]
        return self._transaction(
            "charge",
            idempotency_key,
            invoice,
            transaction,
            _secrets(request),
            amount=request.amount,
            currency=request.currency,
            last4=last4,
        )

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        refusal = self._refuse_before_sending(request, charge=False)
        if refusal:
            return refusal
        attempt = self.store.anet_attempt(idempotency_key)
        if attempt and attempt["kind"] != "tokenize":
            return _mismatch()
        if attempt and attempt["outcome"]:
            return _stored_result(attempt)
        customer_id = _merchant_customer_id(idempotency_key)
        payment_profile = self._payment_profile(request)
        last4 = request.card.last4 if request.card else request.bank.last4  # type: ignore[union-attr]
        row = self._new_row(
            idempotency_key, "tokenize", invoice=customer_id, last4=last4, reference=customer_id
        )
        self.store.anet_begin_attempt(row)
        self.store.anet_note_send(idempotency_key, _iso(self.now()))
        content: dict[str, Any] = {
            "profile": {
                "merchantCustomerId": customer_id,
                "description": "PayLine: saved over the phone",
                "paymentProfiles": [payment_profile],
            }
        }
        if request.card and self.settings.validation_mode != "none":
            content["validationMode"] = self.settings.validation_mode
        answer = self._call("createCustomerProfileRequest", content, secrets=_secrets(request))
        code, text = _first_message(answer)
        if _ok(answer):
            profile_id = _text(answer.get("customerProfileId"))
            ids = answer.get("customerPaymentProfileIdList") or []
            if profile_id and isinstance(ids, list) and ids:
                result = self._token_result(profile_id, str(ids[0]), last4)
            else:
                raise ProcessorUnavailable("Authorize.Net created a profile without its ids")
        elif code == "E00039":
            result = self._recover_profile(answer, text, customer_id, payment_profile, request)
        else:
            result = self._validation_refusal(answer, code, text)
        return self._finish(idempotency_key, result)

    def charge_token(
        self,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        *,
        description: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> ProcessorResult:
        ids = _parse_token(token)
        if ids is None:
            return _refusal(ErrorCode.TOKEN_NOT_FOUND, "this token is not an Authorize.Net profile")
        if currency != self.settings.currency or amount <= 0:
            return _refusal(
                ErrorCode.INVALID_CURRENCY
                if currency != self.settings.currency
                else ErrorCode.INVALID_AMOUNT,
                f"this Authorize.Net account charges {self.settings.currency} amounts above 0",
            )
        parameters = parameters or {}
        invoice = _invoice_number("charge_token", idempotency_key, _invoice_hint(parameters))
        transaction = {
            "transactionType": "authCaptureTransaction",
            "amount": _amount_text(amount),
            "profile": {
                "customerProfileId": ids[0],
                "paymentProfile": {"paymentProfileId": ids[1]},
            },
            "order": _order(invoice, _description(description, parameters)),
            "transactionSettings": self._duplicate_window(),
        }
        return self._transaction(
            "charge_token",
            idempotency_key,
            invoice,
            transaction,
            {},
            amount=amount,
            currency=currency,
            last4=None,
            reference=token,
        )

    def refund(self, charge: ChargeRef, amount: Decimal, idempotency_key: str) -> ProcessorResult:
        if amount <= 0 or amount > charge.amount:
            return _refusal(ErrorCode.INVALID_AMOUNT, "a refund is above 0 and at most the charge")
        attempt = self.store.anet_attempt(idempotency_key)
        invoice = _invoice_number("refund", idempotency_key, None)
        if attempt is None:
            payment, last4 = self._refund_payment(charge)
        else:  # the stored template already holds what the refund was built from
            payment, last4 = {}, attempt["last4"]
        transaction = {
            "transactionType": "refundTransaction",
            "amount": _amount_text(amount),
            "payment": payment,
            "refTransId": charge.charge_id,
            "order": _order(invoice, f"Refund of {charge.charge_id}"),
            "transactionSettings": self._duplicate_window(),
        }
        return self._transaction(
            "refund",
            idempotency_key,
            invoice,
            transaction,
            {},
            amount=amount,
            currency=charge.currency,
            last4=last4,
            reference=charge.charge_id,
        )

    def void(self, charge: ChargeRef, idempotency_key: str) -> ProcessorResult:
        """Voiding is idempotent at the gateway (310: already voided), so a resend is safe."""
        attempt = self.store.anet_attempt(idempotency_key)
        if attempt and attempt["kind"] != "void":
            return _mismatch()
        if attempt and attempt["outcome"]:
            return _stored_result(attempt)
        row = self._new_row(idempotency_key, "void", reference=charge.charge_id)
        self.store.anet_begin_attempt(row)
        self.store.anet_note_send(idempotency_key, _iso(self.now()))
        answer = self._call(
            "createTransactionRequest",
            {
                "transactionRequest": {
                    "transactionType": "voidTransaction",
                    "refTransId": charge.charge_id,
                }
            },
            ref_id=row["ref_id"],
        )
        response = _transaction_response(answer)
        reason = _reason(response)[0] if response else None
        if response and str(response.get("responseCode")) in ("2", "3") and reason == "310":
            result = ProcessorResult(id=charge.charge_id, parameters=_parameters(response, answer))
        else:
            result = self._read_transaction(answer, None)
        return self._finish(idempotency_key, result)

    def lookup(self, idempotency_key: str) -> Lookup:
        attempt = self.store.anet_attempt(idempotency_key)
        if attempt is None:
            return Lookup(status=LookupStatus.NOT_FOUND)
        outcome = json.loads(attempt["outcome"]) if attempt["outcome"] else None
        if attempt["kind"] == "tokenize":
            return self._lookup_profile(attempt, outcome)
        if attempt["kind"] == "void":
            return _lookup_of(outcome) if outcome else Lookup(status=LookupStatus.UNKNOWN)
        amount = Decimal(attempt["amount"]) if attempt["amount"] else None
        currency = attempt["currency"]
        if outcome and outcome.get("error_code") != ErrorCode.PENDING_REVIEW:
            return _lookup_of(outcome, amount, currency)
        try:
            result: ProcessorResult | None
            if outcome:  # held for review: what did the merchant decide?
                details = self._details(outcome["gateway_id"])
                result = self._from_details(details, attempt, reviewed=True)
            elif not attempt["sends"]:
                return Lookup(status=LookupStatus.NOT_FOUND)
            else:
                result = self._find(attempt)
        except ProcessorUnavailable as failure:
            log.warning("authorize_net: lookup of %s cannot tell: %s", idempotency_key, failure)
            return Lookup(status=LookupStatus.UNKNOWN, amount=amount, currency=currency)
        if result is None:
            quiet = self._seconds_since(attempt["sent_at"]) >= QUIET_SECONDS
            return Lookup(
                status=LookupStatus.NOT_FOUND if quiet else LookupStatus.UNKNOWN,
                amount=amount,
                currency=currency,
            )
        if result.error_code != ErrorCode.PENDING_REVIEW:
            self.store.anet_finish_attempt(idempotency_key, _outcome(result))
        return _lookup_of(_outcome(result), amount, currency)

    # -- transactions: persisted before sending, found before resending ------------------

    def _transaction(
        self,
        kind: str,
        key: str,
        invoice: str,
        transaction: dict[str, Any],
        secrets: dict[str, str],
        *,
        amount: Decimal | None,
        currency: str | None,
        last4: str | None,
        reference: str | None = None,
    ) -> ProcessorResult:
        attempt = self.store.anet_attempt(key)
        if attempt is None:
            template = json.dumps(transaction)
            row = self._new_row(
                key,
                kind,
                invoice=invoice,
                amount=amount,
                currency=currency,
                last4=last4,
                reference=reference,
                template=template,
                digest=self._digest(_fill(template, secrets)),
            )
            attempt = self.store.anet_begin_attempt(row)
        if attempt["kind"] != kind:
            return _mismatch()
        if attempt["outcome"]:
            return _stored_result(attempt)
        if attempt["sends"]:
            # Sent before and never answered (a timeout, a crash): find it before resending.
            found = self._find_or_none(attempt)
            if found is not None:
                return self._finish(key, found)
            if self._seconds_since(attempt["sent_at"]) > self._resend_horizon():
                raise ProcessorUnavailable(
                    "the first send is older than the duplicate window allows a safe resend;"
                    " reconcile in the Merchant Interface"
                )
        filled = _fill(attempt["template"], secrets)
        if not hmac.compare_digest(self._digest(filled), attempt["digest"]):
            # Not the card or account of the first send: sending it could charge another one.
            return _mismatch()
        self.store.anet_note_send(key, _iso(self.now()))
        answer = self._call(
            "createTransactionRequest",
            {"transactionRequest": json.loads(filled)},
            ref_id=attempt["ref_id"],
        )
        return self._finish(key, self._read_transaction(answer, attempt))

    def _read_transaction(
        self, answer: dict[str, Any], attempt: dict[str, Any] | None
    ) -> ProcessorResult:
        response = _transaction_response(answer)
        if response is None or response.get("responseCode") in (None, ""):
            return _request_refusal(answer)
        code = str(response["responseCode"])
        reason, text = _reason(response)
        parameters = _parameters(response, answer)
        trans_id = _text(response.get("transId"))
        log.info("authorize_net: responseCode=%s reason=%s transId=%s", code, reason, trans_id)
        if code == "1":
            if trans_id in (None, "0"):
                return _refusal(
                    ErrorCode.CONFIGURATION_ERROR,
                    "the Authorize.Net account is in Test Mode (transId 0, nothing is kept):"
                    " switch it to Live Mode",
                    parameters,
                )
            return ProcessorResult(id=trans_id, parameters=parameters)
        if code == "4":
            return ProcessorResult(
                id=None,
                error_code=ErrorCode.PENDING_REVIEW,
                error_message=_operator_text(
                    text or "held for review by the fraud detection filters"
                ),
                parameters=parameters,
            )
        if code in ("2", "3"):
            if reason == "11" and attempt is not None:
                return self._resolve_duplicate(attempt, trans_id)
            fallback = ErrorCode.CARD_DECLINED if code == "2" else ErrorCode.PROCESSING_ERROR
            error = REASON_CODES.get(reason or "", fallback)
            return _refusal(error, text or "the gateway refused the payment", parameters)
        raise ProcessorUnavailable(f"Authorize.Net answered responseCode {code[:8]!r}")

    def _resolve_duplicate(self, attempt: dict[str, Any], trans_id: str | None) -> ProcessorResult:
        """Code 11: an earlier send of this very attempt landed. Answer with its outcome."""
        if trans_id and trans_id != "0":
            details = self._details(trans_id)
            if self._matches(details, attempt):
                return self._from_details(details, attempt)
            return _refusal(
                ErrorCode.DUPLICATE_TRANSACTION,
                "Authorize.Net refused this as a duplicate of another transaction",
                {"processor": NAME, "gateway_transaction_id": trans_id},
            )
        found = self._find(attempt)
        if found is None:
            raise ProcessorUnavailable("duplicate reported; the original is not listed yet")
        return found

    def _find_or_none(self, attempt: dict[str, Any]) -> ProcessorResult | None:
        try:
            return self._find(attempt)
        except ProcessorUnavailable as failure:
            # The reports cannot tell; a byte-identical resend still cannot charge twice
            # inside the window (the gateway answers 11, resolved through the details).
            log.warning("authorize_net: reports unavailable, resending as sent: %s", failure)
            return None

    def _find(self, attempt: dict[str, Any]) -> ProcessorResult | None:
        """The attempt's transaction, from the unsettled list then settled batches."""
        for entry in self._candidates(attempt):
            if not self._entry_matches(entry, attempt):
                continue
            details = self._details(str(entry["transId"]))
            if self._matches(details, attempt):
                return self._from_details(details, attempt)
        return None

    def _candidates(self, attempt: dict[str, Any]):
        since = _parse_iso(attempt["created_at"]) - dt.timedelta(minutes=5)
        for offset in range(1, 11):
            answer = self._report(
                "getUnsettledTransactionListRequest",
                {
                    "status": "any",
                    "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
                    "paging": {"limit": 100, "offset": offset},
                },
            )
            page = answer.get("transactions") or []
            yield from page
            oldest = _parse_iso(str(page[-1].get("submitTimeUTC"))) if page else None
            if len(page) < 100 or (oldest is not None and oldest < since):
                break
        now = self.now()
        if now - since < dt.timedelta(minutes=1):
            return
        batches = self._report(
            "getSettledBatchListRequest",
            {
                "includeStatistics": False,
                "firstSettlementDate": _iso_seconds(since),
                "lastSettlementDate": _iso_seconds(now),
            },
        )
        for batch in batches.get("batchList") or []:
            answer = self._report(
                "getTransactionListRequest",
                {
                    "batchId": str(batch.get("batchId")),
                    "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
                    "paging": {"limit": 1000, "offset": 1},
                },
            )
            yield from answer.get("transactions") or []

    def _entry_matches(self, entry: Any, attempt: dict[str, Any]) -> bool:
        if not isinstance(entry, dict) or entry.get("invoiceNumber") != attempt["invoice_number"]:
            return False
        if attempt["amount"] and _decimal(entry.get("settleAmount")) != Decimal(attempt["amount"]):
            return False
        number = str(entry.get("accountNumber") or "")
        return not attempt["last4"] or number[-4:] == attempt["last4"]

    def _matches(self, details: dict[str, Any], attempt: dict[str, Any]) -> bool:
        order = _dict(details.get("order"))
        if order.get("invoiceNumber") != attempt["invoice_number"]:
            return False
        if attempt["amount"]:
            sent = Decimal(attempt["amount"])
            amounts = {_decimal(details.get("authAmount")), _decimal(details.get("settleAmount"))}
            if sent not in amounts:
                return False
        last4 = attempt["last4"]
        return not last4 or _masked_number(details.get("payment"))[-4:] == last4

    def _from_details(
        self, details: dict[str, Any], attempt: dict[str, Any], *, reviewed: bool = False
    ) -> ProcessorResult:
        status = str(details.get("transactionStatus") or "")
        trans_id = str(details.get("transId"))
        parameters = {
            "processor": NAME,
            "gateway_transaction_id": trans_id,
            "gateway_status": status[:40],
        }
        reason = str(details.get("responseReasonCode") or "")
        text = str(details.get("responseReasonDescription") or status)
        if status in REFUSED_STATUSES or (status == "voided" and reviewed):
            error = REASON_CODES.get(reason, ErrorCode.CARD_DECLINED)
            return _refusal(error, text, parameters)
        if status not in CHARGED_STATUSES:
            return ProcessorResult(
                id=None,
                error_code=ErrorCode.PENDING_REVIEW,
                error_message=_operator_text(f"not decided yet at the gateway ({status})"),
                parameters=parameters,
            )
        return ProcessorResult(id=trans_id, parameters=parameters)

    # -- tokens ---------------------------------------------------------------------------

    def _payment_profile(self, request: ConnectorRequest) -> dict[str, Any]:
        profile: dict[str, Any] = {"customerType": "individual"}
        if request.card:
            if request.card.postal_code:
                profile["billTo"] = {"zip": request.card.postal_code[:20]}
            profile["payment"] = {"creditCard": _credit_card(request)}
        else:
            profile["payment"] = {"bankAccount": _bank_account(request)}
        return profile

    def _recover_profile(
        self,
        answer: dict[str, Any],
        text: str,
        customer_id: str,
        payment_profile: dict[str, Any],
        request: ConnectorRequest,
    ) -> ProcessorResult:
        """E00039: the profile exists (this key's earlier try landed). Reuse it."""
        match = re.search(r"ID (\d+)", text)
        lookup = (
            {"customerProfileId": match.group(1)} if match else {"merchantCustomerId": customer_id}
        )
        found = self._call("getCustomerProfileRequest", lookup)
        if not _ok(found):
            raise ProcessorUnavailable("a duplicate profile was reported but cannot be read")
        profile = _dict(found.get("profile"))
        profile_id = _text(profile.get("customerProfileId")) or (match and match.group(1))
        last4 = request.card.last4 if request.card else request.bank.last4  # type: ignore[union-attr]
        for existing in profile.get("paymentProfiles") or []:
            if _masked_number(existing.get("payment"))[-4:] == last4:
                return self._token_result(
                    str(profile_id), str(existing.get("customerPaymentProfileId")), last4
                )
        content: dict[str, Any] = {
            "customerProfileId": profile_id,
            "paymentProfile": payment_profile,
        }
        if request.card and self.settings.validation_mode != "none":
            content["validationMode"] = self.settings.validation_mode
        added = self._call(
            "createCustomerPaymentProfileRequest", content, secrets=_secrets(request)
        )
        code, added_text = _first_message(added)
        payment_id = _text(added.get("customerPaymentProfileId"))
        if (_ok(added) or code == "E00039") and payment_id:
            return self._token_result(str(profile_id), payment_id, last4)
        return self._validation_refusal(added, code, added_text)

    def _token_result(self, profile_id: str, payment_id: str, last4: str) -> ProcessorResult:
        return ProcessorResult(
            id=f"{TOKEN_PREFIX}{profile_id}:{payment_id}",
            parameters={
                "processor": NAME,
                "customer_profile_id": profile_id,
                "customer_payment_profile_id": payment_id,
                "last4": last4,
            },
        )

    def _validation_refusal(self, answer: dict[str, Any], code: str, text: str) -> ProcessorResult:
        """A profile refused: the validation authorization's reason (liveMode) when given."""
        for line in answer.get("validationDirectResponseList") or []:
            fields = str(line).split(",")
            if len(fields) > 3 and fields[0] in ("2", "3"):
                error = REASON_CODES.get(fields[2], ErrorCode.CARD_DECLINED)
                return _refusal(
                    error, fields[3], {"processor": NAME, "gateway_reason_code": fields[2]}
                )
        if code in UNKNOWN_MESSAGE_CODES or not code:
            raise ProcessorUnavailable(f"Authorize.Net answered {code or 'no message code'}")
        return _refusal(
            MESSAGE_CODES.get(code, ErrorCode.PROCESSING_ERROR),
            text or "the gateway refused to save the payment method",
            {"processor": NAME, "gateway_message_code": code[:16]},
        )

    def _lookup_profile(self, attempt: dict[str, Any], outcome: dict[str, Any] | None) -> Lookup:
        if outcome:
            return _lookup_of(outcome)
        if not attempt["sends"]:
            return Lookup(status=LookupStatus.NOT_FOUND)
        try:
            found = self._call(
                "getCustomerProfileRequest", {"merchantCustomerId": attempt["reference"]}
            )
        except ProcessorUnavailable:
            return Lookup(status=LookupStatus.UNKNOWN)
        profile = found.get("profile") if _ok(found) else None
        if isinstance(profile, dict):
            for existing in profile.get("paymentProfiles") or []:
                if _masked_number(existing.get("payment"))[-4:] == attempt["last4"]:
                    token = self._token_result(
                        str(profile.get("customerProfileId")),
                        str(existing.get("customerPaymentProfileId")),
                        attempt["last4"],
                    ).id
                    return Lookup(status=LookupStatus.CHARGED, id=token)
        quiet = self._seconds_since(attempt["sent_at"]) >= QUIET_SECONDS
        return Lookup(status=LookupStatus.NOT_FOUND if quiet else LookupStatus.UNKNOWN)

    # -- refunds ----------------------------------------------------------------------------

    def _refund_payment(self, charge: ChargeRef) -> tuple[dict[str, Any], str | None]:
        """What refundTransaction needs of the original payment, masked (the gateway matches
        it against the original): last four and "XXXX" for a card, the masked bank details
        (read from the original transaction) for an eCheck."""
        if charge.payment_method == "card" and charge.last4:
            return {"creditCard": {"cardNumber": charge.last4, "expirationDate": "XXXX"}}, (
                charge.last4
            )
        details = self._details(charge.charge_id)
        payment = _dict(details.get("payment"))
        bank = payment.get("bankAccount")
        if isinstance(bank, dict):
            account: dict[str, Any] = {}
            for name in ("accountType", "routingNumber", "accountNumber", "nameOnAccount"):
                if bank.get(name):
                    account[name] = str(bank[name])
            account["echeckType"] = str(bank.get("echeckType") or "TEL")
            return {"bankAccount": account}, str(bank.get("accountNumber") or "")[-4:] or None
        number = _masked_number(payment)[-4:]
        return {"creditCard": {"cardNumber": number, "expirationDate": "XXXX"}}, number or None

    # -- plumbing ---------------------------------------------------------------------------

    def _refuse_before_sending(
        self, request: ConnectorRequest, *, charge: bool
    ) -> ProcessorResult | None:
        if charge and request.currency != self.settings.currency:
            return _refusal(
                ErrorCode.INVALID_CURRENCY,
                f"this Authorize.Net account takes {self.settings.currency} only",
            )
        if request.bank:
            kind = _bank_account_type(request.parameters)
            if kind == "commercial-checking":
                return _refusal(
                    ErrorCode.PAYMENT_METHOD_NOT_SUPPORTED,
                    "a business (commercial) checking account cannot be debited on a phone"
                    " authorisation (TEL is for personal accounts): pay by card or from a"
                    " personal checking or savings account",
                )
            if kind not in (None, "consumer-checking", "consumer-savings"):
                return _refusal(
                    ErrorCode.INVALID_REQUEST,
                    "bankAccountType must be consumer-checking, consumer-savings or"
                    " commercial-checking",
                )
        return None

    def _duplicate_window(self) -> dict[str, Any]:
        return {
            "setting": [
                {
                    "settingName": "duplicateWindow",
                    "settingValue": str(self.settings.duplicate_window),
                }
            ]
        }

    def _resend_horizon(self) -> float:
        return max(0.0, self.settings.duplicate_window - RESEND_MARGIN_SECONDS)

    def _new_row(
        self,
        key: str,
        kind: str,
        *,
        invoice: str | None = None,
        amount: Decimal | None = None,
        currency: str | None = None,
        last4: str | None = None,
        reference: str | None = None,
        template: str | None = None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        return {
            "idempotency_key": key,
            "kind": kind,
            "invoice_number": invoice,
            "ref_id": _digest_text(f"ref:{kind}:{key}")[:20],
            "amount": str(amount) if amount is not None else None,
            "currency": currency,
            "last4": last4,
            "reference": reference,
            "template": template,
            "digest": digest,
            "created_at": _iso(self.now()),
            "sent_at": None,
            "sends": 0,
            "outcome": None,
            "gateway_id": None,
        }

    def _finish(self, key: str, result: ProcessorResult) -> ProcessorResult:
        self.store.anet_finish_attempt(key, _outcome(result))
        return result

    def _digest(self, text: str) -> str:
        return hmac.new(self.settings.hmac_key, text.encode(), hashlib.sha256).hexdigest()

    def _seconds_since(self, iso: str | None) -> float:
        if not iso:
            return float("inf")
        return (self.now() - _parse_iso(iso)).total_seconds()

    def _details(self, trans_id: str) -> dict[str, Any]:
        answer = self._report("getTransactionDetailsRequest", {"transId": trans_id})
        details = answer.get("transaction")
        if not isinstance(details, dict):
            raise ProcessorUnavailable("getTransactionDetails answered without a transaction")
        return details

    def _report(self, request_name: str, content: dict[str, Any]) -> dict[str, Any]:
        answer = self._call(request_name, content)
        if not _ok(answer):
            code, _ = _first_message(answer)
            raise ProcessorUnavailable(f"Authorize.Net {request_name} answered {code[:16]}")
        return answer

    def _call(
        self,
        request_name: str,
        content: dict[str, Any],
        *,
        ref_id: str | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API call: the body in XSD order (authentication, refId, the method's own)."""
        body: dict[str, Any] = {
            "merchantAuthentication": {
                "name": self.settings.login_id,
                "transactionKey": self.settings.transaction_key,
            }
        }
        if ref_id:
            body["refId"] = ref_id
        body.update(content)
        text = json.dumps({request_name: body})
        if secrets:
            text = _fill(text, secrets)
        reply = self.client.post(text.encode(), headers={"Content-Type": "application/json"})
        if reply.status != 200:
            raise ProcessorUnavailable(f"Authorize.Net answered HTTP {reply.status}")
        return _decode(reply.content)


# -- request pieces, each in XSD order --------------------------------------------------------


def _credit_card(request: ConnectorRequest) -> dict[str, Any]:
    card = request.card
    assert card is not None
    credit_card: dict[str, Any] = {
        "cardNumber": _PAN,
        "expirationDate": f"{card.expiry_year:04d}-{card.expiry_month:02d}",
    }
    if card.cvv:
        credit_card["cardCode"] = _CVV
    return credit_card


def _bank_account(request: ConnectorRequest) -> dict[str, Any]:
    bank = request.bank
    assert bank is not None
    account: dict[str, Any] = {}
    kind = _bank_account_type(request.parameters)
    if kind:
        account["accountType"] = "savings" if kind == "consumer-savings" else "checking"
    account["routingNumber"] = bank.routing_number
    account["accountNumber"] = _ACCOUNT
    account["nameOnAccount"] = _name_on_account(request.parameters)
    account["echeckType"] = "TEL"
    return account


def _secrets(request: ConnectorRequest) -> dict[str, str]:
    if request.card:
        found = {_PAN: request.card.number}
        if request.card.cvv:
            found[_CVV] = request.card.cvv
        return found
    assert request.bank is not None
    return {_ACCOUNT: request.bank.account_number}


def _fill(template: str, secrets: Mapping[str, str]) -> str:
    for placeholder, value in secrets.items():
        template = template.replace(json.dumps(placeholder), json.dumps(value))
    return template


def _order(invoice: str, description: str | None) -> dict[str, Any]:
    order: dict[str, Any] = {"invoiceNumber": invoice}
    if description:
        order["description"] = description
    return order


def _param(parameters: Mapping[str, str], *names: str) -> str | None:
    lowered = {str(k).lower(): v for k, v in parameters.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value:
            return str(value)
    return None


def _bank_account_type(parameters: Mapping[str, str]) -> str | None:
    value = _param(parameters, "bankAccountType", "bank_account_type")
    return value.strip().lower() if value else None


def _name_on_account(parameters: Mapping[str, str]) -> str:
    name = _param(parameters, "AVSName")
    if not name:
        log.warning("authorize_net: no AVSName <Parameter>: nameOnAccount is %r", ACCOUNT_HOLDER)
        name = ACCOUNT_HOLDER
    clean = "".join(char for char in name if " " <= char <= "~").strip()
    return mask_secrets(clean)[:22] or ACCOUNT_HOLDER


def _invoice_hint(parameters: Mapping[str, str]) -> str | None:
    value = _param(parameters, "invoice_number", "invoice", "invoiceNumber")
    if not value:
        return None
    clean = "".join(char for char in value if char.isascii() and char.isalnum())
    return clean[:8] or None


def _invoice_number(kind: str, key: str, hint: str | None) -> str:
    """Unique per attempt (one per idempotency key), at most 20 characters, readable in the
    Merchant Interface when the <Pay> named an invoice: `1001-K7Q2...`."""
    digest = _digest_text(f"{kind}:1:{key}")
    return f"{hint}-{digest[:11]}" if hint else f"PL{digest[:18]}"


def _merchant_customer_id(key: str) -> str:
    return "PL" + _digest_text(f"customer:{key}")[:18]


def _digest_text(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(raw).decode().rstrip("=")


def _description(description: str | None, parameters: Mapping[str, str]) -> str | None:
    text = description or _param(parameters, "description")
    if not text:
        return None
    return mask_secrets(text)[:255]


def _amount_text(amount: Decimal | None) -> str:
    assert amount is not None
    return f"{amount:.2f}"


def _parse_token(token: str) -> tuple[str, str] | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    parts = token[len(TOKEN_PREFIX) :].split(":")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return parts[0], parts[1]


# -- reading answers --------------------------------------------------------------------------


def _decode(content: bytes) -> dict[str, Any]:
    """The body as JSON, with the UTF-8 BOM Authorize.Net puts in front of it removed."""
    try:
        body = json.loads(content.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProcessorUnavailable("Authorize.Net answered with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise ProcessorUnavailable("Authorize.Net answered with JSON that is not an object")
    return body


def _ok(answer: dict[str, Any]) -> bool:
    messages = answer.get("messages")
    return isinstance(messages, dict) and messages.get("resultCode") == "Ok"


def _first_message(answer: dict[str, Any]) -> tuple[str, str]:
    messages = answer.get("messages")
    items = messages.get("message") if isinstance(messages, dict) else None
    if isinstance(items, dict):
        items = [items]
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return str(items[0].get("code") or ""), str(items[0].get("text") or "")
    return "", ""


def _transaction_response(answer: dict[str, Any]) -> dict[str, Any] | None:
    response = answer.get("transactionResponse")
    return response if isinstance(response, dict) else None


def _reason(response: dict[str, Any]) -> tuple[str | None, str]:
    for key, code_key, text_key in (
        ("errors", "errorCode", "errorText"),
        ("messages", "code", "description"),
    ):
        items = response.get(key)
        if isinstance(items, dict):
            items = [items]
        if isinstance(items, list) and items and isinstance(items[0], dict):
            return str(items[0].get(code_key) or "") or None, str(items[0].get(text_key) or "")
    return None, ""


def _request_refusal(answer: dict[str, Any]) -> ProcessorResult:
    """No transactionResponse: the request was refused before any processing."""
    code, text = _first_message(answer)
    if code in UNKNOWN_MESSAGE_CODES or not code:
        raise ProcessorUnavailable(f"Authorize.Net answered {code or 'no message code'}")
    if code in ("E00003", "E00007"):
        log.error("authorize_net: %s: %s", code, _operator_text(text))
    return _refusal(
        MESSAGE_CODES.get(code, ErrorCode.PROCESSING_ERROR),
        text or "the gateway refused the request",
        {"processor": NAME, "gateway_message_code": code[:16]},
    )


def _parameters(response: dict[str, Any], answer: dict[str, Any]) -> dict[str, str]:
    found = {"processor": NAME}
    for name, key in (
        ("responseCode", "gateway_response_code"),
        ("transId", "gateway_transaction_id"),
        ("authCode", "gateway_auth_code"),
        ("avsResultCode", "avs_result"),
        ("cvvResultCode", "cvv_result"),
        ("accountType", "gateway_account_type"),
    ):
        value = response.get(name)
        if value not in (None, ""):
            found[key] = _plain(value)
    reason, _ = _reason(response)
    if reason:
        found["gateway_reason_code"] = reason[:16]
    return found


def _refusal(
    error: ErrorCode, text: str, parameters: dict[str, str] | None = None
) -> ProcessorResult:
    return ProcessorResult(
        id=None,
        error_code=str(error),
        error_message=_operator_text(text),
        parameters=parameters or {"processor": NAME},
    )


def _mismatch() -> ProcessorResult:
    return _refusal(
        ErrorCode.IDEMPOTENCY_MISMATCH,
        "this idempotency key was used for another operation or other payment details",
    )


def _plain(value: Any) -> str:
    """A gateway id or result code, as it is: short, printable, never card data (the masked
    accountNumber is not among them)."""
    return "".join(char for char in str(value) if " " < char <= "~")[:40]


_ECHOED_VALUE = re.compile(r"(?i)(\bvalue\s+)'[^']*'")


def _operator_text(text: str) -> str:
    """Gateway text for the operator. A schema error (E00003) may quote the refused value
    ("The value '…' is invalid"), which can be a card field: quoted values are cut out, and
    anything card-shaped or longer than three digits is masked."""
    return mask_long_numbers(_ECHOED_VALUE.sub(r"\1'***'", str(text)))[:200]


def _outcome(result: ProcessorResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "error_code": result.error_code,
        "error_message": result.error_message,
        "parameters": result.parameters,
        "gateway_id": result.id or result.parameters.get("gateway_transaction_id"),
    }


def _stored_result(attempt: dict[str, Any]) -> ProcessorResult:
    outcome = json.loads(attempt["outcome"])
    return ProcessorResult(
        id=outcome["id"],
        error_code=outcome["error_code"],
        error_message=outcome["error_message"],
        parameters=outcome["parameters"],
    )


def _lookup_of(
    outcome: dict[str, Any], amount: Decimal | None = None, currency: str | None = None
) -> Lookup:
    if outcome.get("error_code") == ErrorCode.PENDING_REVIEW:
        return Lookup(status=LookupStatus.UNKNOWN, amount=amount, currency=currency)
    if outcome.get("id"):
        return Lookup(
            status=LookupStatus.CHARGED, id=outcome["id"], amount=amount, currency=currency
        )
    return Lookup(
        status=LookupStatus.REFUSED,
        error_code=outcome.get("error_code"),
        amount=amount,
        currency=currency,
    )


def _masked_number(payment: Any) -> str:
    if not isinstance(payment, dict):
        return ""
    for kind, key in (("creditCard", "cardNumber"), ("bankAccount", "accountNumber")):
        inner = payment.get(kind)
        if isinstance(inner, dict) and inner.get(key):
            return str(inner[key])
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value)
    return text or None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_seconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# -- settings and registration (PROCESSOR=authorize_net) ------------------------------------


def _login_id(text: str) -> str:
    if not 1 <= len(text) <= 25 or not text.isascii() or not text.isprintable():
        raise SettingError("must be the API Login ID: 1 to 25 characters")
    return text


def _transaction_key(text: str) -> str:
    if len(text) != 16 or not text.isascii() or not text.isalnum():
        raise SettingError("must be the 16-character Transaction Key")
    return text


def _api_url(text: str) -> str:
    problem = url_problem("", text)
    if problem:
        raise SettingError(problem.strip())
    return text


def _market_type(text: str) -> str | None:
    choices = {"moto": "1", "1": "1", "retail": "2", "2": "2", "ecommerce": "0", "0": "0"}
    if text.lower() == "none":
        return None
    if text.lower() not in choices:
        raise SettingError("must be moto (1, a telephone order), retail (2), ecommerce (0) or none")
    return choices[text.lower()]


SETTINGS = (
    Setting("AUTHORIZE_NET_API_LOGIN_ID", _login_id, required=True, help="API Login ID"),
    Setting(
        "AUTHORIZE_NET_TRANSACTION_KEY",
        _transaction_key,
        required=True,
        secret=True,
        help="Transaction Key",
    ),
    Setting(
        "AUTHORIZE_NET_ENVIRONMENT",
        one_of("sandbox", "production"),
        default="sandbox",
        help="which Authorize.Net environment the credentials belong to",
    ),
    Setting(
        "AUTHORIZE_NET_API_URL",
        _api_url,
        secret=True,
        help="override the environment's endpoint (a local fake gateway: http on loopback)",
    ),
    Setting(
        "AUTHORIZE_NET_DUPLICATE_WINDOW_SECONDS",
        integer(120, MAX_DUPLICATE_WINDOW),
        default=1800,
        help="the gateway's duplicate window, sent with every transaction",
    ),
    Setting(
        "AUTHORIZE_NET_MARKET_TYPE",
        _market_type,
        default="1",
        help="retail.marketType: moto (telephone order, default), retail, ecommerce, none",
    ),
    Setting(
        "AUTHORIZE_NET_VALIDATION_MODE",
        one_of("liveMode", "testMode", "none"),
        default="liveMode",
        help="how a saved card is validated (liveMode: a $0/$0.01 authorization)",
    ),
    Setting(
        "AUTHORIZE_NET_CURRENCY",
        one_of("USD", "CAD", "GBP", "EUR", "AUD", "NZD", "CHF", "DKK", "NOK", "PLN", "SEK"),
        default="USD",
        help="the account's currency; other currencies are refused before sending",
    ),
    Setting(
        "AUTHORIZE_NET_TIMEOUT_SECONDS",
        number(1, MAX_GATEWAY_SECONDS),
        default=8.0,
        help="the whole exchange's time budget, inside Twilio's 10 s",
    ),
)


def settings_from(config: Mapping[str, Any]) -> AuthorizeNetSettings:
    environment = config["AUTHORIZE_NET_ENVIRONMENT"]
    return AuthorizeNetSettings(
        login_id=config["AUTHORIZE_NET_API_LOGIN_ID"],
        transaction_key=config["AUTHORIZE_NET_TRANSACTION_KEY"],
        url=config.get("AUTHORIZE_NET_API_URL") or ENDPOINTS[environment],
        hmac_key=str(config["SECRET_KEY"]).encode(),
        duplicate_window=int(config["AUTHORIZE_NET_DUPLICATE_WINDOW_SECONDS"]),
        market_type=config["AUTHORIZE_NET_MARKET_TYPE"],
        validation_mode=config["AUTHORIZE_NET_VALIDATION_MODE"],
        currency=config["AUTHORIZE_NET_CURRENCY"],
        timeout_seconds=float(config["AUTHORIZE_NET_TIMEOUT_SECONDS"]),
    )


def _check(config: Mapping[str, Any]) -> list[str]:
    problems = []
    url = config.get("AUTHORIZE_NET_API_URL")
    environment = config.get("AUTHORIZE_NET_ENVIRONMENT")
    if url and environment == "production" and url.startswith("http://"):
        problems.append("AUTHORIZE_NET_API_URL must be https:// in production")
    if config.get("PAYLINE_ENV") == "production" and environment == "sandbox":
        log.warning(
            "PROCESSOR=authorize_net on Authorize.Net's SANDBOX: no real money moves "
            "(set AUTHORIZE_NET_ENVIRONMENT=production with production credentials to go live)"
        )
    return problems


def _build(context: BuildContext) -> StoreBound:
    settings = settings_from(context.settings)
    client = GatewayClient(settings.url, timeout_seconds=settings.timeout_seconds)
    memory = MemoryAuthorizeNetStore()

    def bind(store: AuthorizeNetStore | None) -> AuthorizeNetProcessor:
        """The request's store (storage.Store has the adapter's statements); None only in
        tests that build the adapter without a database."""
        return AuthorizeNetProcessor(settings, store or memory, client=client)

    return bind


SPEC = ProcessorSpec(name=NAME, build=_build, settings=SETTINGS, check=_check)
