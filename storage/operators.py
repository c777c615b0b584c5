"""Operator accounts (a password hash and a role each) and the audit log of what they did.

Hashes come from argon2-cffi; this module stores and reads them, it never sees a password in
the clear beyond handing it to the hasher. Audit entries are keyed by the action's one-time key
(rendered in the form that asked for it), so a double-clicked action is recorded once.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.clock import now_iso
from storage.db import Connection

ROLES = ("viewer", "operator")
"""viewer: reads every page; operator: may also act (reconcile, release, refund, note)."""

_hasher = PasswordHasher()


class UnknownRole(ValueError):
    """A role other than viewer or operator."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Constant-time by construction (argon2 verify); a malformed hash is a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class OperatorStatements:
    db: Connection

    def save_operator(self, name: str, password: str, role: str) -> bool:
        """Add the operator, or set a new password and role; True when the name was new."""
        if role not in ROLES:
            raise UnknownRole(f"role must be one of {', '.join(ROLES)}")
        now = now_iso()
        params = {"name": name, "hash": hash_password(password), "role": role, "now": now}
        with self.db.atomic():
            existed = self.db.one("select 1 as x from operators where name = :name", params)
            self.db.execute(
                "insert into operators (name, password_hash, role, created_at, updated_at)"
                " values (:name, :hash, :role, :now, :now) on conflict (name) do update"
                " set password_hash = excluded.password_hash, role = excluded.role,"
                " updated_at = excluded.updated_at",
                params,
            )
        return existed is None

    def operator(self, name: str) -> dict[str, Any] | None:
        return self.db.one("select * from operators where name = :name", {"name": name})

    def list_operators(self) -> list[dict[str, Any]]:
        return self.db.query(
            "select name, role, created_at, updated_at from operators order by name"
        )

    def remove_operator(self, name: str) -> bool:
        return bool(self.db.execute("delete from operators where name = :name", {"name": name}))

    def record_audit(
        self,
        action_key: str,
        operator: str,
        action: str,
        *,
        payment_id: int | None = None,
        invoice_number: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Record one operator action; False when this action key was already recorded."""
        return bool(
            self.db.execute(
                "insert into audit_log (action_key, operator, action, payment_id,"
                " invoice_number, detail, created_at) values (:key, :operator, :action,"
                " :payment_id, :invoice, :detail, :now) on conflict (action_key) do nothing",
                {
                    "key": action_key,
                    "operator": operator,
                    "action": action,
                    "payment_id": payment_id,
                    "invoice": invoice_number,
                    "detail": detail,
                    "now": now_iso(),
                },
            )
        )

    def complete_audit(self, action_key: str, detail: str) -> None:
        """Add what came of the action to its entry."""
        self.db.execute(
            "update audit_log set detail = :detail where action_key = :key",
            {"detail": detail, "key": action_key},
        )

    def audit_for_payment(self, payment_id: int, invoice_number: str | None) -> list[dict]:
        """What operators did about this payment or its invoice, oldest first."""
        return self.db.query(
            "select * from audit_log where payment_id = :id"
            " union select * from audit_log where invoice_number = :invoice"
            " and payment_id is null order by id limit 500",
            {"id": payment_id, "invoice": invoice_number},
        )
