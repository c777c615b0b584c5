"""The dashboard at volume: 1,000,000 payments and connector transactions, every page rendered
in Chromium (Debian's) against gunicorn (the Procfile); prints each page's time and weight.

    .venv/bin/python -m bench.dashboard [--payments 1000000] [--ledger 1000000] [--runs 3]
                                        [--keep DIR] [--screenshots docs]

Not a test: it asserts nothing; the goal (issue 12) is every page under 1 s and under 300 KB.
"Render" is what the browser measures for the navigation (request start to the load event:
server time, transfer, parse, style, layout); "weight" is every byte it fetched for the page.

Seeding writes the SQLite file directly with executemany, the benchmark's own fixture (a
production database is only ever written by the app); the schema is the app's (init-db).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PAYLINE_ENV", "development")

from tests.chromium import chromium_path, launch  # noqa: E402
from tests.server import Server  # noqa: E402

ADMIN = {"username": "bench", "password": "bench-password-1", "send": "always"}
OUTCOMES = (
    ["settled"] * 800
    + ["refused"] * 120
    + ["abandoned"] * 40
    + ["saved"] * 20
    + ["refunded"] * 10
    + ["unknown"] * 5
    + ["refund_due"] * 3
    + ["needs_review"] * 2
)
RESULTS = {"refused": "payment-connector-error", "abandoned": "caller-hung-up"}
ERRORS = ["card_declined", "insufficient_funds", "invalid_expiry"]
BRANDS = ["visa", "mastercard", "amex", "discover"]
CUSTOMERS = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra"]
DAY = 86400.0


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def seed(database: Path, payments: int, ledger: int, days: int, invoices: int) -> dict:
    """Payments spread evenly over `days` up to now, the ledger likewise; returns probes."""
    rng = random.Random(12)
    amounts = [f"{rng.randint(5, 900)}.{rng.choice(['00', '50', '99', '25'])}" for _ in range(300)]
    db = sqlite3.connect(database)
    db.execute("pragma journal_mode = wal")
    db.execute("pragma synchronous = off")
    now = time.time()
    start = now - days * DAY
    started = time.perf_counter()
    db.executemany(
        "insert into invoices (number, customer, amount, currency, status, created_at)"
        " values (?, ?, ?, 'USD', ?, ?)",
        (
            (
                str(100000 + n),
                f"{rng.choice(CUSTOMERS)} {n}",
                rng.choice(amounts),
                "paid" if n % 3 else "open",
                iso(start),
            )
            for n in range(invoices)
        ),
    )

    def payment_rows():
        step = days * DAY / payments
        for n in range(payments):
            outcome = rng.choice(OUTCOMES)
            ach = n % 17 == 0
            yield (
                f"CA{n:032x}:pay:1",
                f"CA{n:032x}",
                RESULTS.get(outcome, "success"),
                outcome,
                f"tx-{n:010d}",
                "ach-debit" if ach else "credit-card",
                rng.choice(amounts),
                "EUR" if n % 23 == 0 else "USD",
                None if ach else rng.choice(BRANDS),
                f"{rng.randint(0, 9999):04d}",
                f"ch_sbx_{n:08x}" if outcome not in RESULTS else None,
                rng.choice(ERRORS) if outcome == "refused" else None,
                "64008" if outcome == "refused" else None,
                str(100000 + rng.randrange(invoices)),
                f"+1415{rng.randint(0, 9999999):07d}",
                iso(start + n * step),
                "ivr",
                "The processor did not answer" if outcome == "needs_review" else None,
            )

    db.executemany(
        "insert into payments (callback_key, call_sid, result, outcome, transaction_id,"
        " payment_method, amount, currency, card_type, last4, confirmation_code,"
        " connector_error, pay_error_code, invoice_number, caller, received_at, channel,"
        " review_reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        payment_rows(),
    )
    db.execute(
        "insert into refunds (payment_id, idempotency_key, amount, currency, reason, operator,"
        " status, processor_refund_id, created_at) select id, 'bench-' || id, amount, currency,"
        " 'customer asked', 'bench', 'done', 're_' || id, received_at from payments"
        " where outcome = 'refunded'"
    )
    db.execute("update payments set refunded_amount = amount where outcome = 'refunded'")

    def ledger_rows():
        step = days * DAY / ledger
        for n in range(ledger):
            declined = n % 8 == 0
            stamp = iso(start + n * step)
            yield (
                f"tx-{n:010d}",
                "charge",
                f"fp{n}",
                "done",
                None if declined else f"ch_sbx_{n:08x}",
                "card_declined" if declined else None,
                "card",
                rng.choice(amounts),
                "USD",
                rng.choice(BRANDS),
                f"{rng.randint(0, 9999):04d}",
                stamp,
                stamp,
            )

    db.executemany(
        "insert into connector_transactions (transaction_id, method, fingerprint, state,"
        " response_id, error_code, payment_method, amount, currency, card_brand, last4,"
        " created_at, updated_at, claims, processor_calls) values"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
        ledger_rows(),
    )
    probe = db.execute(
        "select id, call_sid, invoice_number, last4, received_at from payments"
        " where outcome = 'unknown' order by id desc limit 1"
    ).fetchone()
    events = [
        "payment-card-number",
        "expiration-date",
        "security-code",
        "postal-code",
        "payment-processing",
    ]
    db.executemany(
        "insert into pay_events (call_sid, step, attempt, payment_method, received_at)"
        " values (?, ?, '1', 'credit-card', ?)",
        [(probe[1], step, iso(now - 120 + i * 9)) for i, step in enumerate(events)],
    )
    db.execute(
        "update invoices set status = 'open', paying_call = ?, paying_until = ?,"
        " hold_reason = 'unknown' where number = ?",
        (probe[1], now + 1500, probe[2]),
    )
    db.execute("update payments set received_at = ? where id = ?", (iso(now - 300), probe[0]))
    db.execute(
        "insert into payment_notes (payment_id, text, operator, created_at)"
        " values (?, 'Customer says the card was charged; checking with the processor.',"
        " 'bench', ?)",
        (probe[0], iso(now - 60)),
    )
    db.commit()
    middle = db.execute(
        "select id from payments order by id limit 1 offset ?", (payments // 2,)
    ).fetchone()[0]
    ledger_middle = db.execute(
        "select created_at, transaction_id from connector_transactions"
        " order by created_at limit 1 offset ?",
        (ledger // 2,),
    ).fetchone()
    db.close()
    print(
        f"seeded {payments:,} payments, {ledger:,} ledger rows, {invoices:,} invoices"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return {
        "payment": probe[0],
        "last4": probe[3],
        "invoice": probe[2],
        "middle": middle,
        "ledger_middle": ledger_middle,
        "day": time.strftime("%Y-%m-%d", time.gmtime(now - 40 * DAY)),
    }


def pages(probe: dict) -> list[tuple[str, str]]:
    import json
    from urllib.parse import quote

    cursor = quote(json.dumps(list(probe["ledger_middle"])))
    return [
        ("overview", "/admin/"),
        ("queue", "/admin/queue"),
        ("payments", "/admin/payments"),
        ("payments, page in the middle", f"/admin/payments?older={probe['middle']}"),
        ("payments, declined", "/admin/payments?result=declined"),
        ("payments, refund due", "/admin/payments?result=refund_due"),
        ("payments, ACH", "/admin/payments?method=ach-debit"),
        ("payments, one day", f"/admin/payments?from={probe['day']}&to={probe['day']}"),
        ("payments, amount range", "/admin/payments?min=100&max=101"),
        ("payments, search last four", f"/admin/payments?q={probe['last4']}"),
        ("payments, search invoice", f"/admin/payments?q={probe['invoice']}"),
        ("payments, search caller", "/admin/payments?q=%2B14155550123"),
        ("payment", f"/admin/payments/{probe['payment']}"),
        ("invoices", "/admin/invoices"),
        ("invoices, open", "/admin/invoices?status=open"),
        ("invoices, search customer", "/admin/invoices?q=grace+hopper+77"),
        ("ledger", "/admin/ledger"),
        ("ledger, page in the middle", f"/admin/ledger?older={cursor}"),
        ("ledger, search", "/admin/ledger?q=ch_sbx_00000100"),
    ]


MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const size = (e) => Math.max(e.transferSize || 0, e.encodedBodySize || 0);
  const bytes = [nav, ...resources].reduce((sum, e) => sum + size(e), 0);
  const server = nav.responseStart - nav.requestStart;
  return {ms: nav.loadEventEnd - nav.startTime, server, bytes};
}"""


