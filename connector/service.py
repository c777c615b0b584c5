"""One connector request from bytes to answer: envelope, idempotency, validation, processor."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connector.ledger import LeaseRenewer, LedgerSettings, LedgerStore, Outcome, answer_once
from connector.processors import Processor, ProcessorResult, ProcessorUnavailable
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
    leases: LeaseRenewer | None = None
    """The process's lease renewer (one thread for every claim); None: one per request."""
    processor_retry_seconds: float = 40.0
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body for one request to the connector endpoint."""
        try:
            envelope = parse_envelope(body)
        except NotAConnectorRequest as not_one:
            answer = ConnectorResponse.error(
                not_one.method, ErrorCode.INVALID_REQUEST, str(not_one)
            )
            return 400, answer.to_json()
        request: ConnectorRequest | None = None
        refusal: ValidationError | None = None
        try:
            request = validate(envelope, mode=self.mode, today=self.today())
        except ValidationError as error:
            refusal = error
        response = answer_once(
            envelope,
            fingerprint(envelope, self.secret),
            lambda: self._decide(envelope, request, refusal),
            store=self.store,
            open_store=self.open_store,
            settings=self.ledger,
            leases=self.leases,
            calls_processor=request is not None,
            subject=_subject(request),
        )
        log.info(
            "connector %s %s -> %s",
            envelope.method,
            envelope.transaction_id,
            response.error_code or "ok",
        )
        return 200, response.to_json()

    def _decide(
        self,
        envelope: Envelope,
        request: ConnectorRequest | None,
        refusal: ValidationError | None,
    ) -> Outcome:
        if request is None:
            assert refusal is not None
            response = ConnectorResponse.error(envelope.method, refusal.code, refusal.message)
            return Outcome(response, summary={"error_code": str(refusal.code)})
        summary = _summary(request)
        try:
            result = self._ask_processor(request)
        except ProcessorUnavailable:
            response = ConnectorResponse.error(
                request.method,
                ErrorCode.PROCESSING_ERROR,
                "the payment processor did not confirm the outcome; check before charging again",
            )
            return Outcome(response, final=False, summary=summary)
        masked = mask_value({**request.parameters, **result.parameters})
        assert isinstance(masked, dict)  # mask_value keeps a value's shape
        parameters = {**masked, **_echo(request)}
        response = ConnectorResponse(
            method=request.method,
            id=result.id,
            error_code=result.error_code,
            error_message=result.error_message,
            parameters=parameters,
        )
        return Outcome(response, summary={**summary, "error_code": result.error_code})

    def _ask_processor(self, request: ConnectorRequest) -> ProcessorResult:
        """Ask until the processor gives a final answer, always with the same idempotency key.

        An unknown outcome (timeout, 5xx) is not answered at once: Twilio does not retry an
        answered request, so answering "failed" would end the payment while the charge may
        have gone through. Asking again with the same key is safe, and Twilio's own retries
        wait for this answer in the ledger meanwhile.
        """
        ask = self.processor.charge if request.method == "charge" else self.processor.tokenize
        deadline = self.clock() + self.processor_retry_seconds
        delay = 0.25
        first = True  # the claim counted the first call in its own write
        while True:
            if not first:
                self.store.note_processor_call(request.transaction_id)
            first = False
            try:
                return ask(request, request.transaction_id)
            except ProcessorUnavailable as failure:
                log.warning(
                    "processor %s: outcome unknown for %s (%s)",
                    self.processor.name,
                    request.transaction_id,
                    failure,
                )
                if self.clock() + delay >= deadline:
                    raise
            self.sleep(delay)
            delay = min(delay * 2, 4.0)


def _subject(request: ConnectorRequest | None) -> dict[str, str | None] | None:
    """The invoice and call a charge is for (PayLine's own <Parameter>s), written with the
    claim, before the processor is asked, so that billing can match a charge in flight too."""
    if request is None:
        return None
    subject = mask_value({k: request.parameters.get(k) for k in ("invoice_number", "call_sid")})
    assert isinstance(subject, dict)
    return subject


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
