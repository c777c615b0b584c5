"""What happened on an emulated call, step by step, with card data already masked.

``Transcript.to_dict()`` is the JSON document ``simulate-call --json`` prints::

    {"steps": [{"url", "method", "sent", "delivered_to"?, "received", "twiml",
                "said": [...], "pressed": [...], "dialed": [...], "verbs": [...],
                "executed", "next"}],
     "payments": [{"pay": {<Pay attributes>, "parameters": {...}}, "prompts": [...],
                   "status_callbacks": [...], "connector", "connector_url",
                   "connector_request": <masked>, "connector_attempts": n,
                   "connector_response", "action_url", "callback": {...}}],
     "result": <the last payment's callback or null>,
     "warnings": [...], "ended": "hangup|end-of-document|caller-hung-up|rejected|error",
     "error": <reason, only when the call broke>}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Step:
    """One webhook request the emulator made and the TwiML it played from the answer."""

    url: str
    method: str
    sent: dict[str, str]
    delivered_to: str | None = None
    received: dict[str, Any] | None = None
    twiml: str | None = None
    said: list[str] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    executed: bool = True
    next: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["delivered_to"] is None:
            del data["delivered_to"]
        return data


@dataclass
class Payment:
    """One <Pay> session: what was asked, what the connector was sent and answered, the result."""

    pay: dict[str, Any]
    prompts: list[dict[str, Any]] = field(default_factory=list)
    status_callbacks: list[dict[str, Any]] = field(default_factory=list)
    connector: str | None = None
    connector_url: str | None = None
    connector_request: dict[str, Any] | None = None
    connector_attempts: int = 0
    connector_response: dict[str, Any] | None = None
    action_url: str | None = None
    callback: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Transcript:
    """The whole call."""

    steps: list[Step] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ended: str | None = None
    error: str | None = None
    #: masks the caller's card and account numbers wherever they appear (set by the runner)
    scrub: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    @property
    def result(self) -> dict[str, str] | None:
        """The last payment's action callback, or None when no <Pay> ran."""
        return self.payments[-1].callback if self.payments else None

    def to_dict(self) -> dict[str, Any]:
        """The transcript as plain data (the ``--json`` document), scrubbed."""
        data: dict[str, Any] = {
            "steps": [step.to_dict() for step in self.steps],
            "payments": [payment.to_dict() for payment in self.payments],
            "result": self.result,
            "warnings": list(self.warnings),
            "ended": self.ended,
        }
        if self.error is not None:
            data["error"] = self.error
        return _scrub(data, self.scrub) if self.scrub else data


def _scrub(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: _scrub(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, scrub) for v in value]
    return value
