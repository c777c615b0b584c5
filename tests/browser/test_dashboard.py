"""The dashboard in Chromium against gunicorn (the Procfile) on a seeded SQLite database:
filter, search, paginate, open a payment, export CSV, act from the queue, the guards, a phone."""

from __future__ import annotations

import csv
import re

import pytest
import requests

from storage import Store
from tests.conftest import basic_auth, card_charge
from tests.server import serve

ADMIN = {"username": "admin", "password": "admin-Hq7vN2xR9tLm4pW8"}
VIEWER = {"username": "vera", "password": "viewer-password-1"}


def seed(store: Store, n: int, **fields) -> int:
    record = {
        "callback_key": f"CA{n:032d}:pay:1",
        "call_sid": f"CA{n:032d}",
        "result": "success",
        "transaction_id": f"tx-{n}",
        "payment_method": "credit-card",
        "amount": f"{10 + n % 7}.00",
        "currency": "USD",
        "invoice_number": "1001",
        "card_type": "visa",
        "last4": "1111",
        "confirmation_code": f"ch_seed_{n}",
        "caller": "+14155550100",
        **{k: v for k, v in fields.items() if k != "outcome"},
    }
    payment_id = store.record_pay_result(record)
    assert payment_id is not None
    store.update_payment(payment_id, {"outcome": fields.get("outcome", "settled")})
    return payment_id


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    server = serve(
        tmp_path_factory.mktemp("dashboard-browser"),
        ADMIN_USERNAME=ADMIN["username"],
        ADMIN_PASSWORD=ADMIN["password"],
        OPERATOR_TIMEZONE="Europe/Paris",
    )
    csv_file = server.directory / "invoices.csv"
    csv_file.write_text(
        "number,amount,customer,currency\n1001,42.50,Ada Lovelace,USD\n"
        "1002,120.00,Grace Hopper,USD\n1003,15.51,Alan Turing,USD\n"
    )
    assert server.flask("invoices", "import", str(csv_file)).returncode == 0
    added = server.flask(
        "operators", "add", VIEWER["username"], "--role", "viewer", "--password", VIEWER["password"]
    )
    assert added.returncode == 0, added.stderr
    store = Store(server.database_url)
    try:
        ids = [seed(store, n) for n in range(1, 71)]
        ids.append(
            seed(
                store,
                71,
                outcome="refused",
                result="payment-connector-error",
                connector_error="card_declined",
                invoice_number="1003",
                last4="0002",
            )
        )
        ids.append(
            seed(
                store,
                72,
                outcome="unknown",
                result="payment-connector-error",
                connector_error="processing_error",
                invoice_number="1002",
                caller="+33655501234",
                confirmation_code=None,
            )
        )
        charge = requests.post(
            server.base_url + "/connector",
            json=card_charge("tx-browser-dup", amount="25.00"),
            headers=basic_auth(),
            timeout=30,
        ).json()
        server.refund_due = seed(
            store,
            73,
            outcome="refund_due",
            amount="25.00",
            invoice_number="1001",
            transaction_id="tx-browser-dup",
            confirmation_code=charge["charge_id"],
        )
        ids.append(server.refund_due)
        server.seeded = ids
    finally:
        store.close()
    yield server
    server.stop()


@pytest.fixture
def context(browser, server):
    context = browser.new_context(http_credentials=ADMIN, base_url=server.base_url)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def row_ids(page) -> list[int]:
    return [
        int(x.split()[-1])
        for x in page.locator("a[aria-label^='Payment ']").evaluate_all(
            "links => links.map(a => a.getAttribute('aria-label'))"
        )
    ]


def test_every_page_says_who_is_signed_in(page):
    for path in ("/admin/", "/admin/queue", "/admin/payments", "/admin/invoices", "/admin/ledger"):
        page.goto(path)
        assert page.get_by_test_id("signed-in").inner_text().startswith("Signed in as admin")


def test_filter_by_result_class_in_the_browser(page, server):
    page.goto("/admin/payments")
    page.get_by_label("Result").select_option("declined")
    page.get_by_role("button", name="Apply").click()

    assert page.url.endswith("result=declined") or "result=declined" in page.url
    assert row_ids(page) == [server.seeded[70]]
    assert page.locator("td.result").first.inner_text().startswith("Declined")


def test_search_by_caller_and_by_last_four(page, server):
    page.goto("/admin/payments")
    page.get_by_label("Search").fill("+33655501234")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=%2B33655501234"))
    assert row_ids(page) == [server.seeded[71]]

    page.get_by_label("Search").fill("0002")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url(re.compile(r"q=0002"))
    assert row_ids(page) == [server.seeded[70]]


