"""The operators' dashboard over WSGI: who may read and act, what every page shows (and never
shows), filters, search, keyset pages, the CSV export, money totals and the actions' guards.

The same behaviours in a real browser against gunicorn are in tests/browser/.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from app import create_app
from config import ConfigError
from tests.conftest import VISA, basic_auth, card_charge, settings

OPERATOR = basic_auth("operator", "s3cret")


def seed_payment(store, n: int, **fields) -> int:
    """One recorded attempt with a billing outcome (default: settled)."""
    record = {
        "callback_key": f"CA{n:032d}:pay:1",
        "call_sid": f"CA{n:032d}",
        "result": "success",
        "transaction_id": f"tx-{n}",
        "payment_method": "credit-card",
        "amount": "10.00",
        "currency": "USD",
        "invoice_number": "1001",
        "card_type": "visa",
        "last4": "1111",
        "confirmation_code": f"ch_{n}",
        "caller": "+14155550100",
        **{k: v for k, v in fields.items() if k not in ("outcome", "received_at")},
    }
    payment_id = store.record_pay_result(record)
    changes = {"outcome": fields.get("outcome", "settled")}
    if "received_at" in fields:
        changes["received_at"] = fields["received_at"]
    store.update_payment(payment_id, changes)
    return payment_id


@pytest.fixture
def dashboard(tmp_path):
    app = create_app(settings(tmp_path, ADMIN_USERNAME="operator", ADMIN_PASSWORD="s3cret"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    return app


@pytest.fixture
def dstore(dashboard):
    store = dashboard.extensions["payline"].open_store()
    yield store
    store.close()


def page(app, path: str, headers=OPERATOR) -> str:
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def payment_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'aria-label="Payment (\d+)"', html)]


# -- who may read, who may act ---------------------------------------------------------------


def test_without_admin_credentials_or_operators_the_dashboard_is_shut(client):
    response = client.get("/admin/", headers=OPERATOR)

    assert response.status_code == 403
    assert b"ADMIN_USERNAME" in response.data


@pytest.mark.parametrize(
    "headers", [{}, basic_auth("operator", "wrong"), basic_auth("x", "s3cret")]
)
def test_wrong_or_missing_credentials_get_401(dashboard, headers):
    response = dashboard.test_client().get("/admin/", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_bootstrap_account_is_an_operator_and_every_page_says_who_is_signed_in(dashboard):
    for path in ("/admin/", "/admin/queue", "/admin/payments", "/admin/invoices", "/admin/ledger"):
        html = page(dashboard, path)
        assert re.search(
            r"Signed in as <strong>operator</strong>\s*<span class=\"role\">operator", html
        )


def test_operators_add_stores_an_argon2_hash_never_the_password(dashboard, dstore):
    result = dashboard.test_cli_runner().invoke(
        args=["operators", "add", "vera", "--role", "viewer"],
        input="viewer-password-1\nviewer-password-1\n",
    )

    assert result.exit_code == 0, result.output
    row = dstore.operator("vera")
    assert row["role"] == "viewer"
    assert row["password_hash"].startswith("$argon2")
    assert "viewer-password-1" not in row["password_hash"]


def test_operators_list_and_remove(dashboard, dstore):
    runner = dashboard.test_cli_runner()
    dstore.save_operator("olga", "olga-password-1", "operator")

    listed = json.loads(runner.invoke(args=["operators", "list", "--json"]).stdout)
    removed = runner.invoke(args=["operators", "remove", "olga"])

    assert [(o["name"], o["role"]) for o in listed] == [("olga", "operator")]
    assert "password_hash" not in listed[0]
    assert removed.exit_code == 0 and dstore.operator("olga") is None
    assert runner.invoke(args=["operators", "remove", "olga"]).exit_code != 0


def test_operators_add_refuses_a_short_password(dashboard):
    result = dashboard.test_cli_runner().invoke(
        args=["operators", "add", "vera", "--password", "short"]
    )

    assert result.exit_code != 0 and "12 characters" in result.output


def test_an_operator_from_the_table_signs_in_with_their_password(dashboard, dstore):
    dstore.save_operator("olga", "olga-password-1", "operator")

    assert "Signed in as <strong>olga</strong>" in page(
        dashboard, "/admin/payments", basic_auth("olga", "olga-password-1")
    )
    wrong = dashboard.test_client().get("/admin/", headers=basic_auth("olga", "nope"))
    assert wrong.status_code == 401


def test_a_changed_password_no_longer_signs_in(dashboard, dstore):
    dstore.save_operator("olga", "olga-password-1", "operator")
    page(dashboard, "/admin/", basic_auth("olga", "olga-password-1"))

    dstore.save_operator("olga", "olga-password-2", "operator")

    old = dashboard.test_client().get("/admin/", headers=basic_auth("olga", "olga-password-1"))
    assert old.status_code == 401


def test_operators_alone_open_the_dashboard_without_admin_settings(tmp_path):
    app = create_app(settings(tmp_path))
    app.test_cli_runner().invoke(args=["init-db"])
    store = app.extensions["payline"].open_store()
    store.save_operator("olga", "olga-password-1", "operator")
    store.close()

    assert page(app, "/admin/", basic_auth("olga", "olga-password-1"))


def test_a_viewer_reads_but_may_not_act(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, outcome="refund_due")
    dstore.save_operator("vera", "viewer-password-1", "viewer")
    viewer = basic_auth("vera", "viewer-password-1")
    client = dashboard.test_client()

    html = page(dashboard, "/admin/queue", viewer)
    assert "Refund…" not in html and '<form method="post"' not in html
    response = client.post(
        f"/admin/payments/{payment_id}/note", data={"text": "hi"}, headers=viewer
    )
    assert response.status_code == 403
    assert dstore.db.query("select * from audit_log") == []


def test_a_form_without_its_csrf_token_is_refused(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, outcome="refund_due")

    response = dashboard.test_client().post(
        f"/admin/payments/{payment_id}/refund",
        data={"reason": "duplicate", "confirmed": "1", "action_key": "dash-refund-1-xxxxxxxxxx"},
        headers=OPERATOR,
    )

    assert response.status_code == 400
    assert dstore.db.query("select * from refunds") == []


def test_webhooks_stay_outside_csrf(dashboard):
    response = dashboard.test_client().post(
        "/connector", json={"method": "charge"}, headers=basic_auth()
    )

    assert response.status_code == 400
    assert response.get_json()["error_code"] == "invalid_request"


def csrf_token(app, path: str) -> tuple:
    client = app.test_client()
    html = client.get(path, headers=OPERATOR).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    token = found.group(1)
    return client, token


def test_an_action_asks_for_confirmation_before_it_acts(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, outcome="refund_due")
    client, token = csrf_token(dashboard, f"/admin/payments/{payment_id}")

    response = client.post(
        f"/admin/payments/{payment_id}/refund",
        data={"csrf_token": token, "reason": "duplicate payment"},
        headers=OPERATOR,
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Refund 10.00 USD to Visa ····1111?" in html
    assert re.search(r'name="action_key" value="dash-refund-\d+-', html)
    assert dstore.db.query("select * from refunds") == []
    assert dstore.db.query("select * from audit_log") == []


def test_a_refund_larger_than_the_payment_is_refused_before_confirmation(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, outcome="refund_due")
    client, token = csrf_token(dashboard, f"/admin/payments/{payment_id}")

    response = client.post(
        f"/admin/payments/{payment_id}/refund",
        data={"csrf_token": token, "reason": "x", "amount": "10.01"},
        headers=OPERATOR,
    )

    assert response.status_code == 422
    assert "At most 10.00 USD can be refunded." in response.get_data(as_text=True)
    assert 'name="confirmed"' not in response.get_data(as_text=True)


# -- what pages show ----------------------------------------------------------------------------


def test_payments_show_brand_and_last_four_only(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, payment_token="tok_secret_reusable")

    for path in ("/admin/payments", f"/admin/payments/{payment_id}", "/admin/payments.csv"):
        html = page(dashboard, path)
        assert "1111" in html
        assert VISA not in html and "tok_secret_reusable" not in html


def test_payments_list_is_newest_first_and_keyset_paginated(dashboard, dstore):
    ids = [seed_payment(dstore, n) for n in range(1, 121)]

    first = page(dashboard, "/admin/payments")
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = page(dashboard, older)
    last_link = re.search(r'rel="next" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    third = page(dashboard, last_link)

    assert payment_ids(first) == ids[::-1][:50]
    assert payment_ids(second) == ids[::-1][50:100]
    assert payment_ids(third) == ids[::-1][100:]
    assert 'rel="next"' not in third
    newer = re.search(r'rel="prev" href="([^"]+)"', third).group(1).replace("&amp;", "&")
    assert payment_ids(page(dashboard, newer)) == ids[::-1][50:100]
    assert "offset" not in older.lower()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("result=declined", ["declined"]),
        ("result=attention", ["unknown", "review"]),
        ("result=refund_due", ["refund_due"]),
        ("result=refunded", ["refunded"]),
        ("result=settled", ["settled"]),
        ("method=ach-debit", ["ach"]),
        ("q=2002", ["by_invoice"]),
        ("q=ch_special", ["by_confirmation"]),
        ("q=4242", ["by_last4"]),
        ("q=4155559999", ["by_caller"]),
        ("q=%2B14155559999", ["by_caller"]),
        ("min=50&max=60", ["big"]),
        ("from=2026-01-02&to=2026-01-02", ["dated"]),
    ],
)
def test_payments_filters_and_search(dashboard, dstore, query, expected):
    made = {
        "settled": seed_payment(dstore, 1),
        "declined": seed_payment(dstore, 2, outcome="refused", result="payment-connector-error"),
        "unknown": seed_payment(dstore, 3, outcome="unknown"),
        "review": seed_payment(dstore, 4, outcome="needs_review"),
        "refund_due": seed_payment(dstore, 5, outcome="refund_due"),
        "refunded": seed_payment(dstore, 6, outcome="refunded"),
        "ach": seed_payment(dstore, 7, payment_method="ach-debit", outcome="abandoned"),
        "by_invoice": seed_payment(dstore, 8, invoice_number="2002", outcome="saved"),
        "by_confirmation": seed_payment(dstore, 9, confirmation_code="ch_special", outcome="saved"),
        "by_last4": seed_payment(dstore, 10, last4="4242", outcome="saved"),
        "by_caller": seed_payment(dstore, 11, caller="+14155559999", outcome="saved"),
        "big": seed_payment(dstore, 12, amount="55.50", outcome="saved"),
        "dated": seed_payment(dstore, 13, outcome="saved", received_at="2026-01-02T12:00:00.000Z"),
    }

    shown = payment_ids(page(dashboard, f"/admin/payments?{query}"))

    assert shown == sorted((made[name] for name in expected), reverse=True)


def test_a_bad_filter_value_is_ignored_with_a_message(dashboard, dstore):
    seed_payment(dstore, 1)

    html = page(dashboard, "/admin/payments?min=abc&from=yesterday")

    assert "“abc” is not an amount: ignored" in html
    assert "“yesterday” is not a date" in html
    assert len(payment_ids(html)) == 1


def test_dates_are_the_operators_days(tmp_path):
    app = create_app(
        settings(
            tmp_path,
            ADMIN_USERNAME="operator",
            ADMIN_PASSWORD="s3cret",
            OPERATOR_TIMEZONE="America/New_York",
        )
    )
    app.test_cli_runner().invoke(args=["init-db"])
    store = app.extensions["payline"].open_store()
    # 03:00 UTC on Jan 3 is 22:00 on Jan 2 in New York.
    late = seed_payment(store, 1, received_at="2026-01-03T03:00:00.000Z")
    seed_payment(store, 2, received_at="2026-01-03T12:00:00.000Z")
    store.close()

    html = page(app, "/admin/payments?from=2026-01-02&to=2026-01-02")

    assert payment_ids(html) == [late]
    assert "2026-01-02 22:00 EST" in html


def test_an_unknown_operator_time_zone_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="OPERATOR_TIMEZONE"):
        create_app(settings(tmp_path, OPERATOR_TIMEZONE="Mars/Olympus"))


def test_results_and_codes_are_in_plain_words_with_the_code_in_a_tooltip(dashboard, dstore):
    seed_payment(
        dstore,
        1,
        outcome="refused",
        result="payment-connector-error",
        connector_error="insufficient_funds",
        pay_error_code="64008",
    )

    html = page(dashboard, "/admin/payments")

    assert ">Declined<" in html and ">Insufficient funds<" in html
    assert 'title="Result payment-connector-error · insufficient_funds · 64008"' in html


def test_csv_export_streams_the_filtered_rows_a_chunk_at_a_time(dashboard, dstore, monkeypatch):
    monkeypatch.setattr("blueprints.admin.EXPORT_CHUNK", 40)
    for n in range(1, 306):  # ids stay clear of the card-data check's CVVs (739, 7391)
        seed_payment(dstore, n, outcome="refused" if n % 5 == 0 else "settled")

    response = dashboard.test_client().get("/admin/payments.csv?result=declined", headers=OPERATOR)

    assert response.is_streamed
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 61
    assert {r["result"] for r in rows} == {"Declined"}
    assert [int(r["id"]) for r in rows] == list(range(305, 0, -5))


def test_csv_cells_cannot_become_spreadsheet_formulas(dashboard, dstore):
    seed_payment(dstore, 1, invoice_number="=HYPERLINK(1)", caller="+14155550100")

    rows = list(csv.DictReader(io.StringIO(page(dashboard, "/admin/payments.csv"))))

    assert rows[0]["invoice"] == "'=HYPERLINK(1)"
    assert rows[0]["caller"] == "+14155550100"


def test_overview_sums_money_per_currency_exactly(dashboard, dstore):
    for n in range(1, 4):
        seed_payment(dstore, n, amount="0.10")
    seed_payment(dstore, 4, amount="5.00", currency="EUR")
    seed_payment(dstore, 5, amount="7.25", outcome="refused")
    seed_payment(dstore, 6, amount="3.00", outcome="unknown")

    html = page(dashboard, "/admin/")

    usd = html[html.index("<caption>USD</caption>") :]
    assert re.search(r"Collected</th>\s*<td class=\"num\">0.30 <span", usd)
    assert re.search(r"Declined</th>\s*<td class=\"num\">7.25 <span", usd)
    assert re.search(r"Unknown / review</th>\s*<td class=\"num\">3.00 <span", usd)
    assert "<caption>EUR</caption>" in html
    assert "<svg" in html and 'class="collected"' in html
    assert "Needs attention: 1" in html


def test_the_queue_lists_unknown_review_and_refund_due_with_hold_expiry(dashboard, dstore):
    dstore.hold_invoice_unknown("1002", "CA" + "0" * 31 + "3", 1800)
    seed_payment(dstore, 1)
    unknown = seed_payment(dstore, 3, outcome="unknown", invoice_number="1002")
    review = seed_payment(dstore, 4, outcome="needs_review")
    due = seed_payment(dstore, 5, outcome="refund_due")

    html = page(dashboard, "/admin/queue")

    assert re.findall(r'payments/(\d+)">#', html) == [str(due), str(review), str(unknown)]
    assert "held until" in html and "min left" in html
    assert "Unknown: <strong>1</strong>" in html


def test_a_payments_page_shows_invoice_timeline_ledger_and_audit(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, invoice_number="1001")
    dstore.record_pay_event({"call_sid": "CA" + "0" * 31 + "1", "step": "payment-card-number"})
    dstore.record_audit("k1", "olga", "note", payment_id=payment_id, detail="called back")

    html = page(dashboard, f"/admin/payments/{payment_id}")

    assert "Ada Lovelace" in html
    assert "Card number" in html
    assert re.search(r"<td>olga</td><td>note</td><td class=\"opt\">called back", html)


def test_an_unknown_payment_is_404(dashboard):
    response = dashboard.test_client().get("/admin/payments/999", headers=OPERATOR)

    assert response.status_code == 404


def test_invoices_are_searched_by_number_or_customer_and_paginated(dashboard):
    assert "Ada Lovelace" in page(dashboard, "/admin/invoices?q=ada")
    assert "Grace Hopper" not in page(dashboard, "/admin/invoices?q=ada")
    assert "Grace Hopper" in page(dashboard, "/admin/invoices?q=1002")


def test_the_ledger_is_newest_first_and_searchable(dashboard):
    runner = dashboard.test_cli_runner()
    first = json.loads(
        runner.invoke(args=["simulate-call", "--json", "--digits", "1,1001#,1"]).stdout
    )
    runner.invoke(args=["simulate-call", "--digits", "1,1003#,1"])

    html = page(dashboard, "/admin/ledger")
    tx = first["result"]["PayConnector_transaction_id"]
    rows = re.findall(r"<td class=\"opt\"><code>([^<]+)</code></td>", html)

    assert rows[-1] == tx and len(rows) == 2
    assert re.findall(
        r"<td class=\"opt\"><code>([^<]+)</code></td>", page(dashboard, f"/admin/ledger?q={tx}")
    ) == [tx]


def test_free_text_is_escaped(dashboard, dstore):
    seed_payment(
        dstore, 1, payment_error="<script>x</script>", outcome="refused", result="validation-error"
    )
    payment_id = seed_payment(dstore, 2, invoice_number="<b>x</b>")

    html = page(dashboard, "/admin/payments") + page(dashboard, f"/admin/payments/{payment_id}")

    assert "<script>x</script>" not in html and "<b>x</b>" not in html


def test_pages_use_no_inline_script_or_style(dashboard, dstore):
    payment_id = seed_payment(dstore, 1, outcome="refund_due")

    for path in ("/admin/", "/admin/queue", "/admin/payments", f"/admin/payments/{payment_id}"):
        html = page(dashboard, path)
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert not re.search(r"\son[a-z]+=", html)


# -- acting through the settlement core ---------------------------------------------------------


@pytest.fixture
def charged(dashboard, dstore):
    """A refund-due payment whose charge the sandbox really booked."""
    reply = dashboard.test_client().post(
        "/connector",
        json=card_charge("tx-dup", amount="25.00"),
        headers=basic_auth(),
    )
    charge_id = reply.get_json()["charge_id"]
    return seed_payment(
        dstore,
        1,
        outcome="refund_due",
        amount="25.00",
        transaction_id="tx-dup",
        confirmation_code=charge_id,
    )


def confirm(app, payment_id: int, action: str, **fields) -> tuple:
    """Step one of an action: the confirmation form's client, token and fields."""
    client, token = csrf_token(app, f"/admin/payments/{payment_id}")
    html = client.post(
        f"/admin/payments/{payment_id}/{action}",
        data={"csrf_token": token, **fields},
        headers=OPERATOR,
    ).get_data(as_text=True)
    hidden = dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', html))
    return client, hidden


