"""Failed Basic-auth attempts per surface and client address: the login throttle's counters.

In the database, so that every worker and every instance counts the same failures; each
statement is a single upsert or read, timed by the database's clock (`Connection.now`).
"""

from __future__ import annotations

from storage.db import Connection


class ThrottleStatements:
    db: Connection

    def note_login_failure(self, scope: str, client: str, window_seconds: float) -> int:
        """Count one failure; the failures of the client's current window, this one included.

        A window starts at the first failure and lasts `window_seconds`; a failure after it
        starts a new one.
        """
        now = self.db.now
        self.db.execute(
            "insert into login_failures (scope, client, failures, window_started_at)"
            f" values (:scope, :client, 1, {now})"
            " on conflict (scope, client) do update set"
            " failures = case when login_failures.window_started_at"
            f" < {now} - :window then 1 else login_failures.failures + 1 end,"
            " window_started_at = case when login_failures.window_started_at"
            f" < {now} - :window then {now} else login_failures.window_started_at end",
            {"scope": scope, "client": client, "window": window_seconds},
        )
        return self.login_failures(scope, client, window_seconds)

    def login_failures(self, scope: str, client: str, window_seconds: float) -> int:
        """The failures of the client's current window (0 once it has passed)."""
        row = self.db.one(
            "select failures from login_failures where scope = :scope and client = :client"
            f" and window_started_at >= {self.db.now} - :window",
            {"scope": scope, "client": client, "window": window_seconds},
        )
        return int(row["failures"]) if row else 0

    def forget_old_login_failures(self, older_than_seconds: float) -> int:
        """Drop counters whose window passed long ago (kept small; run from the throttle)."""
        return self.db.execute(
            f"delete from login_failures where window_started_at < {self.db.now} - :age",
            {"age": older_than_seconds},
        )


class LoginThrottleStore(ThrottleStatements):
    """The throttle's statements over an existing connection (a request's Store's)."""

    def __init__(self, db: Connection):
        self.db = db
