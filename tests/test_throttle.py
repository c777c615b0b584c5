"""Failed Basic-auth logins are throttled per surface and client address, across workers.

After LOGIN_FAILURE_LIMIT wrong attempts from one address, further wrong attempts get 429
(with Retry-After); correct credentials are never throttled, from that address (Twilio's
retries come from Twilio's shared addresses) or any other.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from app import create_app
from tests.conftest import basic_auth, card_charge, settings
from tests.server import serve

OPERATOR = ("operator", "op-Hq7vN2xR9tLm4pW8")
ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.2"}


@pytest.fixture
def throttled_app(tmp_path):
    app = create_app(
        settings(
            tmp_path,
            ADMIN_USERNAME=OPERATOR[0],
            ADMIN_PASSWORD=OPERATOR[1],
            LOGIN_FAILURE_LIMIT=5,
            LOGIN_FAILURE_WINDOW_SECONDS=600,
        )
    )
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    return app


def wrong(path, client, environ, n=1):
    auth = basic_auth("operator" if path.startswith("/admin") else "twilio", "guess")
    if path == "/connector":
        return [
            client.post(
                path, json=card_charge(str(uuid.uuid4())), headers=auth, environ_base=environ
            )
            for _ in range(n)
        ]
    return [client.get(path, headers=auth, environ_base=environ) for _ in range(n)]


@pytest.mark.parametrize("path", ["/admin/", "/connector"])
def test_a_burst_of_wrong_passwords_gets_429_after_the_limit(throttled_app, path):
    client = throttled_app.test_client()

    statuses = [r.status_code for r in wrong(path, client, ATTACKER, 8)]

    assert statuses == [401] * 5 + [429] * 3
    last = wrong(path, client, ATTACKER)[0]
    assert int(last.headers["Retry-After"]) > 0


def test_the_connector_answers_429_in_the_contract_shape(throttled_app):
    client = throttled_app.test_client()
    *_, throttled = wrong("/connector", client, ATTACKER, 6)

    assert throttled.status_code == 429
    body = throttled.get_json()
    assert body["charge_id"] is None and body["error_code"] == "invalid_request"


def test_the_dashboard_answers_429_as_a_page_of_ours(throttled_app):
    client = throttled_app.test_client()
    *_, throttled = wrong("/admin/", client, ATTACKER, 6)

    assert throttled.status_code == 429 and throttled.mimetype == "text/html"
    assert b"too many failed logins" in throttled.data
    assert throttled.headers["Content-Security-Policy"]


def test_correct_credentials_are_never_throttled_from_the_blocked_address_or_another(
    throttled_app,
):
    client = throttled_app.test_client()
    wrong("/admin/", client, ATTACKER, 8)
    wrong("/connector", client, ATTACKER, 8)

    admin = basic_auth(*OPERATOR)
    assert client.get("/admin/", headers=admin, environ_base=ATTACKER).status_code == 200
    assert client.get("/admin/", headers=admin, environ_base=ELSEWHERE).status_code == 200
    for environ in (ATTACKER, ELSEWHERE):  # Twilio's retries, with the right credentials
        tx = str(uuid.uuid4())
        for _ in range(3):
            answer = client.post(
                "/connector", json=card_charge(tx), headers=basic_auth(), environ_base=environ
            )
            assert answer.status_code == 200 and answer.get_json()["charge_id"]


def test_another_address_and_another_surface_keep_their_own_count(throttled_app):
    client = throttled_app.test_client()
    wrong("/admin/", client, ATTACKER, 8)

    assert wrong("/admin/", client, ELSEWHERE)[0].status_code == 401
    assert wrong("/connector", client, ATTACKER)[0].status_code == 401


def test_a_request_without_credentials_is_not_counted(throttled_app):
    client = throttled_app.test_client()
    statuses = [client.get("/admin/", environ_base=ATTACKER).status_code for _ in range(8)]

    assert statuses == [401] * 8


def test_failures_older_than_the_window_no_longer_count(tmp_path):
    app = create_app(
        settings(
            tmp_path,
            ADMIN_USERNAME=OPERATOR[0],
            ADMIN_PASSWORD=OPERATOR[1],
            LOGIN_FAILURE_LIMIT=2,
            LOGIN_FAILURE_WINDOW_SECONDS=0.5,
        )
    )
    app.test_cli_runner().invoke(args=["init-db"])
    client = app.test_client()
    assert [r.status_code for r in wrong("/admin/", client, ATTACKER, 3)] == [401, 401, 429]

    time.sleep(0.6)  # the window passes (a wait, not a timing assertion)

    assert wrong("/admin/", client, ATTACKER)[0].status_code == 401


def test_the_throttle_holds_across_several_gunicorn_workers(tmp_path):
    """Counters live in the database: four workers, one count per address."""
    server = serve(
        tmp_path,
        workers=4,
        PROXY_FIX_HOPS="1",
        ADMIN_USERNAME=OPERATOR[0],
        ADMIN_PASSWORD=OPERATOR[1],
        LOGIN_FAILURE_LIMIT="10",
    )
    try:
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        statuses = []
        for _ in range(30):  # a new connection each time: spread over the workers
            response = requests.get(
                server.base_url + "/admin/",
                headers={**attacker, **basic_auth("operator", "guess")},
                timeout=30,
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 10 + [429] * 20

        for who in (attacker, {"X-Forwarded-For": "198.51.100.2"}):
            ok = requests.get(
                server.base_url + "/admin/", headers={**who, **basic_auth(*OPERATOR)}, timeout=30
            )
            assert ok.status_code == 200
            charge = requests.post(
                server.base_url + "/connector",
                json=card_charge(str(uuid.uuid4())),
                headers={**who, **basic_auth()},
                timeout=30,
            )
            assert charge.status_code == 200 and charge.json()["charge_id"]
    finally:
        server.stop()
