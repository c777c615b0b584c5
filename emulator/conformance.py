"""Checks any Generic Pay Connector against the contract in reference/generic-pay-connector.txt.

Only the reference's contract is checked, not PayLine's house rules (status codes for
requests that are not connector requests, its error_code vocabulary). What the reference
says and how each case reads it:

- an answer is HTTP 200 with a JSON object holding the id key (``charge_id`` or
  ``token_id``) and ``error_code``; on success ``error_code``/``error_message`` are null; on
  an error the id key is still there, with a non-null ``error_code``;
- a retry of a transaction whose answer was lost gets either the original id or a
  "duplicate" error, never a new id; a retry that arrives while the original is still in
  progress gets the original's successful answer;
- Twilio waits 10 s for an answer.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from emulator.cards import (
    DEFAULT_POSTAL_CODE,
    DEFAULT_ROUTING_NUMBER,
    TEST_BANK_ACCOUNTS,
    TEST_CARDS,
    VISA_TEST_CARD,
    default_expiry,
    security_code_length,
)

#: After this many requests in a row without an answer, the remaining cases are not run.
UNRESPONSIVE_AFTER = 3
PARALLELISM = 4
AMOUNT = "10.00"  # not a cents value that PayLine's sandbox maps to a decline or a delay
OTHER_AMOUNT = "12.00"
INVALID_CARD = "4111111111111112"  # fails the Luhn check


@dataclass
class CaseResult:
    """One line of the check's table."""

    name: str
    passed: bool
    why: str
    latency: float | None = None
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NoAnswer(Exception):
    """A request got no HTTP answer (timeout, refused connection)."""


@dataclass
class Answer:
    status: int
    data: Any
    text: str
    seconds: float


_DEFAULT_AUTH = object()


