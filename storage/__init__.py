"""Every SQL statement PayLine runs, split by aggregate, over one small connection layer.

- `db`: the connection layer (SQLite through sqlite-utils, or PostgreSQL through psycopg);
- `ledger`, `payments`, `invoices`, `sandbox`: the statements of one aggregate each;
- `schema`: alembic migrations for both backends;
- `Store`: one connection with every aggregate's statements, what the app passes around.

Concurrency guarantees live in the database, not in Python: unique keys, single-statement
compare-and-set updates and leases timed by the database's clock.
"""

from storage.clock import now_iso
from storage.db import IntegrityError
from storage.invoices import InvoiceExists
from storage.store import Store

__all__ = ["IntegrityError", "InvoiceExists", "Store", "now_iso"]
