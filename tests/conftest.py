"""Fixtures: an app on a file database in tmp_path, Twilio-signed posts, connector posts.

Every database, server log and captured log line of the session lives under pytest's basetemp,
so that the last test (test_zz_card_data_at_rest) can search all of it for card data.
"""

from __future__ import annotations

import base64
import logging
import os

os.environ["PAYLINE_ENV"] = "development"  # before `app` is imported: its module builds an app

import pytest
from twilio.request_validator import RequestValidator

from app import create_app
from tests import backends
from tests.chromium import browser  # noqa: F401  (the session's Chromium, a fixture)

AUTH_TOKEN = "test-auth-token"
CONNECTOR_USER = "twilio"
CONNECTOR_PASSWORD = "connector-Qx7mV2rK9tW4"
PUBLIC_BASE_URL = "https://pay.example.com"

VISA = "4111111111111111"
TEST_CARDS = [  # Twilio's TEST-mode cards, exactly as published
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3065930009020004",
    "3566002020360505",
    "6200000000000005",
    "6771798021000008",
]

TEST_CVV = "739"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The card-data check searches what every other test wrote, so it runs last."""
    last = [item for item in items if "card_data_at_rest" in item.nodeid]
    items[:] = [item for item in items if item not in last] + last


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that makes a database runs on each backend (`[sqlite]`, `[postgresql]`)."""
    uses_files = {"tmp_path", "tmp_path_factory"} & set(metafunc.fixturenames)
    path = str(metafunc.definition.path)
    single = ("/emulator/", "card_data_at_rest", "test_readme_commands")  # their own databases
    if not uses_files or any(part in path for part in single):
        return
    if "postgres_server" in metafunc.fixturenames:  # a test of both backends at once
        return
    if "backend" not in metafunc.fixturenames:
        metafunc.fixturenames.append("backend")
    metafunc.parametrize("backend", backends.BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="session")
def postgres_server():
    """The session's own PostgreSQL server (skipped, or failed under CI=true, without one)."""
    bindir = backends.find_bindir()
    if bindir is None:
        if backends.required():
            pytest.fail("CI=true: the PostgreSQL half is required, and no PostgreSQL was found")
        _SKIPPED.append(backends.SKIP_MESSAGE)
        pytest.skip(backends.SKIP_MESSAGE)
    server = backends.TemporaryPostgres(bindir).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def backend(request):
    """The backend this module's tests run on; `settings()` and `serve()` name its database."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        chosen = backends.Backend(name, request.getfixturevalue("postgres_server"))
    else:
        chosen = backends.Backend(name)
    backends.current = chosen
    yield chosen
    chosen.cleanup()
    backends.current = backends.SQLITE


@pytest.fixture(autouse=True)
def _on_its_backend(request):
    """A test parametrized by backend gets it before any other fixture makes a database
    (a parameter added by pytest_generate_tests is not requested by itself)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        request.getfixturevalue("backend")


@pytest.fixture(autouse=True)
def _close_pools_after_each_test():
    """An in-process app's pool lives as long as its test."""
    yield
    from storage.postgres import close_pools

    close_pools()


_SKIPPED: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if _SKIPPED:
        terminalreporter.write_sep("!", _SKIPPED[0], yellow=True, bold=True)


@pytest.fixture(scope="session", autouse=True)
def session_log_file(tmp_path_factory):
    """Keep every log line of the session in a file under basetemp, for the card-data check."""
    path = tmp_path_factory.getbasetemp() / "session-logs.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()


def settings(tmp_path, **overrides) -> dict:
    return {
        "PAYLINE_ENV": "development",
        "DATABASE_URL": backends.current.database_url(tmp_path),
        "SECRET_KEY": "test-secret",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CONNECTOR_USERNAME": CONNECTOR_USER,
        "CONNECTOR_PASSWORD": CONNECTOR_PASSWORD,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SANDBOX_SLOW_SECONDS": 0.3,
        "IDEMPOTENCY_WAIT_SECONDS": 5.0,
        "IDEMPOTENCY_LEASE_SECONDS": 2.0,
        **overrides,
    }


@pytest.fixture
def app(tmp_path):
    app = create_app(settings(tmp_path))
    app.config["TESTING"] = True
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def store(app):
    store = app.extensions["payline"].open_store()
    yield store
    store.close()


def basic_auth(username: str = CONNECTOR_USER, password: str = CONNECTOR_PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def signature(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def twilio_post(client):
    """POST form params to a /voice path, signed for the public URL Twilio would have used."""

    def post(path: str, params: dict, *, signed: bool = True, token: str = AUTH_TOKEN):
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = signature(PUBLIC_BASE_URL + path, params, token)
        return client.post(path, data=params, headers=headers)

    return post


@pytest.fixture
def connector_post(client):
    def post(body, *, auth: dict | None = None, **kwargs):
        headers = basic_auth() if auth is None else auth
        if isinstance(body, (dict, list)):
            return client.post("/connector", json=body, headers=headers, **kwargs)
        return client.post("/connector", data=body, headers=headers, **kwargs)

    return post


def card_charge(transaction_id: str, amount: str = "10.00", **fields) -> dict:
    return {
        "method": "charge",
        "transaction_id": transaction_id,
        "cardnumber": VISA,
        "cvv": TEST_CVV,
        "amount": amount,
        "currency_code": "USD",
        "expiry_month": "08",
        "expiry_year": "39",
        "description": "invoice 1001",
        "postal_code": "94111",
        "parameters": {"invoice": "1001"},
        **fields,
    }


def ach_charge(transaction_id: str, amount: str = "10.00", **fields) -> dict:
    return {
        "method": "charge",
        "transaction_id": transaction_id,
        "bankaccountnumber": "123456789",
        "routingnumber": "121000358",
        "amount": amount,
        "currency_code": "USD",
        "description": "invoice 1001",
        "parameters": {"invoice": "1001"},
        **fields,
    }


def tokenize(request: dict) -> dict:
    body = {k: v for k, v in request.items() if k not in ("amount", "currency_code")}
    return {**body, "method": "tokenize"}
