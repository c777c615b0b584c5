"""The emulator's exceptions: who broke the call decides the exit code and the message."""

from __future__ import annotations

from typing import Any


class EmulatorError(Exception):
    """The call could not be played to its end. Messages never carry card data."""

    #: the partial transcript (a dict) when the error happened during a call
    transcript: dict[str, Any] | None = None


class ProtocolError(EmulatorError):
    """The app did something Twilio would refuse or treat as an application error."""


class TwimlRefused(ProtocolError):
    """TwiML that Twilio would refuse (unknown element or attribute, bad value)."""


class Unsupported(EmulatorError):
    """Valid TwiML that this emulator does not play (e.g. <Record>); not the app's fault."""


class DeliveryFailed(EmulatorError):
    """A request got no HTTP answer: connection refused or reset, or no answer in time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