def test_paginate_older_and_newer(page, server):
    newest_first = server.seeded[::-1]
    page.goto("/admin/payments")
    assert row_ids(page) == newest_first[:50]

    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(re.compile(r"older=\d+"))
    assert row_ids(page) == newest_first[50:]
    assert page.get_by_role("link", name="Older →").count() == 0

    page.get_by_role("link", name="← Newer").click()
    page.wait_for_url(re.compile(r"newer=\d+"))
    assert row_ids(page) == newest_first[:50]


def test_open_a_payment_from_the_list(page, server):
    page.goto("/admin/payments?result=attention")
    page.get_by_role("link", name=f"Payment {server.seeded[71]}").click()

    page.wait_for_url(re.compile(rf"/admin/payments/{server.seeded[71]}$"))
    assert page.get_by_role("heading", name=f"Payment #{server.seeded[71]}").is_visible()
    body = page.locator("main").inner_text()
    assert "Unknown: may have charged" in body and "Grace Hopper" in body
    assert "Processor failure: outcome to check" in body


def test_export_csv_and_read_it_back(page, server):
    page.goto("/admin/payments?q=1001")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = download.value.path()

    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 71
    assert {row["invoice"] for row in rows} == {"1001"}
    assert rows[0]["card"] == "Visa ····1111"
    assert rows[0]["received_at_local"].endswith(("CET", "CEST"))
    assert "4111111111111111" not in open(path, encoding="utf-8").read()


def test_an_action_without_its_csrf_token_is_refused(page, server):
    payment_id = server.seeded[71]
    page.goto(f"/admin/payments/{payment_id}")
    form = page.locator("form.note")
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    form.get_by_label("Note").fill("no token")
    with page.expect_response(re.compile(r"/note$")) as response:
        form.get_by_role("button", name="Add note…").click()

    assert response.value.status == 400
    page.goto(f"/admin/payments/{payment_id}")
    assert "no token" not in page.locator("main").inner_text()


def test_a_viewer_sees_no_actions_and_is_refused_when_posting(browser, server):
    context = browser.new_context(http_credentials=VIEWER, base_url=server.base_url)
    try:
        page = context.new_page()
        page.goto("/admin/queue")
        assert "Signed in as vera" in page.get_by_test_id("signed-in").inner_text()
        assert page.locator("form[method=post]").count() == 0
        page.goto(f"/admin/payments/{server.seeded[71]}")
        assert page.locator("form[method=post]").count() == 0

        refused = context.request.post(
            f"/admin/payments/{server.seeded[71]}/note", form={"text": "viewer"}
        )
        assert refused.status == 403
    finally:
        context.close()


def test_the_phone_layout_shows_result_and_amount_without_sideways_scrolling(browser, server):
    context = browser.new_context(
        http_credentials=ADMIN, base_url=server.base_url, viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        for path in (
            "/admin/payments",
            "/admin/queue",
            "/admin/",
            f"/admin/payments/{server.seeded[0]}",
        ):
            page.goto(path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        page.goto("/admin/payments")
        for cell in (page.locator("td.result").first, page.locator("td.amount").first):
            box = cell.bounding_box()
            assert cell.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 390
    finally:
        context.close()


def test_the_dashboard_needs_credentials(server):
    assert requests.get(server.base_url + "/admin/", timeout=5).status_code == 401


def test_refund_from_the_queue_once_despite_a_double_click_and_see_the_audit_entry(page, server):
    payment_id = server.refund_due
    page.goto("/admin/queue")
    row = page.locator("tr.acts-row", has=page.locator(f"form[action$='/{payment_id}/refund']"))
    row.get_by_label("Amount").fill("10.00")
    row.get_by_label("Reason").fill("duplicate payment, customer called")
    row.get_by_role("button", name="Refund…").click()

    confirm = page.get_by_role("heading", name="Refund 10.00 USD to Visa ····1111?")
    assert confirm.is_visible()
    page.get_by_role("button", name="Yes, refund").dblclick()
    page.wait_for_url(re.compile(r"/admin/queue"))
    assert "refunded 10.00 USD" in page.locator(".flash").first.inner_text()

    page.goto(f"/admin/payments/{payment_id}")
    refunds = page.locator("section", has=page.get_by_role("heading", name="Refunds"))
    assert refunds.locator("tbody tr").count() == 1, server.query("select * from refunds")
    assert "10.00 USD" in refunds.inner_text() and "done" in refunds.inner_text()
    audit = page.get_by_test_id("audit").locator("tbody tr")
    assert audit.count() == 1
    text = audit.first.inner_text()
    assert "admin" in text and "refund" in text and "duplicate payment" in text
    rows = server.query("select status from refunds where payment_id = :id", {"id": payment_id})
    assert rows == [{"status": "done"}]
