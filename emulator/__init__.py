"""Plays Twilio's part locally: TwiML in, connector request out, signed callbacks back.

It knows an app only as Twilio does, over HTTP or in-process WSGI, and imports nothing of
the app, so that it can drive any app and check any connector without sharing its bugs.
"""

from emulator.call import CallConfig, run_call
from emulator.caller import Caller
from emulator.conformance import CaseResult, run_check
from emulator.errors import (
    DeliveryFailed,
    EmulatorError,
    ProtocolError,
    TwimlRefused,
    Unsupported,
)
from emulator.pay import ConnectorEndpoint
from emulator.transcript import Transcript
from emulator.transport import HttpTransport, WsgiTransport

__all__ = [
    "CallConfig",
    "Caller",
    "CaseResult",
    "ConnectorEndpoint",
    "DeliveryFailed",
    "EmulatorError",
    "HttpTransport",
    "ProtocolError",
    "Transcript",
    "TwimlRefused",
    "Unsupported",
    "WsgiTransport",
    "run_call",
    "run_check",
]

from emulator.payments_api import AgentCaller, PaymentsApi  # noqa: E402  (agent assist)

__all__ += ["AgentCaller", "PaymentsApi"]
