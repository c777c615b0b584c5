"""Processor adapters behind one small interface; each is given the idempotency key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from connector.protocol import ConnectorRequest


@dataclass(frozen=True)
class ProcessorResult:
    """A final answer from a processor: an id on success, an error code on a business refusal."""

    id: str | None
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


class ProcessorUnavailable(Exception):
    """The processor's answer is unknown (timeout, 5xx, garbage): not final, safe to ask again
    with the same idempotency key."""


class Processor(Protocol):
    name: str

    def charge(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult: ...

    def tokenize(self, request: ConnectorRequest, idempotency_key: str) -> ProcessorResult: ...