def measure(server: Server, probe: dict, runs: int, screenshots: Path | None) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(http_credentials=ADMIN, base_url=server.base_url)
        page = context.new_page()
        print(f"\n{'page':<32} {'render ms':>10} {'server ms':>10} {'weight KB':>10}")
        worst_ms = worst_kb = 0.0
        for name, path in pages(probe):
            page.goto(path)  # warm: first use of these index pages
            figures = []
            for _ in range(runs):
                page.goto(path, wait_until="load")
                figures.append(page.evaluate(MEASURE))
            ms = statistics.median(f["ms"] for f in figures)
            server_ms = statistics.median(f["server"] for f in figures)
            kb = max(f["bytes"] for f in figures) / 1024
            worst_ms, worst_kb = max(worst_ms, ms), max(worst_kb, kb)
            print(f"{name:<32} {ms:>10.0f} {server_ms:>10.0f} {kb:>10.1f}")
        # The CSV export of a filter: time to the whole file (streamed).
        started = time.perf_counter()
        reply = context.request.get("/admin/payments.csv?result=refund_due")
        body = reply.body()
        rows = body.count(b"\n") - 1
        print(
            f"{'export csv, refund due':<32} {(time.perf_counter() - started) * 1000:>10.0f}"
            f" {'':>10} {len(body) / 1024:>10.1f}  ({rows:,} rows)"
        )
        print(f"\nworst page: {worst_ms:.0f} ms, {worst_kb:.1f} KB (goal: < 1000 ms, < 300 KB)")
        if screenshots:
            shoot(browser, server, probe, screenshots)
        browser.close()