def test_a_confirmed_refund_with_its_action_key_refunds_once_even_if_sent_twice(
    dashboard, dstore, charged
):
    client, form = confirm(dashboard, charged, "refund", reason="duplicate", amount="10.00")

    first = client.post(f"/admin/payments/{charged}/refund", data=form, headers=OPERATOR)
    second = client.post(f"/admin/payments/{charged}/refund", data=form, headers=OPERATOR)

    assert first.status_code == second.status_code == 302
    refunds = dstore.db.query("select * from refunds where payment_id = :id", {"id": charged})
    assert [(r["amount"], r["status"], r["operator"]) for r in refunds] == [
        ("10.00", "done", "operator")
    ]
    assert refunds[0]["idempotency_key"] == form["action_key"]
    [entry] = dstore.db.query("select * from audit_log")
    assert entry["operator"] == "operator" and entry["action"] == "refund"
    assert "10.00 USD (partial): duplicate" in entry["detail"] and "refunded" in entry["detail"]
    html = page(dashboard, f"/admin/payments/{charged}")
    assert "10.00 USD" in html and ">done<" in html


def test_a_full_refund_marks_the_payment_refunded(dashboard, dstore, charged):
    client, form = confirm(dashboard, charged, "refund", reason="duplicate")

    client.post(f"/admin/payments/{charged}/refund", data=form, headers=OPERATOR)

    assert dstore.payment(charged)["outcome"] == "refunded"
    assert dstore.payment(charged)["refunded_amount"] == "25.00"