@dataclass
class _Client:
    """Posts connector requests, timing them and noticing an unresponsive connector."""

    url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 10.0
    unresponsive_after: int = UNRESPONSIVE_AFTER
    latencies: list[tuple[str, float]] = field(default_factory=list)
    no_answers: list[str] = field(default_factory=list)
    _in_a_row: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unresponsive(self) -> bool:
        with self._lock:
            return self._in_a_row >= self.unresponsive_after

    def post(self, case: str, body: dict[str, Any], auth: Any = _DEFAULT_AUTH) -> Answer:
        if self.unresponsive:
            raise NoAnswer("connector unresponsive: not asked")
        headers = {"Content-Type": "application/json"}
        credentials = (self.username, self.password) if auth is _DEFAULT_AUTH else auth
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        started = time.monotonic()
        try:
            response = requests.post(
                self.url,
                data=json.dumps(body).encode(),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            self._no_answer(case)
            raise NoAnswer(f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            self._no_answer(case)
            raise NoAnswer(f"no answer: {type(exc).__name__}") from None
        seconds = time.monotonic() - started
        with self._lock:
            self._in_a_row = 0
            self.latencies.append((case, seconds))
        try:
            data = response.json()
        except ValueError:
            data = None
        return Answer(response.status_code, data, response.text[:200], seconds)

    def _no_answer(self, case: str) -> None:
        with self._lock:
            self._in_a_row += 1
            self.no_answers.append(case)


def _tx() -> str:
    return f"check-{uuid.uuid4().hex}"


def card_request(
    method: str,
    number: str,
    *,
    amount: str = AMOUNT,
    expiry: str | None = None,
    parameters: dict[str, str] | None = None,
    transaction_id: str | None = None,
) -> dict[str, Any]:
    """A card request as Twilio sends it (generic-pay-connector.txt)."""
    expiry = expiry or default_expiry()
    cvv = "1234" if security_code_length(TEST_CARDS.get(number)) == 4 else "123"
    body: dict[str, Any] = {
        "method": method,
        "transaction_id": transaction_id or _tx(),
        "cardnumber": number,
        "cvv": cvv,
        "expiry_month": expiry[:2],
        "expiry_year": expiry[2:],
        "postal_code": DEFAULT_POSTAL_CODE,
        "description": "conformance check",
        "parameters": parameters or {},
    }
    if method == "charge":
        body["amount"] = amount
        body["currency_code"] = "USD"
    return body


def ach_request(method: str, account: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "method": method,
        "transaction_id": _tx(),
        "bankaccountnumber": account,
        "routingnumber": DEFAULT_ROUTING_NUMBER,
        "description": "conformance check",
        "parameters": {},
    }
    if method == "charge":
        body["amount"] = AMOUNT
        body["currency_code"] = "USD"
    return body


def _id_key(body: dict[str, Any]) -> str:
    return "charge_id" if body["method"] == "charge" else "token_id"


def _shape_problem(answer: Answer, id_key: str) -> str | None:
    if answer.status != 200:
        return f"HTTP {answer.status} (the contract answers 200 with its JSON): {answer.text!r}"
    if not isinstance(answer.data, dict):
        return f"the body is not a JSON object: {answer.text!r}"
    missing = [key for key in (id_key, "error_code") if key not in answer.data]
    if missing:
        return f"no {' or '.join(missing)} key in {answer.text!r}"
    return None


def success_id(answer: Answer, id_key: str) -> tuple[str | None, str]:
    """(the id, why) when the answer is a success by the contract; (None, why) otherwise."""
    problem = _shape_problem(answer, id_key)
    if problem:
        return None, problem
    data = answer.data
    if data["error_code"] is not None:
        return None, f"error_code={data['error_code']!r} ({data.get('error_message')!r})"
    ident = data[id_key]
    if isinstance(ident, bool) or not isinstance(ident, str | int) or ident == "":
        return None, f"{id_key} is {ident!r} with a null error_code"
    return str(ident), f"{id_key}={ident}"


def error_code(answer: Answer, id_key: str) -> tuple[str | None, str]:
    """(error_code, why) when the answer is an error by the contract; (None, why) otherwise."""
    problem = _shape_problem(answer, id_key)
    if problem:
        return None, problem
    data = answer.data
    if data["error_code"] is None:
        return None, f"error_code is null ({id_key}={data[id_key]!r})"
    # The reference asks only that the id key be there on an error ("Twilio will expect to
    # receive the charge_id field"); a null id and an error_message are good manners, not law.
    return str(data["error_code"]), f"error_code={data['error_code']!r}"


CaseFn = Callable[[_Client, str], tuple[bool, str]]


def _expect_success(make: Callable[[], dict[str, Any]]) -> CaseFn:
    def case(client: _Client, name: str) -> tuple[bool, str]:
        body = make()
        ident, why = success_id(client.post(name, body), _id_key(body))
        return ident is not None, why

    return case


def _expect_error(make: Callable[[], dict[str, Any]]) -> CaseFn:
    def case(client: _Client, name: str) -> tuple[bool, str]:
        body = make()
        code, why = error_code(client.post(name, body), _id_key(body))
        return code is not None, why

    return case


def _success_shape(client: _Client, name: str) -> tuple[bool, str]:
    answer = client.post(name, card_request("charge", VISA_TEST_CARD))
    ident, why = success_id(answer, "charge_id")
    if ident is None:
        return False, why
    data = answer.data
    if "error_message" not in data:
        return False, "no error_message key (the contract sends it null on success)"
    if data["error_message"] is not None:
        return False, f"error_message={data['error_message']!r} on a success"
    if "parameters" in data and not isinstance(data["parameters"], dict | None):
        return False, f"parameters is {type(data['parameters']).__name__}, not an object"
    return True, "charge_id set, error_code and error_message null"


def _custom_parameters(client: _Client, name: str) -> tuple[bool, str]:
    params = {"order_id": "A-1001", "note": "caf\u00e9 \u2615", "empty": ""}
    body = card_request("charge", VISA_TEST_CARD, parameters=params)
    ident, why = success_id(client.post(name, body), "charge_id")
    return ident is not None, why


def _retry(client: _Client, name: str) -> tuple[bool, str]:
    """A retry after a lost answer: the original id, or a duplicate error; never a new id."""
    body = card_request("charge", VISA_TEST_CARD)
    first, why = success_id(client.post(name, body), "charge_id")
    if first is None:
        return False, f"first request: {why}"
    again = client.post(name, body)
    second, why = success_id(again, "charge_id")
    if second == first:
        return True, "the retry got the original charge_id"
    if second is not None:
        return False, f"the retry got a new charge_id {second} (first {first}): charged twice"
    code, code_why = error_code(again, "charge_id")
    if code is not None:
        return True, f"the retry was refused as a duplicate ({code_why}); allowed by the contract"
    if isinstance(again.data, dict) and again.data.get("charge_id") == first:
        return (
            True,
            f"the retry got the original charge_id, error_code={again.data.get('error_code')!r}",
        )
    return False, f"retry: {why}"


def _other_amount(client: _Client, name: str) -> tuple[bool, str]:
    """The same transaction_id with another amount: refused, or the original answer."""
    tx = _tx()
    first, why = success_id(
        client.post(name, card_request("charge", VISA_TEST_CARD, transaction_id=tx)), "charge_id"
    )
    if first is None:
        return False, f"first request: {why}"
    body = card_request("charge", VISA_TEST_CARD, amount=OTHER_AMOUNT, transaction_id=tx)
    again = client.post(name, body)
    second, why = success_id(again, "charge_id")
    if second == first:
        return True, "answered with the original charge_id"
    if second is not None:
        return False, f"a new charge_id {second} for a reused transaction_id (first {first})"
    if isinstance(again.data, dict) and again.data.get("error_code") is not None:
        ident = again.data.get("charge_id")
        if ident in (None, first):
            return True, f"refused: error_code={again.data['error_code']!r}"
        return False, f"error_code with a new charge_id {ident!r}"
    return False, f"second request: {why}"


def _concurrent(client: _Client, name: str) -> tuple[bool, str]:
    """Two requests with one transaction_id at once: both must get the original's success."""
    body = card_request("charge", VISA_TEST_CARD)
    barrier = threading.Barrier(2)
    answers: list[Answer | Exception] = [Exception("not run"), Exception("not run")]

    def send(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = client.post(name, body)
        except NoAnswer as exc:
            answers[index] = exc

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = []
    for answer in answers:
        if isinstance(answer, Exception):
            raise NoAnswer(str(answer))
        ident, why = success_id(answer, "charge_id")
        if ident is None:
            return False, f"one of the two answers is not the original's success: {why}"
        ids.append(ident)
    if ids[0] != ids[1]:
        return False, f"two charge_ids {ids[0]} and {ids[1]} for one transaction_id: charged twice"
    return True, f"both got charge_id={ids[0]}"


def _refused(make_auth: Callable[[_Client], Any]) -> CaseFn:
    def case(client: _Client, name: str) -> tuple[bool, str]:
        answer = client.post(name, card_request("charge", VISA_TEST_CARD), auth=make_auth(client))
        if answer.status in (401, 403):
            return True, f"HTTP {answer.status}"
        data = answer.data if isinstance(answer.data, dict) else {}
        if 200 <= answer.status < 300 and data.get("charge_id") not in (None, ""):
            return False, f"accepted: charge_id={data['charge_id']!r} (HTTP {answer.status})"
        if answer.status == 200 and data.get("error_code") is not None:
            return True, f"refused with error_code={data['error_code']!r}"
        return False, f"HTTP {answer.status}: expected 401/403 or an error_code: {answer.text!r}"

    return case


def cases() -> list[tuple[str, CaseFn]]:
    """Every case, in the order the table shows them (the latency case comes last)."""
    table: list[tuple[str, CaseFn]] = []
    for number, kind in TEST_CARDS.items():
        for method in ("charge", "tokenize"):
            table.append(
                (
                    f"card-{method}-{kind}",
                    _expect_success(lambda m=method, n=number: card_request(m, n)),
                )
            )
    for account in TEST_BANK_ACCOUNTS:
        for method in ("charge", "tokenize"):
            table.append(
                (
                    f"ach-{method}-{account}",
                    _expect_success(lambda m=method, a=account: ach_request(m, a)),
                )
            )
    table += [
        ("success-shape", _success_shape),
        (
            "error-shape-invalid-card-number",
            _expect_error(lambda: card_request("charge", INVALID_CARD)),
        ),
        (
            "error-shape-invalid-card-number-tokenize",
            _expect_error(lambda: card_request("tokenize", INVALID_CARD)),
        ),
        (
            "error-shape-expired-card",
            _expect_error(lambda: card_request("charge", VISA_TEST_CARD, expiry="0120")),
        ),
        ("custom-parameters", _custom_parameters),
        ("retry-same-transaction-id", _retry),
        ("same-transaction-id-other-amount", _other_amount),
        ("concurrent-retry", _concurrent),
        ("wrong-credentials", _refused(lambda c: (c.username, c.password + "-wrong"))),
        ("missing-credentials", _refused(lambda c: None)),
    ]
    return table


def run_check(
    url: str,
    username: str,
    password: str,
    budget: float = 5.0,
    timeout: float = 10.0,
    *,
    parallelism: int = PARALLELISM,
    unresponsive_after: int = UNRESPONSIVE_AFTER,
) -> list[CaseResult]:
    """Run every case against the connector at ``url``; the last result is the latency budget.

    Cases run ``parallelism`` at a time. Once ``unresponsive_after`` requests in a row got
    no answer, the cases not yet started fail without calling, so that a dead or slow
    connector costs about one timeout, not one per case.
    """
    client = _Client(url, username, password, timeout, unresponsive_after)
    table = cases()

    def run_one(name: str, fn: CaseFn) -> CaseResult:
        if client.unresponsive:
            return CaseResult(
                name,
                False,
                f"connector unresponsive: not run after {unresponsive_after} requests "
                "in a row got no answer",
                skipped=True,
            )
        started = time.monotonic()
        try:
            passed, why = fn(client, name)
        except NoAnswer as exc:
            passed, why = False, str(exc)
        except Exception as exc:  # a case must never take the whole check down
            passed, why = False, f"check crashed: {type(exc).__name__}: {exc}"
        return CaseResult(name, passed, why, round(time.monotonic() - started, 3))

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="check") as pool:
        futures = [pool.submit(run_one, name, fn) for name, fn in table]
        results = [future.result() for future in futures]
    results.append(_latency_case(client, budget))
    return results


def _latency_case(client: _Client, budget: float) -> CaseResult:
    slowest = max((seconds for _, seconds in client.latencies), default=None)
    over = sorted({case for case, seconds in client.latencies if seconds > budget})
    if client.no_answers:
        cases_ = sorted(set(client.no_answers))
        why = (
            f"{len(client.no_answers)} request(s) got no answer within {client.timeout:g} s "
            f"({', '.join(cases_[:5])})"
        )
        return CaseResult("latency-budget", False, why, slowest and round(slowest, 3))
    if slowest is None:
        return CaseResult("latency-budget", False, "no answer to measure")
    if over:
        why = f"slowest {slowest:.3f} s over the {budget:g} s budget in: {', '.join(over[:5])}"
        return CaseResult("latency-budget", False, why, round(slowest, 3))
    return CaseResult(
        "latency-budget",
        True,
        f"slowest answer {slowest:.3f} s (budget {budget:g} s)",
        round(slowest, 3),
    )
