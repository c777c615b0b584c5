"""Storage: the claim is atomic in the database, the sandbox counts, results are idempotent."""

from __future__ import annotations

import threading

from storage import Store


def sandbox_requests(store: Store, key: str) -> int:
    row = store.db.one(
        "select requests from sandbox_requests where idempotency_key = :k", {"k": key}
    )
    return row["requests"] if row else 0


def claim(store: Store, owner: str, *, lease: float = 60.0, fingerprint: str = "f1"):
    return store.claim_transaction("tx-1", "charge", fingerprint, owner, lease)


def test_first_claim_wins_and_a_second_owner_is_told_busy(store):
    assert claim(store, "a").kind == "claimed"
    assert claim(store, "b").kind == "busy"


def test_other_details_are_a_mismatch_even_while_in_flight(store):
    claim(store, "a")
    assert claim(store, "b", fingerprint="f2").kind == "mismatch"


def test_a_finished_transaction_is_replayed_with_its_stored_answer(store):
    claim(store, "a")
    assert store.finish_transaction("tx-1", "a", {"charge_id": "ch_1", "error_code": None}, {})

    outcome = claim(store, "b")
    assert outcome.kind == "done"
    assert outcome.response == {"charge_id": "ch_1", "error_code": None}


def test_an_expired_claim_is_taken_over_once(store, app):
    claim(store, "a", lease=-1)
    other = app.extensions["payline"].open_store()

    assert claim(store, "b").kind == "claimed"
    assert claim(other, "c").kind == "busy"
    assert not store.finish_transaction("tx-1", "a", {"charge_id": "late"}, {})
    assert store.finish_transaction("tx-1", "b", {"charge_id": "ch_b"}, {})
    other.close()


def test_only_the_owner_renews_its_lease(store):
    claim(store, "a")
    assert store.renew_claim("tx-1", "a", 60)
    assert not store.renew_claim("tx-1", "b", 60)


def test_many_threads_claiming_at_once_yield_exactly_one_owner(app):
    barrier = threading.Barrier(16)
    outcomes = []

    def contend(owner: str) -> None:
        store = app.extensions["payline"].open_store()
        barrier.wait()
        outcomes.append(claim(store, owner).kind)
        store.close()

    threads = [threading.Thread(target=contend, args=(f"o{i}",)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["busy"] * 15 + ["claimed"]


def test_the_sandbox_books_once_per_key_and_counts_every_request(store):
    entry = {
        "kind": "charge",
        "object_id": "ch_1",
        "error_code": None,
        "error_message": None,
        "amount": "1.00",
        "currency": "USD",
    }
    store.sandbox_note_request("k")
    first, created = store.sandbox_book("k", entry)
    store.sandbox_note_request("k")
    second, again = store.sandbox_book("k", {**entry, "object_id": "ch_2"})

    assert created and not again
    assert first["object_id"] == second["object_id"] == "ch_1"
    assert sandbox_requests(store, "k") == 2


def test_a_repeated_pay_result_is_ignored(store):
    record = {"callback_key": "CA1:1", "call_sid": "CA1", "result": "success"}

    assert store.record_pay_result(record)
    assert not store.record_pay_result(record)
    assert len(store.payments_for_call("CA1")) == 1


def test_migrate_is_safe_to_run_again(store, runner):
    result = runner.invoke(args=["init-db"])

    assert result.exit_code == 0
    assert "0 migrations applied" in result.output
    assert store.schema_problem() is None


def test_healthz_is_503_naming_the_reason_on_a_database_never_initialised(tmp_path):
    from app import create_app
    from tests.conftest import settings

    fresh = create_app(settings(tmp_path / "fresh"))
    response = fresh.test_client().get("/healthz")

    assert response.status_code == 503
    assert "init-db" in response.get_json()["reason"]


def test_a_database_made_by_the_old_sqlite_utils_migrations_is_adopted_not_recreated(tmp_path):
    import sqlite_utils

    from storage import schema

    path = tmp_path / "legacy.sqlite3"
    legacy = sqlite_utils.Database(path)
    legacy["invoices"].insert(
        {"number": "7", "amount": "1.00", "currency": "USD", "customer": "", "status": "open"},
        pk="number",
    )
    # The legacy tables later revisions (billing, sandbox) alter, as the old migrations made them.
    legacy["payments"].create(
        {"id": int, "callback_key": str, "confirmation_code": str, "invoice_number": str}
        | dict.fromkeys(  # what the dashboard's indexes cover
            ("call_sid", "transaction_id", "payment_method", "amount", "currency", "last4"), str
        )
        | dict.fromkeys(("caller", "received_at"), str),
        pk="id",
    )
    legacy["connector_transactions"].create(
        {"transaction_id": str, "response_id": str, "created_at": str}, pk="transaction_id"
    )
    legacy["sandbox_ledger"].create(
        {"idempotency_key": str, "object_id": str}, pk="idempotency_key"
    )
    legacy["_sqlite_migrations"].insert_all(
        [
            {"migration_set": "payline", "name": name}
            for name in (
                "m001_initial",
                "m002_invoices",
                "m003_invoice_claims",
                "m004_invoice_hold_reason",
            )
        ]
    )
    legacy.close()

    applied = schema.migrate(f"sqlite:///{path}")

    assert "core_0001" not in applied
    assert sqlite_utils.Database(path)["invoices"].count == 1


def test_the_ledger_report_can_be_limited_to_the_newest_rows_in_order(store):
    for i in range(5):
        store.claim_transaction(f"tx-{i}", "charge", "f", "owner", 60)

    rows = list(store.ledger_report(limit=2))

    assert [row["transaction_id"] for row in rows] == ["tx-3", "tx-4"]
    assert len(list(store.ledger_report())) == 5
