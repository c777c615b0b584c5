"""Relays charges, tokens, refunds and voids to a downstream gateway over HTTPS (PROCESSOR=http).

The relay protocol (documented in the README): POST JSON to PROCESSOR_URL with HTTP Basic
(PROCESSOR_USERNAME / PROCESSOR_PASSWORD) and an `Idempotency-Key` header. The body's `type`
says what is asked: `charge` / `tokenize` (the card or bank account), `charge_token`, `refund`,
`void`, `lookup`. It answers 2xx `{"id": "...", "error_code": null, "error_message": null}` or a
business refusal with `error_code` set (2xx or 400/402/422); a lookup answers
`{"status": "charged"|"refused"|"not_found"|"unknown", "id", "error_code", "amount",
"currency"}` (or 404: never seen). Anything else — a timeout, a connection failure, a 5xx, a
409 (the gateway is still processing the key), a 429, a body that is not that JSON — leaves the
outcome unknown: `ProcessorUnavailable`, so that the ledger lets a retry ask again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

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
    number,
)
from connector.processors.transport import (
    MAX_GATEWAY_SECONDS,
    GatewayClient,
    GatewayReply,
    url_problem,
)
from connector.protocol import ConnectorRequest, ErrorCode
from connector.redact import mask_long_numbers, mask_secrets, mask_value

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
        # A username without a password is sent with an empty one, never the text "None".
        self.auth = (username, password or "") if username else None
        self.timeout_seconds = timeout_seconds
        self.client = GatewayClient(url, timeout_seconds=timeout_seconds, session=session)

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._result(_gateway_body(request), idempotency_key)

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult:
        return self._result(_gateway_body(request), idempotency_key)

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
        body = {
            "type": "charge_token",
            "token": token,
            "amount": str(amount),
            "currency": currency,
            "description": mask_secrets(description) if description else None,
            "metadata": mask_value(dict(parameters or {})),
        }
        return self._result(body, idempotency_key)

    def refund(self, charge: ChargeRef, amount: Decimal, idempotency_key: str) -> ProcessorResult:
        body = {
            "type": "refund",
            "charge_id": charge.charge_id,
            "amount": str(amount),
            "currency": charge.currency,
        }
        return self._result(body, idempotency_key)

    def void(self, charge: ChargeRef, idempotency_key: str) -> ProcessorResult:
        return self._result({"type": "void", "charge_id": charge.charge_id}, idempotency_key)

    def lookup(self, idempotency_key: str) -> Lookup:
        reply = self._post({"type": "lookup"}, idempotency_key)
        if reply.status == 404:
            return Lookup(status=LookupStatus.NOT_FOUND)
        body = _json_object(reply)
        if reply.status >= 300 or body.get("status") not in set(LookupStatus):
            raise ProcessorUnavailable(f"gateway answered a lookup with HTTP {reply.status}")
        return Lookup(
            status=LookupStatus(body["status"]),
            id=_text(body.get("id")),
            error_code=_known(body.get("error_code")) if body.get("error_code") else None,
            amount=_amount(body.get("amount")),
            currency=_text(body.get("currency")),
        )

    def _post(self, body: dict[str, Any], idempotency_key: str) -> GatewayReply:
        return self.client.post(
            json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            auth=self.auth,
        )

    def _result(self, body: dict[str, Any], idempotency_key: str) -> ProcessorResult:
        return _interpret(self._post(body, idempotency_key))


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


def _json_object(reply: GatewayReply) -> dict[str, Any]:
    try:
        body = json.loads(reply.content, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ProcessorUnavailable(f"gateway answered HTTP {reply.status} without JSON") from None
    if not isinstance(body, dict):
        raise ProcessorUnavailable(f"gateway answered HTTP {reply.status} with a non-object")
    return body


def _interpret(reply: GatewayReply) -> ProcessorResult:
    status = reply.status
    if status >= 500 or status in (409, 429):
        raise ProcessorUnavailable(f"gateway answered HTTP {status}")
    body = _json_object(reply)
    object_id, code = body.get("id"), body.get("error_code")
    if 200 <= status < 300 and isinstance(object_id, str) and object_id and not code:
        return ProcessorResult(id=object_id, parameters={"processor": "http"})
    if (200 <= status < 300 or status in FINAL_REFUSAL_STATUSES) and isinstance(code, str) and code:
        return ProcessorResult(
            id=None,
            error_code=_known(code),
            error_message=mask_long_numbers(
                str(body.get("error_message") or "the gateway refused the payment")[:200]
            ),
            parameters={"processor": "http", "gateway_error_code": mask_secrets(code[:64])},
        )
    raise ProcessorUnavailable(f"gateway answered HTTP {status} with an unexpected body")


def _known(code: Any) -> str:
    return code if code in KNOWN_CODES else ErrorCode.PROCESSING_ERROR.value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# -- settings and registration (PROCESSOR=http) ---------------------------------------------


def _url(text: str) -> str:
    problem = url_problem("", text)
    if problem:
        raise SettingError(problem.strip())
    return text


def _build(context: BuildContext) -> StoreBound:
    settings = context.settings
    processor = HttpGatewayProcessor(
        url=settings["PROCESSOR_URL"],
        username=settings["PROCESSOR_USERNAME"],
        password=settings["PROCESSOR_PASSWORD"],
        timeout_seconds=settings["PROCESSOR_TIMEOUT_SECONDS"],
    )
    return lambda store: processor


SPEC = ProcessorSpec(
    name="http",
    build=_build,
    settings=(
        Setting(
            "PROCESSOR_URL", _url, required=True, secret=True, help="the relay gateway's https URL"
        ),
        Setting("PROCESSOR_USERNAME", help="HTTP Basic user for the gateway"),
        Setting("PROCESSOR_PASSWORD", secret=True, help="HTTP Basic password"),
        Setting(
            "PROCESSOR_TIMEOUT_SECONDS",
            number(1, MAX_GATEWAY_SECONDS),
            default=8.0,
            help="the whole exchange's time budget",
        ),
    ),
)
