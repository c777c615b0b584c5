"""A local fake Authorize.Net JSON API, served over real HTTP on loopback, for end-to-end tests.

It answers as the API reference and the official sample code do (written from
../shared/reference/authorize-net-facts.md, not from the adapter): one URL for every method,
a UTF-8 BOM before each body, request elements checked in XSD order (E00003 otherwise),
credentials checked (E00007), the duplicate window over the transaction's data (reason 11,
with the original's transId), Customer Information Manager profiles (E00039 on a duplicate),
refunds and voids, the unsettled-transaction list and the transaction details.

Triggers, as in the sandbox: ZIP 46282 declines (rc 2), eChecks above $100 decline, an amount
ending in .44 is held for review (rc 4), one ending in .53 is booked at once and answered after
`slow_seconds` (a lost answer when the adapter's timeout is shorter).

Card and account numbers are kept in memory only (as a gateway would keep them) and never
logged; what the tests read back is masked like the real reports.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

BOM = b"\xef\xbb\xbf"
NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
LOGIN = "fake-login"
KEY = "FakeTransKey0123"

_BASE = ["merchantAuthentication", "clientId", "refId"]
_TRANSACTION = [
    "transactionType", "amount", "currencyCode", "payment", "profile", "solution", "callId",
    "terminalNumber", "authCode", "refTransId", "splitTenderId", "order", "lineItems", "tax",
    "duty", "shipping", "taxExempt", "poNumber", "customer", "billTo", "shipTo", "customerIP",
    "cardholderAuthentication", "retail", "employeeId", "transactionSettings", "userFields",
    "surcharge", "merchantDescriptor", "subMerchant", "tip", "processingOptions",
    "subsequentAuthInformation", "otherTax", "shipFrom", "authorizationIndicatorType",
]  # fmt: skip
_PAYMENT = {
    "__order__": ["creditCard", "bankAccount", "trackData", "opaqueData", "dataSource"],
    "creditCard": {"__order__": ["cardNumber", "expirationDate", "cardCode", "isPaymentToken"]},
    "bankAccount": {
        "__order__": [
            "accountType",
            "routingNumber",
            "accountNumber",
            "nameOnAccount",
            "echeckType",
            "bankName",
            "checkNumber",
        ]  # fmt: skip
    },
}
_BILL_TO = {
    "__order__": [
        "firstName",
        "lastName",
        "company",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "phoneNumber",
        "faxNumber",
        "email",
    ]  # fmt: skip
}
_PAYMENT_PROFILE = {
    "__order__": ["customerType", "billTo", "payment", "driversLicense", "taxId",
                  "defaultPaymentProfile"],
    "billTo": _BILL_TO,
    "payment": _PAYMENT,
}  # fmt: skip
_SORTING = {"__order__": ["orderBy", "orderDescending"]}
_PAGING = {"__order__": ["limit", "offset"]}
_AUTH = {"__order__": ["name", "transactionKey"]}
SCHEMA: dict[str, dict[str, Any]] = {
    "createTransactionRequest": {
        "__order__": [*_BASE, "transactionRequest"],
        "merchantAuthentication": _AUTH,
        "transactionRequest": {
            "__order__": _TRANSACTION,
            "payment": _PAYMENT,
            "profile": {
                "__order__": ["createProfile", "customerProfileId", "paymentProfile",
                              "shippingProfileId"],
                "paymentProfile": {"__order__": ["paymentProfileId", "cardCode"]},
            },
            "order": {"__order__": ["invoiceNumber", "description"]},
            "billTo": _BILL_TO,
            "retail": {"__order__": ["marketType", "deviceType", "customerSignature"]},
            "transactionSettings": {"__order__": ["setting"]},
        },
    },
    "createCustomerProfileRequest": {
        "__order__": [*_BASE, "profile", "validationMode"],
        "merchantAuthentication": _AUTH,
        "profile": {
            "__order__": ["merchantCustomerId", "description", "email", "paymentProfiles",
                          "shipToList", "profileType"],
            "paymentProfiles": _PAYMENT_PROFILE,
        },
    },
    "createCustomerPaymentProfileRequest": {
        "__order__": [*_BASE, "customerProfileId", "paymentProfile", "validationMode"],
        "merchantAuthentication": _AUTH,
        "paymentProfile": _PAYMENT_PROFILE,
    },
    "getCustomerProfileRequest": {
        "__order__": [*_BASE, "customerProfileId", "merchantCustomerId", "email",
                      "unmaskExpirationDate", "includeIssuerInfo"],
        "merchantAuthentication": _AUTH,
    },
    "getTransactionDetailsRequest": {
        "__order__": [*_BASE, "transId"], "merchantAuthentication": _AUTH,
    },
    "getUnsettledTransactionListRequest": {
        "__order__": [*_BASE, "status", "sorting", "paging"],
        "merchantAuthentication": _AUTH, "sorting": _SORTING, "paging": _PAGING,
    },
    "getSettledBatchListRequest": {
        "__order__": [*_BASE, "includeStatistics", "firstSettlementDate", "lastSettlementDate"],
        "merchantAuthentication": _AUTH,
    },
    "getTransactionListRequest": {
        "__order__": [*_BASE, "batchId", "sorting", "paging"],
        "merchantAuthentication": _AUTH, "sorting": _SORTING, "paging": _PAGING,
    },
}  # fmt: skip

REASONS = {
    "1": "This transaction has been approved.",
    "2": "This transaction has been declined.",
    "11": "A duplicate transaction has been submitted.",
    "16": "The transaction cannot be found.",
    "54": "The referenced transaction does not meet the criteria for issuing a credit.",
    "55": "The sum of credits against the referenced transaction would exceed original debit"
    " amount.",
    "252": "Your order has been received. Thank you for your business!",
    "310": "This transaction has already been voided.",
}


class OrderError(Exception):
    pass


def check_order(name: str, value: Any, schema: dict[str, Any]) -> None:
    """E00003 as the gateway words it, for the first child out of XSD order (or unknown)."""
    if isinstance(value, list):
        for item in value:
            check_order(name, item, schema)
        return
    if not isinstance(value, dict):
        return
    order = schema["__order__"]
    position = -1
    for child in value:
        if child not in order or order.index(child) <= position:
            expected = ", ".join(f"'{e}'" for e in order[position + 1 :]) or "none"
            raise OrderError(
                f"The element '{name}' in namespace '{NS}' has invalid child element '{child}'"
                f" in namespace '{NS}'. List of possible elements expected: {expected} in"
                f" namespace '{NS}'."
            )
        position = order.index(child)
        if child in schema:
            check_order(child, value[child], schema[child])


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeAuthorizeNet:
    """The gateway's state and its WSGI app. Thread-safe; `serve()` runs it on loopback."""

    def __init__(self, *, slow_seconds: float = 2.0, login: str = LOGIN, key: str = KEY):
        self.slow_seconds = slow_seconds
        self.login, self.key = login, key
        self.lock = threading.Lock()
        self.transactions: dict[str, dict[str, Any]] = {}
        self.recent: list[tuple[tuple, float, str]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self._next_id = 60_000_000_000
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None

    # -- what the tests read ------------------------------------------------------------

    def charges(self) -> list[dict[str, Any]]:
        """Every approved (or held) auth-capture, as the reports show them (masked)."""
        with self.lock:
            return [
                dict(t)
                for t in self.transactions.values()
                if t["transactionType"] == "authCaptureTransaction"
                and t["responseCode"] in ("1", "4")
            ]

    # -- serving ------------------------------------------------------------------------

    def serve(self) -> FakeAuthorizeNet:
        server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/xml/v1/request.api"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wsgi(self, environ, start_response):
        request = Request(environ)
        status, body, delay = self.handle(request.get_data())
        if delay:
            time.sleep(delay)
        response = Response(
            BOM + json.dumps(body, default=str).encode(),
            status=status,
            content_type="application/json; charset=utf-8",
        )
        return response(environ, start_response)

    def handle(self, raw: bytes) -> tuple[int, dict[str, Any], float]:
        try:
            document = json.loads(raw, parse_float=Decimal)
            (name, body), *rest = document.items()
            assert not rest and isinstance(body, dict)
        except Exception:
            return 200, _error("E00002", "The content-type specified is not supported."), 0
        with self.lock:
            self.requests[name] += 1
        if name not in SCHEMA:
            return 200, _error("E00004", "The name of the requested API is not recognized."), 0
        try:
            check_order(name, body, SCHEMA[name])
        except OrderError as error:
            return 200, _error("E00003", str(error), body.get("refId")), 0
        auth = body.get("merchantAuthentication") or {}
        if auth.get("name") != self.login or auth.get("transactionKey") != self.key:
            return (
                200,
                _error(
                    "E00007",
                    "User authentication failed due to invalid authentication values.",
                    body.get("refId"),
                ),
                0,
            )
        handler = getattr(self, "_" + name)
        answer, delay = handler(body)
        if body.get("refId"):
            answer = {**answer, "refId": body["refId"]}
        return 200, answer, delay

    # -- transactions ---------------------------------------------------------------------

    def _createTransactionRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        tr = body["transactionRequest"]
        kind = tr.get("transactionType")
        if kind == "voidTransaction":
            return self._void(tr), 0
        amount = Decimal(str(tr.get("amount")))
        settings = {
            s["settingName"]: s["settingValue"]
            for s in (tr.get("transactionSettings") or {}).get("setting", [])
        }
        window = int(settings.get("duplicateWindow", 120))
        payment = tr.get("payment") or {}
        card = payment.get("creditCard")
        bank = payment.get("bankAccount")
        profile = tr.get("profile")
        invoice = (tr.get("order") or {}).get("invoiceNumber")
        identity = json.dumps([card, bank, profile], sort_keys=True)
        dup_key = (kind, identity, str(amount), invoice, json.dumps(tr.get("billTo")))
        with self.lock:
            now = time.monotonic()
            self.recent = [r for r in self.recent if now - r[1] < 28800]
            for key, at, trans_id in self.recent:
                if key == dup_key and window > 0 and now - at < window:
                    original = self.transactions[trans_id]
                    return self._answer(
                        original, response_code="3", reason="11", trans_id=trans_id
                    ), 0
            trans_id = str(self._next_id)
            self._next_id += 1
            record = self._book(trans_id, tr, kind, amount, card, bank, profile, invoice)
            self.recent.append((dup_key, now, trans_id))
        delay = self.slow_seconds if f"{amount:.2f}".endswith(".53") else 0
        return self._answer(record), delay

    def _book(self, trans_id, tr, kind, amount, card, bank, profile, invoice) -> dict[str, Any]:
        number, account_type, masked_payment = "", "", {}
        if profile:
            stored = self.profiles.get(str(profile.get("customerProfileId")))
            wanted = str((profile.get("paymentProfile") or {}).get("paymentProfileId"))
            found = [p for p in (stored or {}).get("paymentProfiles", []) if p["id"] == wanted]
            if not found:
                record = self._record(trans_id, tr, kind, amount, invoice, "3", "E00040", "", {})
                record["reasonText"] = "The record cannot be found."
                return record
            masked_payment = found[0]["masked"]
            number = _masked(masked_payment)
            account_type = "eCheck" if "bankAccount" in masked_payment else "Visa"
        elif card:
            number = "XXXX" + str(card["cardNumber"])[-4:]
            expiry = "XXXX" if kind == "refundTransaction" else "XXXX"
            masked_payment = {"creditCard": {"cardNumber": number, "expirationDate": expiry}}
            account_type = "Visa"
        elif bank:
            number = "XXXX" + str(bank["accountNumber"])[-4:]
            masked_payment = {
                "bankAccount": {
                    "accountType": bank.get("accountType", "checking"),
                    "routingNumber": "XXXX" + str(bank["routingNumber"])[-4:],
                    "accountNumber": number,
                    "nameOnAccount": bank.get("nameOnAccount"),
                    "echeckType": bank.get("echeckType"),
                }
            }
            account_type = "eCheck"
        code, reason = "1", "1"
        zip_code = (tr.get("billTo") or {}).get("zip")
        if kind == "refundTransaction":
            original = self.transactions.get(str(tr.get("refTransId")))
            refunded = sum(
                (t["amount"] for t in self.transactions.values()
                 if t.get("refTransId") == tr.get("refTransId")
                 and t["transactionType"] == "refundTransaction" and t["responseCode"] == "1"),
                Decimal(0),
            )  # fmt: skip
            if original is None:
                code, reason = "3", "16"
            elif refunded + amount > original["amount"]:
                code, reason = "3", "55"
        elif zip_code == "46282" or (bank and amount > 100):
            code, reason = "2", "2"
        elif f"{amount:.2f}".endswith(".44"):
            code, reason = "4", "252"
        return self._record(
            trans_id, tr, kind, amount, invoice, code, reason, number, masked_payment,
            account_type=account_type,
        )  # fmt: skip

    def _record(
        self, trans_id, tr, kind, amount, invoice, code, reason, number, masked_payment,
        account_type="",
    ) -> dict[str, Any]:  # fmt: skip
        status = {
            "1": "refundPendingSettlement"
            if kind == "refundTransaction"
            else "capturedPendingSettlement",
            "2": "declined",
            "3": "generalError",
            "4": "FDSPendingReview",
        }[code]
        record = {
            "transId": trans_id,
            "transactionType": kind,
            "transactionStatus": status,
            "responseCode": code,
            "reasonCode": reason,
            "reasonText": REASONS.get(reason, "This transaction has been declined."),
            "invoiceNumber": invoice,
            "description": (tr.get("order") or {}).get("description"),
            "amount": amount,
            "accountNumber": number,
            "accountType": account_type,
            "payment": masked_payment,
            "submitTimeUTC": _now(),
            "refTransId": tr.get("refTransId"),
            "profile": tr.get("profile"),
        }
        self.transactions[trans_id] = record
        return record

    def _void(self, tr: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            original = self.transactions.get(str(tr.get("refTransId")))
            if original is None:
                return self._bare(response_code="3", reason="16", trans_id="0")
            if original["transactionStatus"] == "voided":
                return self._answer(original, response_code="3", reason="310")
            original["transactionStatus"] = "voided"
            return self._answer(original, response_code="1", reason="1")

    def _answer(
        self,
        record: dict[str, Any],
        *,
        response_code: str | None = None,
        reason: str | None = None,
        trans_id: str | None = None,
    ) -> dict[str, Any]:
        code = response_code or record["responseCode"]
        reason = reason or record["reasonCode"]
        response: dict[str, Any] = {
            "responseCode": code,
            "authCode": "HW617E" if code == "1" else "",
            "avsResultCode": "Y" if record["accountType"] != "eCheck" else "P",
            "cvvResultCode": "M" if record["accountType"] != "eCheck" else "",
            "cavvResultCode": "",
            "transId": trans_id or record["transId"],
            "refTransID": record.get("refTransId") or "",
            "transHash": "",
            "testRequest": "0",
            "accountNumber": record["accountNumber"],
            "accountType": record["accountType"],
        }
        text = REASONS.get(reason, record["reasonText"])
        if code in ("1", "4"):
            response["messages"] = [{"code": reason, "description": text}]
            messages = {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}
        else:
            response["errors"] = [{"errorCode": reason, "errorText": text}]
            messages = {
                "resultCode": "Error",
                "message": [{"code": "E00027", "text": "The transaction was unsuccessful."}],
            }
        return {"transactionResponse": response, "messages": messages}

    def _bare(self, *, response_code: str, reason: str, trans_id: str) -> dict[str, Any]:
        return {
            "transactionResponse": {
                "responseCode": response_code,
                "transId": trans_id,
                "errors": [{"errorCode": reason, "errorText": REASONS.get(reason, "")}],
            },
            "messages": {
                "resultCode": "Error",
                "message": [{"code": "E00027", "text": "The transaction was unsuccessful."}],
            },
        }

    # -- reports -------------------------------------------------------------------------

    def _getTransactionDetailsRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        with self.lock:
            record = self.transactions.get(str(body.get("transId")))
            if record is None:
                return _error("E00040", "The record cannot be found."), 0
            details = {
                "transId": record["transId"],
                "refTransId": record["refTransId"],
                "submitTimeUTC": record["submitTimeUTC"],
                "transactionType": record["transactionType"],
                "transactionStatus": record["transactionStatus"],
                "responseCode": int(record["responseCode"]),
                "responseReasonCode": int(record["reasonCode"])
                if record["reasonCode"].isdigit()
                else 0,
                "responseReasonDescription": record["reasonText"],
                "authCode": "HW617E" if record["responseCode"] == "1" else "",
                "order": {
                    "invoiceNumber": record["invoiceNumber"],
                    "description": record["description"],
                },
                "authAmount": record["amount"],
                "settleAmount": record["amount"],
                "payment": record["payment"],
            }
        return {"transaction": details, "messages": _ok()}, 0

    def _getUnsettledTransactionListRequest(
        self, body: dict[str, Any]
    ) -> tuple[dict[str, Any], float]:
        paging = body.get("paging") or {"limit": 1000, "offset": 1}
        limit, offset = int(paging["limit"]), int(paging["offset"])
        with self.lock:
            rows = sorted(
                self.transactions.values(), key=lambda t: t["submitTimeUTC"], reverse=True
            )
            page = rows[(offset - 1) * limit : offset * limit]
            listed = [
                {
                    "transId": t["transId"],
                    "submitTimeUTC": t["submitTimeUTC"],
                    "transactionStatus": t["transactionStatus"],
                    "invoiceNumber": t["invoiceNumber"],
                    "accountType": t["accountType"],
                    "accountNumber": t["accountNumber"],
                    "settleAmount": t["amount"],
                    "marketType": "eCommerce",
                    "product": "Card Not Present",
                }
                for t in page
            ]
        return {"transactions": listed, "totalNumInResultSet": len(rows), "messages": _ok()}, 0

    def _getSettledBatchListRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return {"messages": _ok()}, 0  # nothing settles while a test runs

    def _getTransactionListRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return {"totalNumInResultSet": 0, "messages": _ok()}, 0

    # -- Customer Information Manager -------------------------------------------------------

    def _createCustomerProfileRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        profile = body["profile"]
        with self.lock:
            for profile_id, existing in self.profiles.items():
                if (existing["merchantCustomerId"], existing["description"]) == (
                    profile.get("merchantCustomerId"),
                    profile.get("description"),
                ):
                    return _error(
                        "E00039", f"A duplicate record with ID {profile_id} already exists."
                    ), 0
            profile_id = str(self._next_id)
            self._next_id += 1
            self.profiles[profile_id] = {
                "merchantCustomerId": profile.get("merchantCustomerId"),
                "description": profile.get("description"),
                "paymentProfiles": [],
            }
            ids = [self._add_payment(profile_id, p) for p in profile.get("paymentProfiles", [])]
        return {
            "customerProfileId": profile_id,
            "customerPaymentProfileIdList": ids,
            "customerShippingAddressIdList": [],
            "validationDirectResponseList": [],
            "messages": _ok(),
        }, 0

    def _add_payment(self, profile_id: str, payment_profile: dict[str, Any]) -> str:
        payment = payment_profile.get("payment") or {}
        if "creditCard" in payment:
            secret = payment["creditCard"]["cardNumber"]
            masked = {"creditCard": {"cardNumber": "XXXX" + secret[-4:], "expirationDate": "XXXX"}}
        else:
            secret = payment["bankAccount"]["accountNumber"]
            masked = {"bankAccount": {"accountNumber": "XXXX" + secret[-4:]}}
        payment_id = str(self._next_id)
        self._next_id += 1
        self.profiles[profile_id]["paymentProfiles"].append(
            {"id": payment_id, "masked": masked, "fingerprint": hash(secret)}
        )
        return payment_id

    def _createCustomerPaymentProfileRequest(
        self, body: dict[str, Any]
    ) -> tuple[dict[str, Any], float]:
        profile_id = str(body.get("customerProfileId"))
        with self.lock:
            if profile_id not in self.profiles:
                return _error("E00040", "The record cannot be found."), 0
            payment = body["paymentProfile"].get("payment") or {}
            inner = payment.get("creditCard") or payment.get("bankAccount") or {}
            secret = inner.get("cardNumber") or inner.get("accountNumber")
            for existing in self.profiles[profile_id]["paymentProfiles"]:
                if existing["fingerprint"] == hash(secret):
                    answer = _error(
                        "E00039", "A duplicate customer payment profile already exists."
                    )
                    return {"customerPaymentProfileId": existing["id"], **answer}, 0
            payment_id = self._add_payment(profile_id, body["paymentProfile"])
        return {
            "customerProfileId": profile_id,
            "customerPaymentProfileId": payment_id,
            "messages": _ok(),
        }, 0

    def _getCustomerProfileRequest(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        with self.lock:
            found = None
            for profile_id, existing in self.profiles.items():
                if profile_id == str(body.get("customerProfileId")) or (
                    body.get("merchantCustomerId")
                    and existing["merchantCustomerId"] == body.get("merchantCustomerId")
                ):
                    found = (profile_id, existing)
            if found is None:
                return _error("E00040", "The record cannot be found."), 0
            profile_id, existing = found
            return {
                "profile": {
                    "paymentProfiles": [
                        {"customerPaymentProfileId": p["id"], "payment": p["masked"]}
                        for p in existing["paymentProfiles"]
                    ],
                    "customerProfileId": profile_id,
                    "merchantCustomerId": existing["merchantCustomerId"],
                    "description": existing["description"],
                },
                "messages": _ok(),
            }, 0


def _ok() -> dict[str, Any]:
    return {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}


def _error(code: str, text: str, ref_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": {"resultCode": "Error", "message": [{"code": code, "text": text}]}
    }
    if ref_id:
        body["refId"] = ref_id
    return body


def _masked(payment: dict[str, Any]) -> str:
    inner = payment.get("creditCard") or payment.get("bankAccount") or {}
    return inner.get("cardNumber") or inner.get("accountNumber") or ""
