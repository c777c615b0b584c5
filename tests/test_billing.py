"""The settlement core and the sandbox's after-the-charge half, on a real database file.

Reconcile asks the sandbox (`lookup`), refunds go through it once per key, a token charge is
booked once per key however often it is asked.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

import billing
from billing import Outcome
from connector.processors import ChargeRef, LookupStatus
from connector.processors.sandbox import SandboxProcessor
from tests.conftest import basic_auth, card_charge

CALL = "CA" + "7" * 32


@pytest.fixture
def sandbox(store):
    return SandboxProcessor(store, slow_seconds=0)


def add_invoice(runner, number: str, amount: str) -> None:
    result = runner.invoke(args=["invoices", "add", number, amount])
    assert result.exit_code == 0, result.output


def tokenize(client, transaction_id: str, number: str, call_sid: str = CALL) -> str:
    body = card_charge(transaction_id, parameters={"invoice_number": number, "call_sid": call_sid})
    body = {k: v for k, v in body.items() if k not in ("amount", "currency_code")}
    answer = client.post("/connector", json={**body, "method": "tokenize"}, headers=basic_auth())
    return answer.get_json()["token_id"]


def charge(client, transaction_id: str, number: str, amount: str, call_sid: str = CALL) -> dict:
    body = card_charge(
        transaction_id, amount, parameters={"invoice_number": number, "call_sid": call_sid}
    )
    return client.post("/connector", json=body, headers=basic_auth()).get_json()


def unknown_attempt(store, number: str, key: str | None, *, call_sid: str = CALL) -> int:
    """A payment-connector-error whose outcome is unknown (processing_error), invoice held."""
    record = {
        "callback_key": f"{call_sid}:pay:{key}",
        "call_sid": call_sid,
        "result": "payment-connector-error",
        "transaction_id": key,
        "payment_method": "credit-card",
        "amount": store.invoice(number)["amount"],
        "currency": "USD",
        "invoice_number": number,
        "connector_error": "processing_error",
        "pay_error_code": "64008",
        "confirmation_code": None,
        "connector_parameters": json.dumps({}),
    }
    store.claim_invoice(number, call_sid, 600)
    decision = billing.settle_attempt(store, billing.Attempt(record))
    assert decision.outcome is Outcome.UNKNOWN and decision.payment_id is not None
    return decision.payment_id


def booked_without_an_answer(client, sandbox, number: str, key: str) -> str:
    """The processor charged under `key`, but the answer never reached PayLine's books (a card
    on file charged while the worker died): only asking the processor can tell."""
    token = tokenize(client, f"tok-{key}", number)
    result = sandbox.charge_token(token, Decimal("20.00"), "USD", key)
    assert result.id
    return result.id


# -- the sandbox ---------------------------------------------------------------------------------


def test_a_token_charge_retried_five_times_charges_once(client, store, sandbox, runner):
    add_invoice(runner, "2001", "30.00")
    token = tokenize(client, "tok-1", "2001")

    results = [sandbox.charge_token(token, Decimal("30.00"), "USD", "key-1") for _ in range(5)]

    assert len({r.id for r in results}) == 1 and results[0].id.startswith("ch_sbx_")
    assert store.sandbox_requests_seen("key-1") == 5
    charges = store.db.query("select * from sandbox_ledger where idempotency_key = 'key-1'")
    assert len(charges) == 1


@pytest.mark.parametrize(
    ("amount", "error_code"), [("30.51", "card_declined"), ("30.52", "insufficient_funds")]
)
def test_the_magic_amounts_decline_a_token_charge(
    client, store, sandbox, runner, amount, error_code
):
    add_invoice(runner, "2001", "30.00")
    token = tokenize(client, "tok-1", "2001")

    result = sandbox.charge_token(token, Decimal(amount), "USD", "key-m")

    assert result.id is None and result.error_code == error_code
    assert sandbox.lookup("key-m").status is LookupStatus.REFUSED


def test_a_token_the_sandbox_never_made_is_declined(sandbox):
    result = sandbox.charge_token("tok_sbx_nope", Decimal("5.00"), "USD", "key-x")

    assert result.id is None and result.error_code == "card_declined"


def test_lookup_says_charged_refused_or_never_seen(client, sandbox):
    charged = charge(client, "tx-ok", "1", "10.00")
    charge(client, "tx-no", "1", "10.51")

    ok = sandbox.lookup("tx-ok")
    assert (ok.status, ok.id, ok.amount, ok.currency) == (
        LookupStatus.CHARGED,
        charged["charge_id"],
        Decimal("10.00"),
        "USD",
    )
    assert sandbox.lookup("tx-no").status is LookupStatus.REFUSED
    assert sandbox.lookup("tx-never").status is LookupStatus.NOT_FOUND


def ref(charge_id: str, amount: str = "10.00") -> ChargeRef:
    return ChargeRef(
        charge_id=charge_id, amount=Decimal(amount), currency="USD", payment_method="card"
    )


def test_a_refund_asked_twice_with_one_key_refunds_once(client, sandbox, store):
    charge_id = charge(client, "tx-r", "1", "10.00")["charge_id"]

    first = sandbox.refund(ref(charge_id), Decimal("10.00"), "refund-1")
    again = sandbox.refund(ref(charge_id), Decimal("10.00"), "refund-1")

    assert first.id and first.id == again.id
    assert store.sandbox_refunded_minor(charge_id) == 1000


def test_refunds_never_exceed_what_is_left_of_the_charge(client, sandbox, store):
    charge_id = charge(client, "tx-p", "1", "10.00")["charge_id"]

    part = sandbox.refund(ref(charge_id), Decimal("6.00"), "r-1")
    too_much = sandbox.refund(ref(charge_id), Decimal("5.00"), "r-2")
    rest = sandbox.refund(ref(charge_id), Decimal("4.00"), "r-3")
    void = sandbox.void(ref(charge_id), "v-1")

    assert part.id and rest.id
    assert too_much.id is None and too_much.error_code == "invalid_amount"
    assert void.id is None
    assert store.sandbox_refunded_minor(charge_id) == 1000


def test_a_void_cancels_what_is_left_once(client, sandbox, store):
    charge_id = charge(client, "tx-v", "1", "10.00")["charge_id"]

    first = sandbox.void(ref(charge_id), "void-1")
    again = sandbox.void(ref(charge_id), "void-1")

    assert first.id and first.id == again.id
    assert store.sandbox_refunded_minor(charge_id) == 1000


# -- reconcile --------------------------------------------------------------------------------


def test_reconcile_settles_an_unknown_outcome_whose_key_the_sandbox_charged(
    client, store, sandbox, runner
):
    add_invoice(runner, "2002", "20.00")
    charged = booked_without_an_answer(client, sandbox, "2002", "tx-charged")
    payment_id = unknown_attempt(store, "2002", "tx-charged")

    [result] = billing.reconcile(store, sandbox)

    assert result.resolved and result.outcome is Outcome.SETTLED
    assert store.invoice("2002")["status"] == "paid"
    assert store.invoice("2002")["confirmation"] == charged
    assert store.payment(payment_id)["outcome"] == "settled"


def test_reconcile_releases_an_unknown_outcome_whose_key_the_sandbox_never_saw(
    store, sandbox, runner
):
    add_invoice(runner, "2003", "20.00")
    payment_id = unknown_attempt(store, "2003", "tx-never-seen")
    assert store.invoice("2003")["hold_reason"] == "unknown"

    [result] = billing.reconcile(store, sandbox)

    assert result.resolved and result.outcome is Outcome.REFUSED
    assert store.invoice("2003")["paying_call"] is None
    assert store.invoice("2003")["status"] == "open"
    assert store.payment(payment_id)["outcome"] == "refused"


def test_reconcile_leaves_what_it_cannot_decide_listed(store, sandbox, runner):
    add_invoice(runner, "2004", "20.00")
    payment_id = unknown_attempt(store, "2004", None)  # no key: nothing to ask about

    [result] = billing.reconcile(store, sandbox)

    assert not result.resolved and result.outcome is Outcome.UNKNOWN
    assert "needs a person" in result.message
    assert store.invoice("2004")["hold_reason"] == "unknown"
    assert store.payment(payment_id)["outcome"] == "unknown"


def test_reconcile_is_idempotent(client, store, sandbox, runner):
    add_invoice(runner, "2002", "20.00")
    booked_without_an_answer(client, sandbox, "2002", "tx-charged")
    unknown_attempt(store, "2002", "tx-charged")

    billing.reconcile(store, sandbox)

    assert billing.reconcile(store, sandbox) == []


def test_the_reconcile_command_prints_what_it_did_and_what_needs_a_person(
    client, store, runner, sandbox
):
    for number in ("2002", "2003", "2004"):
        add_invoice(runner, number, "20.00")
    booked_without_an_answer(client, sandbox, "2002", "tx-charged")
    unknown_attempt(store, "2002", "tx-charged")
    unknown_attempt(store, "2003", "tx-never-seen")
    unknown_attempt(store, "2004", None)

    result = runner.invoke(args=["reconcile", "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["invoice_number"]: row for row in json.loads(result.output)}
    assert rows["2002"]["outcome"] == "settled" and rows["2002"]["resolved"]
    assert rows["2003"]["outcome"] == "refused" and rows["2003"]["resolved"]
    assert rows["2004"]["outcome"] == "unknown" and not rows["2004"]["resolved"]
    assert "1 still need a person" in runner.invoke(args=["reconcile"]).output


# -- refunds ----------------------------------------------------------------------------------


def settled_payment(client, store, runner, number="2005", amount="20.00") -> int:
    add_invoice(runner, number, amount)
    charged = charge(client, f"tx-{number}", number, amount)
    record = {
        "callback_key": f"{CALL}:pay:{number}",
        "call_sid": CALL,
        "result": "success",
        "transaction_id": f"tx-{number}",
        "payment_method": "credit-card",
        "amount": amount,
        "currency": "USD",
        "invoice_number": number,
        "confirmation_code": charged["charge_id"],
    }
    store.claim_invoice(number, CALL, 600)
    decision = billing.settle_attempt(store, billing.Attempt(record))
    assert decision.outcome is Outcome.SETTLED and decision.payment_id is not None, decision
    return decision.payment_id


def test_the_refund_command_run_twice_refunds_once(client, store, runner):
    payment_id = settled_payment(client, store, runner)

    first = runner.invoke(args=["payments", "refund", str(payment_id), "--reason", "asked"])
    again = runner.invoke(args=["payments", "refund", str(payment_id), "--reason", "asked"])

    assert first.exit_code == 0, first.output
    assert "refunded 20.00 USD" in first.output
    assert "not refunded again" in again.output
    [refund] = store.refunds_for_payment(payment_id)
    assert refund["status"] == "done" and refund["amount"] == "20.00"
    assert store.payment(payment_id)["outcome"] == "refunded"
    assert store.payment(payment_id)["refunded_amount"] == "20.00"
    rows = store.db.query("select * from sandbox_refunds")
    assert len(rows) == 1


def test_a_partial_refund_then_the_rest_never_more_than_the_charge(client, store, runner):
    payment_id = settled_payment(client, store, runner)

    part = runner.invoke(args=["payments", "refund", str(payment_id), "--amount", "5.00"])
    too_much = runner.invoke(args=["payments", "refund", str(payment_id), "--amount", "15.01"])
    rest = runner.invoke(args=["payments", "refund", str(payment_id)])
    nothing = runner.invoke(args=["payments", "refund", str(payment_id), "--amount", "1.00"])

    assert part.exit_code == 0 and rest.exit_code == 0
    assert too_much.exit_code != 0 and "only 15.00 USD is left" in too_much.output
    assert nothing.exit_code != 0 and "nothing left" in nothing.output
    assert store.payment(payment_id)["refunded_amount"] == "20.00"
    assert store.payment(payment_id)["outcome"] == "refunded"


def test_a_refund_due_is_cleared_by_refunding_it(client, store, runner, sandbox):
    settled_payment(client, store, runner, number="2006")
    other = "CA" + "8" * 32
    second = charge(client, "tx-2006-b", "2006", "20.00", call_sid=other)
    record = {
        "callback_key": f"{other}:pay:1",
        "call_sid": other,
        "result": "success",
        "payment_method": "credit-card",
        "amount": "20.00",
        "currency": "USD",
        "invoice_number": "2006",
        "confirmation_code": second["charge_id"],
    }
    decision = billing.settle_attempt(store, billing.Attempt(record))
    assert decision.outcome is Outcome.REFUND_DUE

    result = billing.refund_payment(
        store,
        sandbox,
        decision.payment_id,
        amount=None,
        reason="duplicate",
        operator="ops",
        idempotency_key="dup-1",
    )

    assert result.status == "done"
    assert store.payment(decision.payment_id)["outcome"] == "refunded"


def test_an_attempt_with_no_charge_cannot_be_refunded(store, runner, sandbox):
    add_invoice(runner, "2007", "20.00")
    payment_id = unknown_attempt(store, "2007", "tx-x")

    result = billing.refund_payment(
        store, sandbox, payment_id, amount=None, reason="", operator="ops", idempotency_key="k"
    )

    assert result.status == "rejected" and "no charge" in result.message


def test_reconcile_settles_a_booked_charge_whose_callback_never_came(
    client, store, sandbox, runner
):
    add_invoice(runner, "2008", "20.00")
    charged = charge(client, "tx-orphan", "2008", "20.00")
    assert store.charge_booked_unreported("2008")  # no second caller may pay it meanwhile
    assert billing.reconcile(store, sandbox) == []  # a callback may still be on its way
    store.db.execute(
        "update connector_transactions set created_at = '2026-01-01T00:00:00.000Z'"
        " where transaction_id = 'tx-orphan'"
    )

    [result] = billing.reconcile(store, sandbox)

    assert result.outcome is Outcome.SETTLED and result.resolved
    assert store.invoice("2008")["confirmation"] == charged["charge_id"]
    assert not store.charge_booked_unreported("2008")
    assert billing.reconcile(store, sandbox) == []


def test_a_payment_note_is_kept_with_card_shaped_text_masked(store, runner):
    add_invoice(runner, "2009", "20.00")
    payment_id = unknown_attempt(store, "2009", "tx-n")

    billing.add_note(store, payment_id, "customer read 4111111111111111 aloud", operator="ops")

    [note] = store.payment_notes(payment_id)
    assert "4111111111111111" not in note["text"] and note["operator"] == "ops"


# -- the callback against the ledger, in-process ----------------------------------------------


def in_flight(store, transaction_id: str, number: str, call_sid: str = CALL) -> None:
    """A connector transaction claimed and being charged (its answer not written yet)."""
    store.claim_transaction(transaction_id, "charge", "fp", "owner", 600)
    store.note_transaction_subject(transaction_id, number, call_sid)


def attempt(number: str, result: str, call_sid: str = CALL, **fields) -> billing.Attempt:
    return billing.Attempt(
        {
            "callback_key": f"{call_sid}:pay:{number}:{result}",
            "call_sid": call_sid,
            "result": result,
            "invoice_number": number,
            "amount": "20.00",
            "currency": "USD",
            "payment_method": "credit-card",
            **fields,
        }
    )


def test_a_hang_up_while_the_connector_is_still_charging_holds_the_invoice(store, runner):
    add_invoice(runner, "2010", "20.00")
    store.claim_invoice("2010", CALL, 600)
    in_flight(store, "tx-busy", "2010")

    decision = billing.settle_attempt(store, attempt("2010", "caller-hung-up"))

    assert decision.outcome is Outcome.UNKNOWN
    assert store.invoice("2010")["hold_reason"] == "unknown"


def test_a_charge_in_flight_blocks_a_second_callers_claim(store, runner):
    add_invoice(runner, "2011", "20.00")
    in_flight(store, "tx-busy", "2011")

    assert not store.claim_invoice("2011", "CA" + "2" * 32, 0)


def test_a_refusal_with_no_booked_charge_releases_only_the_callers_own_hold(store, runner):
    add_invoice(runner, "2012", "20.00")
    holder = "CA" + "5" * 32
    store.claim_invoice("2012", holder, 600)

    decision = billing.settle_attempt(
        store, attempt("2012", "payment-connector-error", connector_error="card_declined")
    )

    assert decision.outcome is Outcome.REFUSED
    assert store.invoice("2012")["paying_call"] == holder


def test_a_saved_card_whose_token_the_connector_never_made_is_not_kept(store, runner):
    add_invoice(runner, "2013", "20.00")
    save = billing.Attempt(
        {
            "callback_key": f"{CALL}:save:1",
            "call_sid": CALL,
            "result": "success",
            "invoice_number": "2013",
            "payment_token": "tok_forged",
            "card_type": "visa",
            "last4": "1111",
        },
        purpose="save",
    )

    decision = billing.settle_attempt(store, save)

    assert decision.outcome is Outcome.NEEDS_REVIEW
    assert store.invoice("2013")["card_token"] is None


def test_without_ledger_reconciliation_the_signed_success_settles_when_it_matches(store, runner):
    add_invoice(runner, "2014", "20.00")
    other_connector = billing.BillingSettings(ledger_reconciliation=False)

    wrong = billing.settle_attempt(
        store,
        attempt("2014", "success", confirmation_code="ch_x", amount="2.00"),
        other_connector,
    )
    right = billing.settle_attempt(
        store,
        attempt("2014", "success", call_sid="CA" + "6" * 32, confirmation_code="ch_y"),
        other_connector,
    )

    assert wrong.outcome is Outcome.NEEDS_REVIEW and "invoice is 20.00" in wrong.review_reason
    assert right.outcome is Outcome.SETTLED
    assert store.invoice("2014")["confirmation"] == "ch_y"


class BooksThenFails:
    """A processor that books the token charge, then its answer is lost (a timeout)."""

    name = "flaky"

    def __init__(self, sandbox, error):
        self.sandbox = sandbox
        self.error = error

    def charge_token(self, *args, **kwargs):
        self.sandbox.charge_token(*args, **kwargs)
        raise self.error

    def lookup(self, key):
        return self.sandbox.lookup(key)


def saved_invoice(client, store, runner, number: str) -> dict:
    add_invoice(runner, number, "20.00")
    token = tokenize(client, f"tok-{number}", number)
    store.keep_card_on_file(number, token, "visa", "1111")
    return store.invoice(number)


def test_a_token_charge_whose_answer_was_lost_is_settled_by_reconcile_then_a_retry_repeats_it(
    client, store, sandbox, runner
):
    from connector.processors import ProcessorUnavailable

    found = saved_invoice(client, store, runner, "2020")
    store.claim_invoice("2020", CALL, 600)
    flaky = BooksThenFails(sandbox, ProcessorUnavailable("timeout"))

    lost = billing.charge_saved_card(
        store, flaky, found, call_sid=CALL, attempt=1, description="invoice 2020"
    )
    assert lost.outcome is Outcome.UNKNOWN
    assert store.invoice("2020")["hold_reason"] == "unknown"

    [result] = billing.reconcile(store, sandbox)
    retried = billing.charge_saved_card(
        store, sandbox, found, call_sid=CALL, attempt=1, description="invoice 2020"
    )

    assert result.outcome is Outcome.SETTLED
    assert retried.repeat and retried.outcome is Outcome.SETTLED
    assert store.invoice("2020")["status"] == "paid"
    assert len(store.db.query("select * from sandbox_ledger where kind = 'charge'")) == 1


def test_a_token_charge_left_pending_by_a_crash_blocks_the_invoice_until_reconciled(
    client, store, sandbox, runner
):
    found = saved_invoice(client, store, runner, "2021")

    class Crashes:
        name = "crashes"

        def charge_token(self, *args, **kwargs):
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        billing.charge_saved_card(
            store, Crashes(), found, call_sid=CALL, attempt=1, description="invoice 2021"
        )
    assert not store.claim_invoice("2021", "CA" + "4" * 32, 600)

    [result] = billing.reconcile(store, sandbox)

    assert result.outcome is Outcome.REFUSED and result.resolved
    assert store.claim_invoice("2021", "CA" + "4" * 32, 600)