def test_a_note_is_added_once_and_shown_with_its_author(dashboard, dstore, charged):
    client, form = confirm(dashboard, charged, "note", text="Customer called back")

    client.post(f"/admin/payments/{charged}/note", data=form, headers=OPERATOR)
    client.post(f"/admin/payments/{charged}/note", data=form, headers=OPERATOR)

    html = page(dashboard, f"/admin/payments/{charged}")
    assert html.count("Customer called back") == 2  # the note, and its audit entry
    assert len(dstore.notes_for_payment(charged)) == 1


def test_release_hold_from_the_dashboard(dashboard, dstore):
    call_sid = "CA" + "0" * 31 + "3"
    dstore.hold_invoice_unknown("1002", call_sid, 1800)
    payment_id = seed_payment(dstore, 3, outcome="unknown", invoice_number="1002")
    client, form = confirm(dashboard, payment_id, "release")

    reply = client.post(f"/admin/payments/{payment_id}/release", data=form, headers=OPERATOR)

    assert reply.status_code == 302
    assert dstore.invoice("1002")["paying_call"] is None
    [entry] = dstore.db.query("select * from audit_log")
    assert entry["action"] == "release" and "hold released" in entry["detail"]


def test_reconcile_from_the_dashboard_records_what_the_processor_said(dashboard, dstore):
    payment_id = seed_payment(
        dstore, 3, outcome="unknown", transaction_id="tx-never-seen", confirmation_code=None
    )
    client, form = confirm(dashboard, payment_id, "reconcile")

    reply = client.post(f"/admin/payments/{payment_id}/reconcile", data=form, headers=OPERATOR)

    assert reply.status_code == 302
    [entry] = dstore.db.query("select * from audit_log")
    assert entry["action"] == "reconcile" and "→" in entry["detail"]


