"""The ledger's waiting and replay rules, in-process against the real SQLite store."""

from __future__ import annotations

import json
import threading
import time

from connector.protocol import fingerprint, parse_envelope
from tests.conftest import card_charge


def claim_elsewhere(store, body: dict, *, lease: float = 60) -> None:
    envelope = parse_envelope(json.dumps(body).encode())
    outcome = store.claim_transaction(
        envelope.transaction_id,
        "charge",
        fingerprint(envelope, "test-secret"),
        "elsewhere",
        lease,
    )
    assert outcome.kind == "claimed"


def test_a_copy_waits_for_its_in_flight_original_and_gets_its_answer(app, connector_post, store):
    body = card_charge("wait-1")
    claim_elsewhere(store, body)

    def finish_later() -> None:
        time.sleep(0.5)
        store.finish_transaction(
            "wait-1",
            "elsewhere",
            {"charge_id": "ch_orig", "error_code": None, "error_message": None},
            {},
        )

    finisher = threading.Thread(target=finish_later)
    finisher.start()
    answer = connector_post(body).get_json()
    finisher.join()

    assert answer == {"charge_id": "ch_orig", "error_code": None, "error_message": None}


def test_the_wait_is_bounded_and_its_end_is_not_stored_as_final(tmp_path, store):
    from app import create_app
    from tests.conftest import basic_auth, settings

    body = card_charge("wait-2")
    claim_elsewhere(store, body)
    app = create_app(settings(tmp_path, IDEMPOTENCY_WAIT_SECONDS=0.3))
    answer = app.test_client().post("/connector", json=body, headers=basic_auth()).get_json()

    assert answer["error_code"] == "processing_error"
    assert "still being processed" in answer["error_message"]
    [row] = list(store.ledger_report())
    assert row["state"] == "processing"


def test_an_expired_claim_is_taken_over_and_the_sandbox_is_asked_with_the_same_key(
    connector_post, store
):
    body = card_charge("takeover-1")
    claim_elsewhere(store, body, lease=-1)

    answer = connector_post(body).get_json()

    [row] = list(store.ledger_report())
    assert answer["charge_id"] == row["response_id"]
    assert row["claims"] == 2
    assert row["processor_requests"] == 1 and row["processor_charges"] == 1


def test_ledger_command_prints_one_json_object_per_transaction(connector_post, runner):
    connector_post(card_charge("cli-1"))
    connector_post(card_charge("cli-1"))
    connector_post(card_charge("cli-2", amount="10.51"))

    rows = json.loads(runner.invoke(args=["ledger", "--json"]).output)

    assert [r["transaction_id"] for r in rows] == ["cli-1", "cli-2"]
    assert rows[0]["state"] == "done" and rows[0]["response_id"].startswith("ch_sbx_")
    assert (rows[0]["processor_requests"], rows[0]["processor_charges"]) == (1, 1)
    assert rows[1]["response_id"] is None and rows[1]["error_code"] == "card_declined"
    assert (rows[1]["processor_requests"], rows[1]["processor_charges"]) == (1, 0)
    assert "4111111111111111" not in json.dumps(rows)
