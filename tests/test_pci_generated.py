"""Acceptance: generated card numbers, sent through every surface, are found nowhere after.

Hypothesis generates Luhn-valid numbers of every brand and length in pci.CARD_BRANDS and
writes them as a hostile caller would (tests/pci_generators.py): separators of every kind,
letters touching them, digits of other scripts, numbers split across fields. They go through
the connector (description, parameter values and names, transaction_id), every /voice webhook
field and the URL query, and paths — in-process for the bulk, against the real server
(gunicorn, its access log) for a sample. Then every response, every database file (with -wal
and -shm) and every log is searched for each number in any form (scripts mapped, separators and
letters stripped, JSON, URL and HTML escapes undone): none may be found.

The generator's seed is printed; `PCI_SEED=<seed> pytest tests/test_pci_generated.py` replays
a run exactly.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import PUBLIC_BASE_URL, basic_auth, card_charge, signature
from tests.pci_generators import (
    SEED,
    card_number,
    files_under,
    find_cards,
    randoms,
    render,
    split,
)
from tests.server import serve

BATCH = 30
"""Cards per generated example: many per request keeps thousands of examples fast."""

IN_PROCESS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
REAL_SERVER = settings(IN_PROCESS, max_examples=12)


def _names(count: int) -> list[str]:
    """Parameter names without digits (a digit in a name would be a digit of the run)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [f"note_{letters[i // 26]}{letters[i % 26]}" for i in range(count)]


@st.composite
def connector_batch(draw: st.DrawFn) -> dict:
    """One charge carrying a batch of cards in its free text, and refusals for the others."""
    rnd = draw(randoms)
    cards = [card_number(rnd) for _ in range(BATCH)]
    texts = [render(rnd, card) for card in cards]
    parameters: dict[str, str] = {}
    names = iter(_names(3 * BATCH))
    for text in texts[1:-9]:
        for part in split(rnd, text, rnd.randint(1, 3)):
            parameters[next(names)] = part
    body = card_charge("gen-" + uuid.uuid4().hex, description=texts[0], parameters=parameters)
    named = card_charge("gen-" + uuid.uuid4().hex, parameters={texts[-2]: "x"})
    refused_id = card_charge(render(rnd, cards[-1], ascii_only=True)[:255])
    fields = dict(zip(CARD_FIELDS, texts[-9:-2], strict=True))
    fields["postal_code"] = fields["postal_code"][:20]
    bad_fields = card_charge("gen-" + uuid.uuid4().hex, **fields)
    return {"cards": set(cards), "requests": [body, named, refused_id, bad_fields]}


CARD_FIELDS = (
    "cardnumber",
    "cvv",
    "expiry_month",
    "expiry_year",
    "postal_code",
    "currency_code",
    "amount",
)
"""The contract's own fields: each refused without quoting what it held."""


VOICE_FIELDS = (
    "From",
    "Caller",
    "PaymentCardType",
    "PaymentCardNumber",
    "BankAccountNumber",
    "ExpirationDate",
    "PaymentConfirmationCode",
    "PaymentToken",
    "ConnectorError",
    "PaymentError",
    "PayErrorCode",
    "Digits",
    "FromZip",
    "SomethingNew",
)


@st.composite
def voice_batch(draw: st.DrawFn) -> dict:
    """A signed <Pay> action callback, status callback and incoming call with cards in every
    field Twilio sends and in the query."""
    rnd = draw(randoms)
    cards = [card_number(rnd) for _ in range(BATCH)]
    texts = iter([render(rnd, card) for card in cards])
    call_sid = "CA" + uuid.uuid4().hex
    complete = {
        "AccountSid": "AC" + uuid.uuid4().hex,
        "CallSid": call_sid,
        "To": "+15005550006",
        "Result": "success",
        "PaymentMethod": "credit-card",
        **{name: next(texts) for name in VOICE_FIELDS},
    }
    for name in ("transaction_id", "card_last4", "note", "customer"):
        for i, part in enumerate(split(rnd, next(texts), 2)):
            complete[f"PayConnector_{name}{'_ab'[i] if i else ''}"] = part
    query = {"invoice": next(texts), "attempt": "1", "amount": next(texts), "currency": "USD"}
    status = {
        "CallSid": call_sid,
        "For": next(texts),
        "Attempt": "1",
        "PaymentCardNumber": next(texts),
        "ErrorType": "invalid-card-number",
    }
    incoming = {"CallSid": call_sid, "Digits": next(texts, "1")}
    return {
        "cards": set(cards),
        "posts": [
            ("/voice/pay/complete?" + urlencode(query), complete),
            ("/voice/pay/status", status),
            ("/voice/incoming?tries=" + quote(render(rnd, cards[0])), incoming),
            ("/voice/invoice?purpose=pay&tries=1", incoming),
        ],
    }


