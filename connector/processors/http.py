"""Relays charges and tokens to a downstream gateway over HTTPS, with its own credentials.

The gateway protocol (documented in the README): POST JSON to PROCESSOR_URL with HTTP Basic
(PROCESSOR_USERNAME / PROCESSOR_PASSWORD) and an `Idempotency-Key` header carrying Twilio's
transaction_id, so that a retry or a takeover after a crash is charged once by the gateway too.
It answers 2xx `{"id": "...", "error_code": null, "error_message": null}` or a business refusal
with `error_code` set (2xx or 402/422). Anything else — a timeout, a connection failure, a 5xx,
a 409 (the gateway is still processing the key), a body that is not that JSON — leaves the
outcome unknown: `ProcessorUnavailable`, so that the ledger lets a retry ask again.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from connector.processors import ProcessorResult, ProcessorUnavailable
from connector.protocol import ConnectorRequest, ErrorCode
from connector.redact import mask_long_numbers, mask_secrets

log = logging.getLogger(__name__)

FINAL_REFUSAL_STATUSES = frozenset({400, 402, 422})
KNOWN_CODES = frozenset(code.value for code in ErrorCode)


class HttpGatewayProcessor:
    name = "http"

    def __init__(
        self,
        *,
        url: str,
        username: str | None,
        password: str | None,
        timeout_seconds: float,
        session: requests.Session | None = None,
    ):
        self.url = url
        self.auth = (username, password) if username else None
        self.timeout_seconds = timeout_seconds
        self.session = session or requests.Session()

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._send(request, idempotency_key)

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._send(request, idempotency_key)

    def _send(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        try:
            reply = self.session.post(
                self.url,
                json=_gateway_body(request),
                auth=self.auth,
                headers={"Idempotency-Key": idempotency_key},
                timeout=self.timeout_seconds,
            )
        except requests.Timeout:
            raise ProcessorUnavailable(f"gateway timed out after {self.timeout_seconds}s") from None
        except requests.RequestException as failure:
            # The exception text names the URL only; the body (card data) is not in it.
            raise ProcessorUnavailable(f"gateway unreachable: {type(failure).__name__}") from None
        return _interpret(reply)


def _gateway_body(request: ConnectorRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": request.method,
        "description": request.description,
        "metadata": request.parameters,
    }
    if request.amount is not None:
        body.update(amount=str(request.amount), currency=request.currency)
    if request.card:
        body["card"] = {
            "number": request.card.number,
            "cvc": request.card.cvv,
            "exp_month": request.card.expiry_month,
            "exp_year": request.card.expiry_year,
            "postal_code": request.card.postal_code,
        }
    if request.bank:
        body["bank_account"] = {
            "account_number": request.bank.account_number,
            "routing_number": request.bank.routing_number,
        }
    return body


def _interpret(reply: requests.Response) -> ProcessorResult:
    status = reply.status_code
    if status >= 500 or status == 409 or status == 429:
        raise ProcessorUnavailable(f"gateway answered HTTP {status}")
    try:
        body = reply.json()
    except ValueError:
        raise ProcessorUnavailable(f"gateway answered HTTP {status} without JSON") from None
    if not isinstance(body, dict):
        raise ProcessorUnavailable(f"gateway answered HTTP {status} with a non-object")
    object_id, code = body.get("id"), body.get("error_code")
    if 200 <= status < 300 and isinstance(object_id, str) and object_id and not code:
        return ProcessorResult(id=object_id, parameters={"processor": "http"})
    if (200 <= status < 300 or status in FINAL_REFUSAL_STATUSES) and isinstance(code, str) and code:
        return ProcessorResult(
            id=None,
            error_code=code if code in KNOWN_CODES else ErrorCode.PROCESSING_ERROR.value,
            error_message=mask_long_numbers(
                str(body.get("error_message") or "the gateway refused the payment")[:200]
            ),
            parameters={"processor": "http", "gateway_error_code": mask_secrets(code[:64])},
        )
    raise ProcessorUnavailable(f"gateway answered HTTP {status} with an unexpected body")