def test_a_refund_whose_answer_was_lost_is_asked_again_with_its_own_key(dashboard, dstore, charged):
    dstore.db.execute(
        "insert into refunds (payment_id, idempotency_key, amount, currency, reason, operator,"
        " status, error_code, created_at) values (:id, 'lost-key', '5.00', 'USD', 'dup', 'olga',"
        " 'unknown', 'unavailable', '2026-12-01T08:00:00.000Z')",
        {"id": charged},
    )
    [lost] = dstore.db.query("select id from refunds")
    client, form = confirm(dashboard, charged, "refund", retry=str(lost["id"]))

    assert form["retry"] == str(lost["id"])
    client.post(f"/admin/payments/{charged}/refund", data=form, headers=OPERATOR)

    refunds = dstore.db.query("select idempotency_key, status, amount from refunds")
    assert refunds == [{"idempotency_key": "lost-key", "status": "done", "amount": "5.00"}]


def test_an_amount_range_searches_a_bounded_window_per_page_and_goes_on(
    dashboard, dstore, monkeypatch
):
    monkeypatch.setattr("storage.dashboard.SCAN_WINDOW", 10)
    ids = [
        seed_payment(dstore, n, amount="99.00" if n in (3, 25) else "10.00") for n in range(1, 31)
    ]

    def older(html: str) -> str:
        found = re.search(r'rel="next" href="([^"]+)"', html)
        assert found, html
        return found.group(1).replace("&amp;", "&")

    first = page(dashboard, "/admin/payments?min=50")
    second = page(dashboard, older(first))
    third = page(dashboard, older(second))

    assert payment_ids(first) == [ids[24]] and "looked down to payment #21" in first
    assert payment_ids(second) == [] and "looked down to payment #11" in second
    assert payment_ids(third) == [ids[2]] and 'rel="next"' not in third
    assert "min=50" in older(first)
    rows = list(csv.DictReader(io.StringIO(page(dashboard, "/admin/payments.csv?min=50"))))
    assert [int(r["id"]) for r in rows] == [ids[24], ids[2]]


