"""Agent assist: Payments API sessions, the idempotency key of every API call, status callbacks.

A session row is keyed by Twilio's Payment SID (`PK…`); before Twilio has answered the create
call there is only its operation row. Every logical API call (create, each capture, complete,
cancel) gets its own operation row, written before the call is made, whose key is sent as
`IdempotencyKey` on every try of that call and never on another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage.clock import now_iso
from storage.db import Connection

EVENT_COLUMNS = (
    "payment_sid",
    "call_sid",
    "capture",
    "partial_result",
    "required",
    "error_type",
    "card_number",
    "card_type",
    "expiration_date",
    "postal_code",
    "security_code",
    "routing_number",
    "account_number",
    "result",
)


class AgentStatements:
    db: Connection

    # -- operations (one per logical API call) ----------------------------------------------

    def add_agent_operation(
        self,
        *,
        key: str,
        kind: str,
        call_sid: str,
        payment_sid: str | None,
        agent: str | None,
        request: dict[str, Any],
    ) -> int:
        """Persist a logical API call and its idempotency key before it is made."""
        stamp = now_iso()
        row = self.db.one(
            "insert into agent_operations (idempotency_key, kind, call_sid, payment_sid, agent,"
            " request, state, attempts, created_at, updated_at) values (:key, :kind, :call_sid,"
            " :payment_sid, :agent, :request, 'pending', 0, :stamp, :stamp) returning id",
            {
                "key": key,
                "kind": kind,
                "call_sid": call_sid,
                "payment_sid": payment_sid,
                "agent": agent,
                "request": json.dumps(request, sort_keys=True),
                "stamp": stamp,
            },
        )
        assert row is not None
        return int(row["id"])

    def agent_operation(self, operation_id: int) -> dict[str, Any] | None:
        return self.db.one("select * from agent_operations where id = :id", {"id": operation_id})

    def count_agent_try(self, operation_id: int) -> None:
        """One more HTTP try of this call is about to be made (with the same key)."""
        self.db.execute(
            "update agent_operations set attempts = attempts + 1, updated_at = :stamp"
            " where id = :id",
            {"id": operation_id, "stamp": now_iso()},
        )

    def finish_agent_operation(
        self,
        operation_id: int,
        state: str,
        *,
        payment_sid: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """`done`, `failed` (Twilio refused it: nothing happened) or `unknown` (no answer)."""
        self.db.execute(
            "update agent_operations set state = :state,"
            " payment_sid = coalesce(:payment_sid, payment_sid), error_code = :error_code,"
            " error_message = :error_message, updated_at = :stamp where id = :id",
            {
                "id": operation_id,
                "state": state,
                "payment_sid": payment_sid,
                "error_code": error_code,
                "error_message": error_message,
                "stamp": now_iso(),
            },
        )

    def claim_agent_retry(self, operation_id: int) -> bool:
        """Compare-and-set `unknown` → `pending`: one retry at a time of an unanswered call."""
        return bool(
            self.db.execute(
                "update agent_operations set state = 'pending', updated_at = :stamp"
                " where id = :id and state = 'unknown'",
                {"id": operation_id, "stamp": now_iso()},
            )
        )

    def unanswered_create_for_call(self, call_sid: str) -> dict[str, Any] | None:
        """The latest create call on this call whose answer never came (Twilio may have it)."""
        return self.db.one(
            "select * from agent_operations where call_sid = :call_sid and kind = 'create'"
            " and state in ('pending', 'unknown') order by id desc limit 1",
            {"call_sid": call_sid},
        )

    def agent_operations_for(self, payment_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_operations where payment_sid = :sid order by id",
            {"sid": payment_sid},
        )

    def agent_operations_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_operations where call_sid = :sid order by id",
            {"sid": call_sid},
        )

    # -- sessions -----------------------------------------------------------------------------

    def add_agent_session(self, session: dict[str, Any]) -> bool:
        """Insert a session Twilio created; False when it is already recorded."""
        stamp = now_iso()
        row = {**session, "created_at": stamp, "updated_at": stamp}
        return bool(
            self.db.execute(
                f"insert into agent_sessions ({', '.join(row)})"
                f" values ({', '.join(':' + k for k in row)})"
                " on conflict (payment_sid) do nothing",
                row,
            )
        )

    def agent_session(self, payment_sid: str) -> dict[str, Any] | None:
        return self.db.one(
            "select * from agent_sessions where payment_sid = :sid", {"sid": payment_sid}
        )

    def update_agent_session(self, payment_sid: str, changes: dict[str, Any]) -> None:
        changes = {**changes, "updated_at": now_iso()}
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        self.db.execute(
            f"update agent_sessions set {assignments} where payment_sid = :payment_sid",
            {**changes, "payment_sid": payment_sid},
        )

    def note_agent_session(self, payment_sid: str, message: str, state: str) -> bool:
        """Set the agent's message while the session is still in `state` (a result that came in
        meanwhile keeps its own)."""
        return bool(
            self.db.execute(
                "update agent_sessions set message = :message, updated_at = :stamp"
                " where payment_sid = :sid and state = :state",
                {"sid": payment_sid, "message": message, "state": state, "stamp": now_iso()},
            )
        )

    def move_agent_session(
        self, payment_sid: str, from_states: Iterable[str], to_state: str
    ) -> bool:
        """Compare-and-set the session's state; True when this caller moved it."""
        states = list(from_states)
        names = {f"s{i}": state for i, state in enumerate(states)}
        return bool(
            self.db.execute(
                "update agent_sessions set state = :to_state, updated_at = :stamp"
                f" where payment_sid = :sid and state in ({', '.join(':' + n for n in names)})",
                {"sid": payment_sid, "to_state": to_state, "stamp": now_iso(), **names},
            )
        )

    def open_agent_sessions(self) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_sessions where state in ('active', 'completing')"
            " order by created_at desc"
        )

    def recent_agent_sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_sessions order by created_at desc limit :limit",
            {"limit": limit},
        )

    def agent_sessions_for_call(self, call_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_sessions where call_sid = :sid order by created_at",
            {"sid": call_sid},
        )

    # -- status callbacks -----------------------------------------------------------------------

    def record_agent_event(self, event: dict[str, Any]) -> None:
        row = {k: event.get(k) for k in EVENT_COLUMNS}
        row["received_at"] = now_iso()
        self.db.execute(
            f"insert into agent_events ({', '.join(row)})"
            f" values ({', '.join(':' + k for k in row)})",
            row,
        )

    def agent_events(self, payment_sid: str) -> list[dict[str, Any]]:
        return self.db.query(
            "select * from agent_events where payment_sid = :sid order by id",
            {"sid": payment_sid},
        )
