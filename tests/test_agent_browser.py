"""The agent console in a real browser (Debian's Chromium through Playwright) against gunicorn
and the emulator's Payments API stand-in: a whole card payment, clicked through."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_agent_e2e import agent_stack

# The session's `browser` fixture (tests/chromium.py) skips outside CI without Chromium and
# fails under CI=true.
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, backend):
    server, api, stand_in = agent_stack(
        tmp_path_factory.mktemp("browser-agent"), "4101,42.50,Ada Lovelace,USD\n"
    )
    yield server, api
    server.stop()
    stand_in.close()


def test_an_agent_takes_a_card_payment_in_the_console(stack, browser):
    server, api = stack
    expect = playwright_api.expect
    call = api.add_call()
    context = browser.new_context(
        http_credentials={"username": "agent", "password": "agent-Zt5kP9wQ2mR7xV4c"}
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{server.base_url}/agent/?call_sid={call}")
    page.select_option("#invoice", "4101")
    expect(page.locator("#amount")).to_have_text("42.50")
    expect(page.locator("#currency")).to_have_text("USD")
    page.click("#start")
    page.wait_for_url(re.compile(r"/agent/sessions/PK[0-9a-f]{32}$"))
    expect(page.locator("#state")).to_have_text("active")

    for field in ("payment-card-number", "expiration-date", "security-code", "postal-code"):
        row = page.locator(f'#fields tr[data-field="{field}"]')
        row.locator("button.capture").click()
        expect(row.locator("td.status")).to_have_text("captured", timeout=15_000)
        if field == "payment-card-number":
            expect(page.locator("#card-number")).to_have_text("xxxxxxxxxxxx1111")
            expect(page.locator("#card-type")).to_have_text("visa")
            expect(page.locator("#capture")).to_have_text("payment-card-number")
            expect(page.locator("#partial")).to_have_text("no")
    expect(page.locator("#required")).to_have_text("nothing: ready to complete")

    page.click("#complete")
    expect(page.locator("#result")).to_be_visible(timeout=15_000)
    expect(page.locator("#state")).to_have_text("completed")
    confirmation = page.locator("#confirmation").inner_text()
    assert confirmation.startswith("ch_")
    expect(page.locator("#result-text")).to_contain_text(confirmation)

    rows = json.loads(server.flask("invoices", "list", "--json").stdout)
    paid = next(row for row in rows if row["number"] == "4101")
    assert paid["status"] == "paid" and paid["confirmation"] == confirmation
    assert "4111111111111111" not in page.content()
    assert failed == []
    assert [p for p in problems if "favicon" not in p and "404" not in p] == []  # no CSP refusal
    context.close()
