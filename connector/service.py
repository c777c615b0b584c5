"""One connector request from bytes to answer: envelope, idempotency, validation, processor."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connector.ledger import LedgerSettings, LedgerStore, Outcome, answer_once
from connector.processors import Processor, ProcessorUnavailable
from connector.protocol import (
    ConnectorRequest,
    ConnectorResponse,
    Envelope,
    ErrorCode,
    NotAConnectorRequest,
    ValidationError,
    fingerprint,
    parse_envelope,
    validate,
)
from connector.redact import mask_value

log = logging.getLogger(__name__)


class ConnectorStore(LedgerStore, Protocol):
    def note_processor_call(self, transaction_id: str) -> None: ...


@dataclass
class ConnectorService:
    mode: str
    secret: str
    processor: Processor
    store: ConnectorStore
    open_store: Callable[[], ConnectorStore]
    ledger: LedgerSettings
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()

    def handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body for one request to the connector endpoint."""
        try:
            envelope = parse_envelope(body)
        except NotAConnectorRequest as refusal:
            method = "charge"
            return 400, ConnectorResponse.error(
                method, ErrorCode.INVALID_REQUEST, str(refusal)
            ).to_json()
        response = answer_once(
            envelope,
            fingerprint(envelope, self.secret),
            lambda: self._decide(envelope),
            store=self.store,
            open_store=self.open_store,
            settings=self.ledger,
        )
        log.info(
            "connector %s %s -> %s",
            envelope.method,
            envelope.transaction_id,
            response.error_code or "ok",
        )
        return 200, response.to_json()

    def _decide(self, envelope: Envelope) -> Outcome:
        try:
            request = validate(envelope, mode=self.mode, today=self.today())
        except ValidationError as refusal:
            response = ConnectorResponse.error(envelope.method, refusal.code, refusal.message)
            return Outcome(response, summary={"error_code": str(refusal.code)})
        summary = _summary(request)
        self.store.note_processor_call(request.transaction_id)
        ask = self.processor.charge if request.method == "charge" else self.processor.tokenize
        try:
            result = ask(request, request.transaction_id)
        except ProcessorUnavailable as failure:
            log.warning(
                "processor %s unavailable for %s: %s",
                self.processor.name,
                request.transaction_id,
                failure,
            )
            response = ConnectorResponse.error(
                request.method,
                ErrorCode.PROCESSING_ERROR,
                "the payment processor did not answer; nothing is known to be charged",
            )
            return Outcome(response, final=False, summary=summary)
        parameters = mask_value({**request.parameters, **_echo(request), **result.parameters})
        response = ConnectorResponse(
            method=request.method,
            id=result.id,
            error_code=result.error_code,
            error_message=result.error_message,
            parameters=parameters,
        )
        return Outcome(response, summary={**summary, "error_code": result.error_code})


def _summary(request: ConnectorRequest) -> dict[str, Any]:
    """What the ledger may keep about the instrument: brand and last four, never the number."""
    summary: dict[str, Any] = {
        "payment_method": request.payment_method,
        "amount": str(request.amount) if request.amount is not None else None,
        "currency": request.currency,
    }
    if request.card:
        summary.update(card_brand=request.card.brand, last4=request.card.last4)
    elif request.bank:
        summary.update(last4=request.bank.last4)
    return summary


def _echo(request: ConnectorRequest) -> dict[str, str]:
    """Parameters handed back to Twilio, which reach the action URL as PayConnector_<name>."""
    echo = {"transaction_id": request.transaction_id}
    if request.card:
        echo.update(card_brand=request.card.brand, card_last4=request.card.last4)
    return echo