def shoot(browser, server: Server, probe: dict, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        http_credentials=ADMIN, base_url=server.base_url, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    for name, path in (("overview", "/admin/"), ("queue", "/admin/queue")):
        page.goto(path)
        page.screenshot(path=str(directory / f"dashboard-{name}.png"), full_page=name == "overview")
    # An operator's note, through the form and its confirmation: it shows in notes and audit.
    page.goto(f"/admin/payments/{probe['payment']}")
    if page.locator("[data-testid=audit] tbody tr td").first.inner_text().startswith("Nobody"):
        page.locator("form.note").get_by_label("Note").fill("Called the customer back.")
        page.get_by_role("button", name="Add note…").click()
        page.get_by_role("button", name="Yes, add the note").click()
        page.wait_for_url(f"**/admin/payments/{probe['payment']}")
    page.screenshot(path=str(directory / "dashboard-payment.png"), full_page=True)
    phone = browser.new_context(
        http_credentials=ADMIN, base_url=server.base_url, viewport={"width": 390, "height": 844}
    ).new_page()
    phone.goto("/admin/payments")
    phone.screenshot(path=str(directory / "dashboard-phone.png"))
    print(f"screenshots in {directory}/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Seed into (or reuse) this directory.")
    parser.add_argument("--screenshots", type=Path, help="Also write docs screenshots here.")
    args = parser.parse_args()
    if chromium_path() is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    directory = args.keep or Path(tempfile.mkdtemp(prefix="payline-dashboard-"))
    directory.mkdir(parents=True, exist_ok=True)
    server = Server(
        directory=directory,
        env={"ADMIN_USERNAME": ADMIN["username"], "ADMIN_PASSWORD": ADMIN["password"]},
        workers=2,
    )
    fresh = not server.database.exists()
    server.run_release()
    probe_file = directory / "probe.json"
    if fresh:
        probe = seed(server.database, args.payments, args.ledger, args.days, args.invoices)
        import json

        probe_file.write_text(json.dumps(probe))
    else:
        import json

        probe = json.loads(probe_file.read_text())
        print(f"reusing the seeded database in {directory}")
    server.start()
    try:
        measure(server, probe, args.runs, args.screenshots)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
