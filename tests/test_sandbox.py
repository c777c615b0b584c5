"""The sandbox processor's own rules: outcome by cents, slow answers, idempotent booking."""

from __future__ import annotations

import datetime as dt
import json

from connector.processors.sandbox import SandboxProcessor
from connector.protocol import parse_envelope, validate
from tests.conftest import card_charge
from tests.test_storage import sandbox_requests


def request(amount: str, transaction_id: str = "k1"):
    envelope = parse_envelope(json.dumps(card_charge(transaction_id, amount=amount)).encode())
    return validate(envelope, mode="test", today=dt.date(2026, 11, 26))


def test_the_slow_amount_sleeps_once_when_booked_and_not_when_asked_again(store):
    sleeps: list[float] = []
    sandbox = SandboxProcessor(store, slow_seconds=12, sleep=sleeps.append)

    first = sandbox.charge(request("10.53"), "k1")
    again = sandbox.charge(request("10.53"), "k1")

    assert sleeps == [12]
    assert first.id == again.id and first.id.startswith("ch_sbx_")
    assert sandbox_requests(store, "k1") == 2


def test_other_amounts_never_sleep(store):
    sleeps: list[float] = []
    sandbox = SandboxProcessor(store, slow_seconds=12, sleep=sleeps.append)

    for cents in ("00", "51", "52", "54", "99"):
        sandbox.charge(request(f"1.{cents}", f"k-{cents}"), f"k-{cents}")

    assert sleeps == []
