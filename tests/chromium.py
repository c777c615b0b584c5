"""A real Chromium (Debian's, /usr/bin/chromium) driven by Playwright's Python API: one browser
for the whole session, shared by the dashboard's and the agent console's tests (two Playwright
instances in one process collide on its event loop).

Never `playwright install`: the browser is the distribution's package (`.ci/run` installs it).
Outside CI a machine without Chromium skips these tests, saying so; under CI=true a missing
browser is a failure, so that the dashboard is always tested in one there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch(playwright):
    """Chromium headless with the flags a container without a GPU or sandbox needs."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )


@pytest.fixture(scope="session")
def browser():
    in_ci = os.environ.get("CI", "").lower() == "true"
    if chromium_path() is None:
        if in_ci:
            pytest.fail("CI=true but no Chromium at /usr/bin/chromium: apt-get install chromium")
        pytest.skip("no Chromium found (apt-get install chromium); browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if in_ci:
            pytest.fail("CI=true but playwright is not installed (requirements-dev.txt)")
        pytest.skip("playwright is not installed; browser tests skipped")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
