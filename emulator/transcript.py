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
     "warnings": [...], "twilio_warnings": [{"code", "message"}], "unused_options": [...],
     "ended": "hangup|end-of-document|caller-hung-up|rejected|error",
     "error": <reason, only when the call broke>}

``warnings`` holds every warning as text; ``twilio_warnings`` those Twilio itself would raise
(its debugger code, e.g. 12200) while playing past; ``unused_options`` the caller's options
that never came into play (``--digits`` left over, a ``--star-at`` step never reached...).

Masking is by field: identifiers (charge and token ids, confirmation codes, transaction and
call sids) are the connector's and Twilio's own and are shown as they are, unless one is the
caller's card number; every other string is free text, where the caller's keyed card and
account numbers and anything card-shaped are masked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

#: Fields that hold the connector's identifiers: shown as they are (see ``scrub``).
IDENTIFIER_FIELDS = frozenset(
    {
        "PaymentConfirmationCode",
        "PaymentToken",
        "ProfileId",
        "charge_id",
        "token_id",
        "transaction_id",
        "CallSid",
        "AccountSid",
    }
)


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
    twilio_warnings: list[dict[str, str]] = field(default_factory=list)
    unused_options: list[str] = field(default_factory=list)
    ended: str | None = None
    error: str | None = None
    #: ``scrub(text, identifier=...)`` masks card and account data (set by the runner)
    scrub: Callable[..., str] | None = field(default=None, repr=False, compare=False)

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
            "twilio_warnings": [dict(w) for w in self.twilio_warnings],
            "unused_options": list(self.unused_options),
            "ended": self.ended,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.scrub is None:
            return data
        return _scrub(data, self.scrub, IDENTIFIER_FIELDS)


def _scrub(
    value: Any, scrub: Callable[..., str], identifiers: Collection[str], key: str | None = None
) -> Any:
    if isinstance(value, str):
        return scrub(value, identifier=key in identifiers)
    if isinstance(value, dict):
        return {
            scrub(k) if isinstance(k, str) else k: _scrub(v, scrub, identifiers, k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, scrub, identifiers, key) for v in value]
    return value