@st.composite
def path_batch(draw: st.DrawFn) -> dict:
    rnd = draw(randoms)
    cards = [card_number(rnd) for _ in range(8)]
    texts = [quote(render(rnd, card), safe="") for card in cards]
    prefixes = ("voice", "connector", "admin", "x") * 2
    paths = [f"/{prefix}/{text}" for prefix, text in zip(prefixes, texts, strict=True)]
    return {"cards": set(cards), "paths": paths}


def _response_text(response) -> str:
    body = (
        response.text
        if hasattr(response, "text") and isinstance(response.text, str)
        else response.get_data(as_text=True)
    )
    return f"{response.status_code} {dict(response.headers)} {body}"


def _report(capsys, surface: str, cards: int) -> None:
    """Printed past pytest's capture, so that every run shows the seed to replay it with."""
    with capsys.disabled():
        print(f"\npci generated: PCI_SEED={SEED} {surface}: {cards} card numbers")


def test_generated_cards_through_the_connector_are_found_nowhere(
    app, client, tmp_path, session_log_file, capsys
):
    cards: set[str] = set()
    answers: dict[str, str] = {}

    @seed(SEED)
    @IN_PROCESS
    @given(batch=connector_batch())
    def send(batch):
        cards.update(batch["cards"])
        body, named, refused_id, bad_fields = batch["requests"]
        answer = client.post("/connector", json=body, headers=basic_auth())
        assert answer.status_code == 200 and answer.get_json()["charge_id"], answer.data
        refused = client.post("/connector", json=named, headers=basic_auth())
        assert refused.get_json()["error_code"] == "invalid_request"
        bad_id = client.post("/connector", data=json.dumps(refused_id), headers=basic_auth())
        assert bad_id.status_code == 400
        invalid = client.post("/connector", json=bad_fields, headers=basic_auth())
        assert invalid.status_code == 200 and invalid.get_json()["error_code"]
        for i, response in enumerate((answer, refused, bad_id, invalid)):
            answers[f"answer {len(answers)}-{i}"] = _response_text(response)

    send()
    _report(capsys, "connector (in-process)", len(cards))
    assert len(cards) >= 1000
    texts = {**answers, **files_under(tmp_path), "session log": session_log_file.read_text()}
    assert find_cards(cards, texts) == {}, f"seed={SEED}"


def test_generated_cards_through_every_voice_field_and_query_are_found_nowhere(
    app, client, tmp_path, session_log_file, capsys
):
    cards: set[str] = set()
    answers: dict[str, str] = {}

    @seed(SEED)
    @IN_PROCESS
    @given(batch=voice_batch())
    def send(batch):
        cards.update(batch["cards"])
        for path, form in batch["posts"]:
            headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + path, form)}
            response = client.post(path, data=form, headers=headers)
            assert response.status_code == 200, response.data
            assert response.mimetype == "text/xml"
            answers[f"{path} {len(answers)}"] = _response_text(response)

    send()
    _report(capsys, "voice webhooks (in-process)", len(cards))
    assert len(cards) >= 1000
    texts = {**answers, **files_under(tmp_path), "session log": session_log_file.read_text()}
    assert find_cards(cards, texts) == {}, f"seed={SEED}"


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    server = serve(
        tmp_path_factory.mktemp("pci-generated"),
        workers=2,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        SANDBOX_SLOW_SECONDS="0.1",
    )
    yield server
    server.stop()


def test_generated_cards_through_the_real_server_are_found_in_no_response_log_or_file(
    server, capsys
):
    cards: set[str] = set()
    answers: dict[str, str] = {}
    session = requests.Session()

    def keep(response: requests.Response) -> None:
        answers[f"{response.request.method} {len(answers)}"] = _response_text(response)

    @seed(SEED)
    @REAL_SERVER
    @given(connector=connector_batch(), voice=voice_batch(), paths=path_batch())
    def send(connector, voice, paths):
        cards.update(connector["cards"] | voice["cards"] | paths["cards"])
        for body in connector["requests"]:
            response = session.post(
                server.base_url + "/connector",
                data=json.dumps(body),
                headers=basic_auth(),
                timeout=30,
            )
            assert response.status_code in (200, 400), response.text
            keep(response)
        for path, form in voice["posts"]:
            headers = {"X-Twilio-Signature": signature(PUBLIC_BASE_URL + path, form)}
            response = session.post(server.base_url + path, data=form, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            keep(response)
        for path in paths["paths"]:
            for method in ("GET", "POST"):
                response = session.request(method, server.base_url + path, timeout=30)
                assert response.status_code < 500, response.text
                assert "<title>404 Not Found</title>" not in response.text  # Werkzeug's page
                keep(response)

    send()
    server.stop()
    _report(capsys, "real server (gunicorn)", len(cards))
    assert len(cards) >= 500
    texts = {**answers, **files_under(server.directory)}
    assert any(name.endswith(".log") for name in texts), "the server wrote no log"
    assert find_cards(cards, texts) == {}, f"seed={SEED}"
