"""Plays a call-centre agent at PayLine's console (its JSON API under /agent/api), so that an
agent-assisted payment runs end to end with nobody at the keyboard: the command
``simulate-agent-payment`` and the end-to-end tests use it.

The agent starts a session, asks for each field the session needs in order, asks again for a
field the caller got wrong (at most ``MAX_ASKS`` times), then completes and reads the result.
It waits for the stand-in's caller (``PaymentsApi.wait_idle``) between steps, so nothing here
is timed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import ProtocolError
from emulator.payments_api import PaymentsApi
from emulator.transport import Transport

MAX_ASKS = 3
CONSOLE_HEADER = "X-PayLine-Console"


@dataclass
class AgentRun:
    """What the agent did and saw: the console's answers and the last view of the session."""

    payment_sid: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    view: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"payment_sid": self.payment_sid, "steps": self.steps, "view": self.view}


class ConsoleAgent:
    """One agent's browser, reduced to the console's JSON calls."""

    def __init__(self, transport: Transport, username: str, password: str) -> None:
        self.transport = transport
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = dict(self.headers)
        payload = None
        if method == "POST":
            headers.update({"Content-Type": "application/json", CONSOLE_HEADER: "1"})
            payload = json.dumps(body or {}).encode()
        reply = self.transport.send(method, self.transport.base_url + path, payload, headers, 30.0)
        try:
            data = json.loads(reply.body.decode("utf-8"))
        except ValueError:
            raise ProtocolError(f"{path} answered HTTP {reply.status}, not JSON") from None
        if not isinstance(data, dict):
            raise ProtocolError(f"{path} answered JSON that is not an object")
        data["http_status"] = reply.status
        return data

    def start(self, **body: Any) -> dict[str, Any]:
        return self.call("POST", "/agent/api/sessions", body)

    def view(self, payment_sid: str) -> dict[str, Any]:
        return self.call("GET", f"/agent/api/sessions/{payment_sid}")

    def act(self, payment_sid: str, what: str, body: dict[str, Any] | None = None) -> dict:
        return self.call("POST", f"/agent/api/sessions/{payment_sid}/{what}", body)


def take_payment(
    agent: ConsoleAgent,
    api: PaymentsApi,
    report: Callable[[str], None],
    **start: Any,
) -> AgentRun:
    """Start, capture every field (again when the caller got one wrong), complete, read."""
    run = AgentRun()
    answer = agent.start(**start)
    run.steps.append({"agent": "start", **start, "answer": answer})
    report(f"agent: start {start} -> {answer['http_status']} {answer.get('message')}")
    if not answer.get("ok"):
        return run
    sid = run.payment_sid = answer["payment_sid"]
    api.wait_idle(sid)
    view = agent.view(sid)
    for name in view["captures"]:
        for _ in range(MAX_ASKS):
            answer = agent.act(sid, "capture", {"capture": name})
            run.steps.append({"agent": "capture", "capture": name, "answer": answer})
            report(f"agent: capture {name} -> {answer.get('message')}")
            api.wait_idle(sid)
            view = agent.view(sid)
            report(
                f"agent sees: required={','.join(view['required']) or '-'}"
                f" error={view['error_type'] or '-'} values={view['values']}"
            )
            if view["state"] != "active" or name not in view["required"]:
                break
        if view["state"] != "active":
            break
    if view["state"] == "active":
        answer = agent.act(sid, "complete")
        run.steps.append({"agent": "complete", "answer": answer})
        report(f"agent: complete -> {answer.get('message')}")
        api.wait_idle(sid)
    run.view = agent.view(sid)
    report(
        f"agent sees: state={run.view['state']} result={run.view['result']}"
        f" confirmation={run.view['confirmation_code'] or '-'}: {run.view['message']}"
    )
    return run
