"""`Store`: one connection's worth of PayLine storage, the aggregates' statements together."""

from __future__ import annotations

from storage import schema
from storage.ach import AchStatements
from storage.dashboard import DashboardStatements
from storage.db import Connection, DatabaseUnavailable, connect, dialect_of, sqlite_path
from storage.invoices import InvoiceStatements
from storage.ledger import LedgerStatements
from storage.operators import OperatorStatements
from storage.payments import PaymentStatements
from storage.reconciliation import ReconciliationStatements
from storage.refunds import RefundStatements
from storage.sandbox import SandboxStatements


class Store(
    LedgerStatements,
    PaymentStatements,
    InvoiceStatements,
    SandboxStatements,
    ReconciliationStatements,
    RefundStatements,
    AchStatements,
    DashboardStatements,
    OperatorStatements,
):
    """Not to be shared between threads: each request (and each side thread) opens its own."""

    def __init__(self, database_url: str, connection: Connection | None = None):
        self.database_url = database_url
        self.db = connection or connect(database_url)

    @property
    def location(self) -> str:
        """Where the data lives, for operators: a file path, or the server without password."""
        if dialect_of(self.database_url) == "sqlite":
            return str(sqlite_path(self.database_url))
        from storage.postgres import display_url

        return display_url(self.database_url)

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> list[str]:
        """Create or upgrade the schema; safe on every deploy. Returns the revisions applied."""
        return schema.migrate(self.database_url)

    def schema_problem(self) -> str | None:
        """None when the database answers and its schema is this code's; else the reason."""
        try:
            rows = self.db.query("select version_num from alembic_version")
        except DatabaseUnavailable:
            raise
        except Exception:
            return schema.schema_problem(set())
        return schema.schema_problem({row["version_num"] for row in rows})