def test_a_duplicate_payment_from_a_real_call_is_queued_as_refund_due_and_refunded(dashboard):
    from tests.conftest import PUBLIC_BASE_URL, signature

    runner = dashboard.test_cli_runner()
    paid = json.loads(
        runner.invoke(args=["simulate-call", "--json", "--digits", "1,1001#,1"]).stdout
    )
    late_call = "CA" + "8" * 32
    body = card_charge(
        "tx-late", "42.50", parameters={"invoice_number": "1001", "call_sid": late_call}
    )
    charged = dashboard.test_client().post("/connector", json=body, headers=basic_auth()).get_json()
    late = {
        **paid["result"],
        "CallSid": late_call,
        "PaymentConfirmationCode": charged["charge_id"],
        "PayConnector_transaction_id": "tx-late",
    }
    url = paid["payments"][0]["action_url"]
    dashboard.test_client().post(
        url.removeprefix(PUBLIC_BASE_URL),
        data=late,
        headers={"X-Twilio-Signature": signature(url, late)},
    )

    queue = page(dashboard, "/admin/queue")
    [payment_id] = [int(x) for x in re.findall(r'payments/(\d+)">#', queue)]
    assert "Refund due" in queue and "42.50 USD" in queue
    client, form = confirm(dashboard, payment_id, "refund", reason="paid twice")
    client.post(f"/admin/payments/{payment_id}/refund", data=form, headers=OPERATOR)

    assert "Nothing needs attention." in page(dashboard, "/admin/queue")
    assert ">Refunded<" in page(dashboard, f"/admin/payments/{payment_id}")


def test_every_outcome_of_the_settlement_core_has_a_plain_language_label():
    from billing import Outcome
    from blueprints.admin_labels import OUTCOME_LABELS

    assert set(OUTCOME_LABELS) == set(Outcome)
