"""Timestamps for the record (ISO-8601 UTC strings). Who owns a claim or a hold is decided by
the database's clock instead (`Connection.now`), never by these."""

from __future__ import annotations

import datetime as dt


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
