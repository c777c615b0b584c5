"""Agent assist: a call-centre agent takes a payment on a live call with Twilio's Payments API.

Free of Flask: `desk.AgentDesk` is the session logic (start, capture, complete, cancel, retry,
status callbacks), `api.PaymentsApi` the REST calls through twilio-python, `fields` the
Payments API's vocabulary and what PayLine keeps of a callback, `messages` the agent's words,
`settle` how a result is recorded and settled.
"""

from agent.api import ApiRefused, ApiSettings, ApiUnanswered, PaymentsApi
from agent.desk import AgentDesk, Answer, DeskSettings

__all__ = [
    "AgentDesk",
    "Answer",
    "ApiRefused",
    "ApiSettings",
    "ApiUnanswered",
    "DeskSettings",
    "PaymentsApi",
]
