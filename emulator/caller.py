"""The emulated caller: which keys they press, at each <Gather> and at each <Pay> step.

The defaults are valid values, so that the shortest call is a successful payment. The card
number, security code and bank account are kept out of ``repr`` so that a logged or printed
Caller never shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulator.cards import (
    DEFAULT_POSTAL_CODE,
    DEFAULT_ROUTING_NUMBER,
    VISA_TEST_CARD,
    default_expiry,
    default_security_code,
)
from emulator.twiml import PAY_STEPS

DEFAULT_CARD = VISA_TEST_CARD
DEFAULT_BANK_ACCOUNT = "123456789"  # Twilio's 9-digit test account

_DTMF = re.compile(r"[0-9#*]*\Z")
_DIGITS = re.compile(r"[0-9]*\Z")


@dataclass
class Caller:
    """What the caller types. An empty string at a <Pay> step means they press nothing.

    ``digits``: one entry per <Gather>, in order; an entry may end with the gather's
    finishOnKey (``#`` by default); an empty entry presses nothing. ``cvv=None`` means a
    valid code for the card's type. ``star_at``/``hangup_at`` name a <Pay> step (``star_at``
    of the call's first <Pay>: a caller who cancelled and is offered another goes on).
    """

    digits: list[str] = field(default_factory=list)
    card: str = field(default=DEFAULT_CARD, repr=False)
    expiry: str = field(default_factory=default_expiry)
    cvv: str | None = field(default=None, repr=False)
    postal_code: str = DEFAULT_POSTAL_CODE
    bank_account: str = field(default=DEFAULT_BANK_ACCOUNT, repr=False)
    routing_number: str = DEFAULT_ROUTING_NUMBER
    star_at: str | None = None
    hangup_at: str | None = None

    def __post_init__(self) -> None:
        for entry in self.digits:
            if not _DTMF.match(entry):
                raise ValueError(f"keys {entry!r}: a phone keypad has only 0-9, # and *")
        for name in ("card", "expiry", "cvv", "postal_code", "bank_account", "routing_number"):
            value = getattr(self, name)
            if value is not None and not _DIGITS.match(value):
                # The value itself stays out of the message: it may be a card number.
                raise ValueError(f"{name}: only the digits 0-9 can be keyed in at <Pay>")
        for name in ("star_at", "hangup_at"):
            value = getattr(self, name)
            if value is not None and value not in PAY_STEPS:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(PAY_STEPS)}")

    def input_for(self, step: str) -> str:
        """The keys this caller enters at a <Pay> step (without the closing ``#``)."""
        if step == "payment-card-number":
            return self.card
        if step == "expiration-date":
            return self.expiry
        if step == "security-code":
            return self.cvv if self.cvv is not None else default_security_code(self.card)
        if step == "postal-code":
            return self.postal_code
        if step == "bank-routing-number":
            return self.routing_number
        if step == "bank-account-number":
            return self.bank_account
        raise KeyError(step)

    def secrets(self) -> list[str]:
        """The values that must never appear unmasked in a transcript or a message."""
        return [value for value in (self.card, self.bank_account) if len(value) >= 6]
