"""Checks any Generic Pay Connector against the contract in reference/generic-pay-connector.txt.

The cases are derived from the contract and from what Twilio sends, not from PayLine's house
rules: every request is one Twilio could send (each optional field absent in turn, no or an
odd Content-Type, a card expiring this month), every verdict names the contract rule it rests
on (``RULES``), and every failure quotes enough of the answer to see the cause.

Four verdicts:

- ``pass``: the connector did what the contract asks;
- ``note``: allowed by the contract but worth knowing (a test-card brand declined, as a
  merchant that does not take it would; a request refused without an optional field);
- ``info``: an input Twilio never forwards (a Luhn-invalid or expired card: ``<Pay>`` refuses
  them while the caller types), so whatever the connector answers is not held against it;
- ``fail``: a contract rule is broken. The check exits non-zero when any case fails.

The cases run in two phases: first the test cards and bank accounts, then everything else
with a card the connector approved, so that a brand the merchant does not take cannot spoil
the other cases.
"""

from __future__ import annotations

import base64
import datetime as dt
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
    mask_card_shaped,
    security_code_length,
)

#: Twilio waits this long for an answer, then retries (the contract's own limit).
CONTRACT_LATENCY = 10.0
#: PayLine's tighter target for its own connector (``--payline-target``): half of Twilio's
#: wait, so that one slow gateway call still leaves room for Twilio's retry to be answered.
PAYLINE_LATENCY_TARGET = 5.0
#: After this many requests in a row without an answer, the remaining cases are not run.
UNRESPONSIVE_AFTER = 3
PARALLELISM = 4
AMOUNT = "10.00"  # not a cents value that PayLine's sandbox maps to a decline or a delay
OTHER_AMOUNT = "12.00"
LUHN_INVALID_CARD = "4111111111111112"
QUOTE = 240  # characters of an answer's body quoted in a verdict

PASS, NOTE, INFO, FAIL = "pass", "note", "info", "fail"


@dataclass(frozen=True)
class Rule:
    """One rule of the contract, with where it comes from."""

    id: str
    text: str


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "answer-shape",
            "every answer is HTTP 200 with a JSON object holding the id key (charge_id or "
            "token_id), error_code and error_message (the contract's response examples)",
        ),
        Rule(
            "error-shape",
            "on an error the id key is still there, with a non-null error_code "
            "('Expected Error Response Structure')",
        ),
        Rule(
            "test-cards",
            "in TEST mode the listed test cards and bank accounts work with any valid expiry, "
            "CVV and postal code ('Valid test credit card and bank account numbers')",
        ),
        Rule(
            "optional-fields",
            "Twilio leaves out what the <Pay> did not collect or set: cvv (securityCode=false), "
            "postal_code (postalCode=false), description and parameters (none in the <Pay>)",
        ),
        Rule(
            "content-type",
            "the body is the contract's JSON whatever the Content-Type says: Twilio's sender "
            "has been seen sending none (twilio-pay-facts.md, section 5)",
        ),
        Rule(
            "valid-expiry",
            "'any valid expiration date' works: a card is valid through the last day of its "
            "expiry month, and <Pay> forwards a card expiring this month",
        ),
        Rule(
            "custom-parameters",
            "<Parameter> nouns arrive in 'parameters'; there is no limit to their number",
        ),
        Rule(
            "retry",
            "a retry with the same transaction_id gets the original charge_id/token_id or a "
            "duplicate error, never a new id ('Error Handling and Retry Mechanism')",
        ),
        Rule(
            "retry-in-progress",
            "a retry that arrives while the original is in progress gets the original's "
            "successful answer ('Error Handling and Retry Mechanism')",
        ),
        Rule(
            "distinct-transactions",
            "transaction_id is the idempotency token: two transactions are two charges, each "
            "with its own charge_id",
        ),
        Rule(
            "credentials",
            "Twilio authenticates with HTTP Basic (the console's USERNAME and PASSWORD); a "
            "request without them is refused before any processing: HTTP 401",
        ),
        Rule(
            "latency",
            f"Twilio waits {CONTRACT_LATENCY:g} s for an answer, then retries "
            "('Error Handling and Retry Mechanism')",
        ),
    )
}


@dataclass
class CaseResult:
    """One line of the check's table."""

    name: str
    passed: bool
    why: str
    latency: float | None = None
    skipped: bool = False
    verdict: str = PASS
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What a case concluded."""

    verdict: str
    why: str
    rule: str | None = None


def ok(why: str, rule: str | None = None) -> Outcome:
    return Outcome(PASS, why, rule)


def note(why: str, rule: str | None = None) -> Outcome:
    return Outcome(NOTE, why, rule)


def info(why: str, rule: str | None = None) -> Outcome:
    return Outcome(INFO, why, rule)


def fail(rule: str, why: str, answer: Answer | None = None) -> Outcome:
    """A failure naming the rule it breaks, quoting the answer."""
    text = f"{why} — breaks '{rule}': {RULES[rule].text}"
    if answer is not None:
        text += f" — answer: {answer.quote()}"
    return Outcome(FAIL, text, rule)


class NoAnswer(Exception):
    """A request got no HTTP answer (timeout, refused connection)."""


@dataclass
class Answer:
    status: int
    data: Any
    text: str
    seconds: float
    content_type: str = ""

    def quote(self) -> str:
        body = self.text if len(self.text) <= QUOTE else self.text[:QUOTE] + "…"
        kind = f", {self.content_type}" if self.content_type else ""
        return f"HTTP {self.status}{kind} {mask_card_shaped(body)!r}"


_DEFAULT_AUTH = object()
_JSON = "application/json"


def _refused_connection(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        stack += [current.__cause__, current.__context__]
        stack += [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return "refused" in str(exc).lower()


@dataclass
class _Client:
    """Posts connector requests, timing them and noticing an unresponsive connector."""

    url: str
    username: str
    password: str = field(repr=False)
    timeout: float = CONTRACT_LATENCY
    unresponsive_after: int = UNRESPONSIVE_AFTER
    latencies: list[tuple[str, float]] = field(default_factory=list)
    no_answers: list[str] = field(default_factory=list)
    answers: list[tuple[str, str, Answer]] = field(default_factory=list)
    last_failure: str = ""
    _in_a_row: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unresponsive(self) -> bool:
        with self._lock:
            return self._in_a_row >= self.unresponsive_after

    def post(
        self,
        case: str,
        body: dict[str, Any],
        auth: Any = _DEFAULT_AUTH,
        content_type: str | None = _JSON,
    ) -> Answer:
        if self.unresponsive:
            raise NoAnswer("connector unresponsive: not asked")
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
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
            raise self._no_answer(
                case, f"no answer within {self.timeout:g} s (Twilio would retry, then give up)"
            ) from None
        except requests.RequestException as exc:
            if _refused_connection(exc):
                why = f"connection refused: nothing listens at {self.url}"
            else:
                why = f"cannot connect to {self.url} ({type(exc).__name__})"
            raise self._no_answer(case, why) from None
        seconds = time.monotonic() - started
        try:
            data = response.json()
        except ValueError:
            data = None
        answer = Answer(
            response.status_code,
            data,
            response.text[: QUOTE * 2],
            seconds,
            response.headers.get("Content-Type", ""),
        )
        with self._lock:
            self._in_a_row = 0
            self.latencies.append((case, seconds))
            self.answers.append((case, body.get("method", ""), answer))
        return answer

    def _no_answer(self, case: str, why: str) -> NoAnswer:
        with self._lock:
            self._in_a_row += 1
            self.no_answers.append(case)
            self.last_failure = why
        return NoAnswer(why)


def _tx() -> str:
    return f"check-{uuid.uuid4().hex}"


def _cvv(number: str) -> str:
    return "1234" if security_code_length(TEST_CARDS.get(number)) == 4 else "123"


def card_request(
    method: str,
    number: str,
    *,
    amount: str = AMOUNT,
    expiry: str | None = None,
    parameters: dict[str, str] | None = None,
    transaction_id: str | None = None,
    without: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A card request as Twilio sends it (generic-pay-connector.txt), minus ``without``."""
    expiry = expiry or default_expiry()
    body: dict[str, Any] = {
        "method": method,
        "transaction_id": transaction_id or _tx(),
        "cardnumber": number,
        "cvv": _cvv(number),
        "expiry_month": expiry[:2],
        "expiry_year": expiry[2:],
        "postal_code": DEFAULT_POSTAL_CODE,
        "description": "conformance check",
        "parameters": parameters or {},
    }
    if method == "charge":
        body["amount"] = amount
        body["currency_code"] = "USD"
    for name in without:
        body.pop(name, None)
    return body


def ach_request(method: str, account: str, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
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
    for name in without:
        body.pop(name, None)
    return body


def _id_key(body: dict[str, Any]) -> str:
    return "charge_id" if body["method"] == "charge" else "token_id"


def shape_problem(answer: Answer, id_key: str) -> str | None:
    """Why the answer is not the contract's JSON, or None."""
    if answer.status == 401:
        return "HTTP 401: the connector refused the --username/--password given"
    if answer.status != 200:
        return f"HTTP {answer.status} (the contract answers 200 with its JSON)"
    if not isinstance(answer.data, dict):
        return "the body is not a JSON object"
    missing = [key for key in (id_key, "error_code") if key not in answer.data]
    if missing:
        return f"no {' or '.join(missing)} key"
    return None


def success_id(answer: Answer, id_key: str) -> tuple[str | None, str]:
    """(the id, why) when the answer is a success by the contract; (None, why) otherwise."""
    problem = shape_problem(answer, id_key)
    if problem:
        return None, problem
    data = answer.data
    if data["error_code"] is not None:
        return None, f"error_code={data['error_code']!r} ({data.get('error_message')!r})"
    ident = data[id_key]
    if isinstance(ident, bool) or not isinstance(ident, str | int) or ident == "":
        return None, f"{id_key} is {ident!r} with a null error_code"
    return str(ident), f"{id_key}={ident}"


def shape_rule(answer: Answer, id_key: str) -> str:
    """The rule an answer that is neither a success nor a refusal breaks."""
    data = answer.data
    if (
        answer.status == 200
        and isinstance(data, dict)
        and data.get("error_code") is not None
        and id_key not in data
    ):
        return "error-shape"
    return "answer-shape"


def refusal(answer: Answer, id_key: str) -> str | None:
    """The error_code of a well-formed refusal, or None."""
    if shape_problem(answer, id_key) is None and answer.data["error_code"] is not None:
        return str(answer.data["error_code"])
    return None


@dataclass
class Context:
    """What phase 1 learnt: a card and an account the connector approves."""

    card: str = VISA_TEST_CARD
    card_approved: bool = False
    account: str = TEST_BANK_ACCOUNTS[-1]


CaseFn = Callable[[_Client, str, Context], Outcome]


def _expect_success(
    make: Callable[[Context], dict[str, Any]],
    *,
    rule: str,
    refused_is: str = FAIL,
    refused_why: str = "",
    content_type: str | None = _JSON,
) -> CaseFn:
    """A request Twilio sends: a success passes; a well-formed refusal is ``refused_is``."""

    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        body = make(ctx)
        id_key = _id_key(body)
        answer = client.post(name, body, content_type=content_type)
        ident, why = success_id(answer, id_key)
        if ident is not None:
            return ok(why, rule)
        code = refusal(answer, id_key)
        if code is None:
            shape = shape_rule(answer, id_key)
            return fail(
                rule if rule != "test-cards" and shape != "error-shape" else shape, why, answer
            )
        if refused_is == NOTE:
            return note(f"refused with error_code={code!r}{refused_why}", rule)
        return fail(rule, f"refused with error_code={code!r}", answer)

    return case


def _test_card(method: str, number: str, kind: str) -> CaseFn:
    return _expect_success(
        lambda ctx: card_request(method, number),
        rule="test-cards",
        refused_is=NOTE,
        refused_why=f": a merchant that does not take {kind} declines it; Twilio hands the "
        "error on as ConnectorError",
    )


def _test_account(method: str, account: str) -> CaseFn:
    return _expect_success(
        lambda ctx: ach_request(method, account),
        rule="test-cards",
        refused_is=NOTE,
        refused_why=": a merchant that does not take ACH refuses it",
    )


def _without(field_name: str, ach: bool = False) -> CaseFn:
    def make(ctx: Context) -> dict[str, Any]:
        if ach:
            return ach_request("charge", ctx.account, without=(field_name,))
        return card_request("charge", ctx.card, without=(field_name,))

    why = {
        "cvv": "; every <Pay securityCode='false'> would fail",
        "postal_code": "; every <Pay postalCode='false'> would fail",
    }.get(field_name, "")
    return _expect_success(make, rule="optional-fields", refused_is=NOTE, refused_why=why)


def _shape_only(make: Callable[[Context], dict[str, Any]], what: str) -> CaseFn:
    """A request whose answer may be a success or a refusal, but must be the contract's JSON."""

    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        body = make(ctx)
        answer = client.post(name, body)
        ident, why = success_id(answer, _id_key(body))
        if ident is not None:
            return ok(f"accepted {what}: {why}")
        code = refusal(answer, _id_key(body))
        if code is not None:
            return note(f"refused {what} with error_code={code!r}")
        return fail(shape_rule(answer, _id_key(body)), why, answer)

    return case


def _never_forwarded(make: Callable[[Context], dict[str, Any]], what: str) -> CaseFn:
    """An input <Pay> refuses while the caller types: reported, never a failure."""

    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        body = make(ctx)
        answer = client.post(name, body)
        ident, why = success_id(answer, _id_key(body))
        reason = f"Twilio never forwards {what} (<Pay> refuses it while the caller types)"
        if ident is not None:
            return info(f"{reason}; this connector approves it ({why})")
        code = refusal(answer, _id_key(body))
        if code is not None:
            return info(f"{reason}; this connector refuses it with error_code={code!r}")
        return info(f"{reason}; this connector answers {answer.quote()}")

    return case


def _success_shape(client: _Client, name: str, ctx: Context) -> Outcome:
    answer = client.post(name, card_request("charge", ctx.card))
    ident, why = success_id(answer, "charge_id")
    if ident is None:
        return fail("answer-shape", why, answer)
    data = answer.data
    if "error_message" not in data:
        return fail("answer-shape", "no error_message key on a success", answer)
    if data["error_message"] is not None:
        return fail("answer-shape", "error_message is set on a success", answer)
    if "parameters" in data and not isinstance(data["parameters"], dict | None):
        return fail("answer-shape", "parameters is not an object", answer)
    return ok("charge_id set, error_code and error_message null")


def _custom_parameters(client: _Client, name: str, ctx: Context) -> Outcome:
    params = {f"p{i}": f"value {i}" for i in range(20)}
    params |= {"order_id": "A-1001", "note": "caf\u00e9 \u2615", "empty": ""}
    answer = client.post(name, card_request("charge", ctx.card, parameters=params))
    ident, why = success_id(answer, "charge_id")
    if ident is not None:
        return ok(f"23 parameters: {why}")
    return fail("custom-parameters", why, answer)


def _retry(method: str) -> CaseFn:
    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        """A retry after a lost answer: the original id, or a duplicate error; never a new id."""
        body = card_request(method, ctx.card)
        id_key = _id_key(body)
        first_answer = client.post(name, body)
        first, why = success_id(first_answer, id_key)
        if first is None:
            return fail("answer-shape", f"first request: {why}", first_answer)
        again = client.post(name, body)
        second, why = success_id(again, id_key)
        if second == first:
            return ok(f"the retry got the original {id_key}")
        if second is not None:
            return fail(
                "retry", f"the retry got a new {id_key} {second} (first {first}): charged twice"
            )
        code = refusal(again, id_key)
        if code is not None and again.data.get(id_key) in (None, first):
            return ok(f"the retry was refused as a duplicate (error_code={code!r})")
        return fail("retry", f"retry: {why}", again)

    return case


def _other_amount(client: _Client, name: str, ctx: Context) -> Outcome:
    """The same transaction_id with another amount: refused, or the original answer."""
    tx = _tx()
    first_answer = client.post(name, card_request("charge", ctx.card, transaction_id=tx))
    first, why = success_id(first_answer, "charge_id")
    if first is None:
        return fail("answer-shape", f"first request: {why}", first_answer)
    body = card_request("charge", ctx.card, amount=OTHER_AMOUNT, transaction_id=tx)
    again = client.post(name, body)
    second, why = success_id(again, "charge_id")
    if second == first:
        return ok("answered with the original charge_id")
    if second is not None:
        return fail(
            "retry", f"a new charge_id {second} for a reused transaction_id (first {first})"
        )
    code = refusal(again, "charge_id")
    if code is not None:
        if again.data.get("charge_id") in (None, first):
            return ok(f"refused: error_code={code!r}")
        return fail("retry", "error_code with a new charge_id", again)
    return fail(shape_rule(again, "charge_id"), f"second request: {why}", again)


def _concurrent(method: str) -> CaseFn:
    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        """Two requests with one transaction_id at once: both get the original's success."""
        body = card_request(method, ctx.card)
        id_key = _id_key(body)
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
        ids, refused = [], []
        for answer in answers:
            if isinstance(answer, Exception):
                raise NoAnswer(str(answer))
            ident, why = success_id(answer, id_key)
            if ident is not None:
                ids.append(ident)
                continue
            code = refusal(answer, id_key)
            if code is None or answer.data.get(id_key) is not None:
                return fail(
                    "retry-in-progress",
                    f"one of the two answers is neither the original's success nor a "
                    f"duplicate refusal: {why}",
                    answer,
                )
            refused.append(code)
        if len(set(ids)) > 1:
            return fail(
                "retry-in-progress",
                f"two {id_key}s {ids[0]} and {ids[1]} for one transaction_id: charged twice",
            )
        if not ids:
            return fail(
                "retry-in-progress",
                f"both copies were refused ({', '.join(refused)}): the original got no success",
            )
        if refused:
            return note(
                f"one copy got {id_key}={ids[0]}, the other a duplicate refusal "
                f"(error_code={refused[0]!r}): allowed once the original is done; while it is "
                "in progress Twilio expects the original's success",
                "retry-in-progress",
            )
        return ok(f"both got {id_key}={ids[0]}")

    return case


def _distinct_ids(client: _Client, name: str, ctx: Context) -> Outcome:
    ids = []
    for _ in range(2):
        answer = client.post(name, card_request("charge", ctx.card))
        ident, why = success_id(answer, "charge_id")
        if ident is None:
            return fail("answer-shape", why, answer)
        ids.append(ident)
    if ids[0] == ids[1]:
        return fail(
            "distinct-transactions",
            f"two transactions got the same charge_id {ids[0]!r}: the merchant cannot tell "
            "them apart, refund one or reconcile either",
        )
    return ok(f"two transactions, two charge_ids ({ids[0]}, {ids[1]})")


def _credentials(make_auth: Callable[[_Client], Any], what: str) -> CaseFn:
    def case(client: _Client, name: str, ctx: Context) -> Outcome:
        """Exactly 401; any other refusal passes only if nothing was processed."""
        tx = _tx()
        body = card_request("charge", ctx.card, transaction_id=tx)
        answer = client.post(name, body, auth=make_auth(client))
        if answer.status == 401:
            return ok(f"{what}: HTTP 401")
        data = answer.data if isinstance(answer.data, dict) else {}
        if 200 <= answer.status < 300 and data.get("charge_id") not in (None, ""):
            return fail("credentials", f"{what}: accepted, charge_id={data['charge_id']!r}", answer)
        if answer.status >= 500 or not data:
            return fail("credentials", f"{what}: not refused with 401", answer)
        # Refused otherwise (403, or 200 with an error_code): was it before any processing?
        # The same transaction with the right credentials then gets a fresh success.
        follow_up = client.post(name, body)
        ident, why = success_id(follow_up, "charge_id")
        if ident is None:
            return fail(
                "credentials",
                f"{what}: HTTP {answer.status} error_code={data.get('error_code')!r}, not 401, "
                f"and the transaction was processed (with the right credentials it then got: "
                f"{why})",
                answer,
            )
        return note(
            f"{what}: refused with HTTP {answer.status} error_code={data.get('error_code')!r} "
            "before any processing (the transaction then succeeded with the right "
            "credentials); HTTP 401 is the usual answer",
            "credentials",
        )

    return case


def phase_one() -> list[tuple[str, CaseFn]]:
    """Every test card and test bank account, charged and tokenized."""
    table: list[tuple[str, CaseFn]] = []
    for number, kind in TEST_CARDS.items():
        for method in ("charge", "tokenize"):
            table.append((f"card-{method}-{kind}", _test_card(method, number, kind)))
    for account in TEST_BANK_ACCOUNTS:
        for method in ("charge", "tokenize"):
            table.append((f"ach-{method}-{account}", _test_account(method, account)))
    return table


def _this_month() -> str:
    today = dt.date.today()
    return f"{today.month:02d}{today.year % 100:02d}"


def _four_digit_year(ctx: Context) -> dict[str, Any]:
    body = card_request("charge", ctx.card)
    body["expiry_year"] = str(dt.date.today().year + 2)
    return body


def phase_two() -> list[tuple[str, CaseFn]]:
    """The cases run with a card (and an account) the connector approved in phase one."""
    return [
        ("success-shape", _success_shape),
        ("charge-without-description", _without("description")),
        ("charge-without-postal-code", _without("postal_code")),
        ("charge-without-cvv", _without("cvv")),
        ("charge-without-parameters", _without("parameters")),
        ("ach-charge-without-description", _without("description", ach=True)),
        ("ach-charge-without-parameters", _without("parameters", ach=True)),
        (
            "no-content-type",
            _expect_success(
                lambda ctx: card_request("charge", ctx.card),
                rule="content-type",
                content_type=None,
            ),
        ),
        (
            "text-plain-content-type",
            _expect_success(
                lambda ctx: card_request("charge", ctx.card),
                rule="content-type",
                content_type="text/plain; charset=UTF-8",
            ),
        ),
        (
            "expiry-this-month",
            _expect_success(
                lambda ctx: card_request("charge", ctx.card, expiry=_this_month()),
                rule="valid-expiry",
            ),
        ),
        ("expiry-four-digit-year", _shape_only(_four_digit_year, "a four-digit expiry_year")),
        ("custom-parameters", _custom_parameters),
        ("retry-same-transaction-id", _retry("charge")),
        ("retry-same-transaction-id-tokenize", _retry("tokenize")),
        ("same-transaction-id-other-amount", _other_amount),
        ("concurrent-retry", _concurrent("charge")),
        ("concurrent-retry-tokenize", _concurrent("tokenize")),
        ("distinct-transactions-distinct-ids", _distinct_ids),
        (
            "wrong-credentials",
            _credentials(lambda c: (c.username, c.password + "-wrong"), "wrong password"),
        ),
        ("missing-credentials", _credentials(lambda c: None, "no Authorization header")),
        (
            "luhn-invalid-card",
            _never_forwarded(
                lambda ctx: card_request("charge", LUHN_INVALID_CARD), "a Luhn-invalid number"
            ),
        ),
        (
            "expired-card",
            _never_forwarded(
                lambda ctx: card_request("charge", ctx.card, expiry="0120"), "an expired card"
            ),
        ),
    ]


def cases() -> list[tuple[str, CaseFn]]:
    """Every case, in the order the table shows them (error-shape and latency come last)."""
    return phase_one() + phase_two()


def run_check(
    url: str,
    username: str,
    password: str,
    budget: float = CONTRACT_LATENCY,
    timeout: float = CONTRACT_LATENCY,
    *,
    parallelism: int = PARALLELISM,
    unresponsive_after: int = UNRESPONSIVE_AFTER,
) -> list[CaseResult]:
    """Run every case against the connector at ``url``; the last results are the aggregates.

    Cases run ``parallelism`` at a time. Once ``unresponsive_after`` requests in a row got
    no answer, the cases not yet started fail without calling, so that a dead or slow
    connector costs about one timeout, not one per case.
    """
    client = _Client(url, username, password, timeout, unresponsive_after)
    ctx = Context()

    def run_one(name: str, fn: CaseFn) -> CaseResult:
        if client.unresponsive:
            return CaseResult(
                name,
                False,
                f"connector unresponsive: not run after {unresponsive_after} requests "
                f"in a row got no answer (last: {client.last_failure})",
                skipped=True,
                verdict=FAIL,
                rule="latency",
            )
        started = time.monotonic()
        try:
            outcome = fn(client, name, ctx)
        except NoAnswer as exc:
            rule = "latency" if "within" in str(exc) else None
            outcome = Outcome(FAIL, str(exc), rule)
        except Exception as exc:  # a case must never take the whole check down
            outcome = Outcome(FAIL, f"check crashed: {type(exc).__name__}: {exc}")
        return CaseResult(
            name,
            outcome.verdict != FAIL,
            outcome.why,
            round(time.monotonic() - started, 3),
            verdict=outcome.verdict,
            rule=outcome.rule,
        )

    def run_all(table: list[tuple[str, CaseFn]]) -> list[CaseResult]:
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="check") as pool:
            futures = [pool.submit(run_one, name, fn) for name, fn in table]
            return [future.result() for future in futures]

    first = run_all(phase_one())
    _learn(first, ctx)
    results = first + run_all(phase_two())
    results.append(_error_shape_case(client))
    results.append(_latency_case(client, budget))
    return results


def _learn(results: list[CaseResult], ctx: Context) -> None:
    """Pick the card and account phase two uses; no approved card at all is a failure."""
    approved = {r.name for r in results if r.verdict == PASS}
    for number, kind in TEST_CARDS.items():
        if f"card-charge-{kind}" in approved:
            ctx.card, ctx.card_approved = number, True
            break
    for account in reversed(TEST_BANK_ACCOUNTS):
        if f"ach-charge-{account}" in approved:
            ctx.account = account
            break
    if ctx.card_approved:
        return
    for result in results:
        if result.name.startswith("card-charge-") and result.verdict == NOTE:
            result.verdict, result.passed, result.rule = FAIL, False, "test-cards"
            result.why = (
                f"{result.why} — and no test card at all was approved: breaks 'test-cards': "
                f"{RULES['test-cards'].text}"
            )


def _error_shape_case(client: _Client) -> CaseResult:
    """Every error answer seen in the run, whatever the input, must keep the id key."""
    checked = 0
    for case, method, answer in list(client.answers):
        if answer.status != 200 or not isinstance(answer.data, dict):
            continue
        if answer.data.get("error_code") is None:
            continue
        checked += 1
        id_key = "token_id" if method == "tokenize" else "charge_id"
        if id_key not in answer.data:
            outcome = fail("error-shape", f"{case}: an error answer has no {id_key} key", answer)
            return CaseResult("error-shape", False, outcome.why, verdict=FAIL, rule="error-shape")
    if not client.answers:
        return CaseResult("error-shape", False, "no answer at all to check", verdict=FAIL)
    if not checked:
        return CaseResult("error-shape", True, "no error answer was seen to check", verdict=NOTE)
    return CaseResult(
        "error-shape", True, f"all {checked} error answers keep the id key", rule="error-shape"
    )


def _latency_case(client: _Client, budget: float) -> CaseResult:
    slowest = max((seconds for _, seconds in client.latencies), default=None)
    over = sorted({case for case, seconds in client.latencies if seconds > budget})
    shown = slowest and round(slowest, 3)
    if client.no_answers:
        cases_ = sorted(set(client.no_answers))
        why = (
            f"{len(client.no_answers)} request(s) got no answer ({', '.join(cases_[:5])}; "
            f"last: {client.last_failure}) — breaks 'latency': {RULES['latency'].text}"
        )
        return CaseResult("latency-budget", False, why, shown, verdict=FAIL, rule="latency")
    if slowest is None:
        return CaseResult("latency-budget", False, "no answer to measure", verdict=FAIL)
    if over:
        limit = (
            "the contract's limit"
            if budget >= CONTRACT_LATENCY
            else f"the chosen budget (the contract allows {CONTRACT_LATENCY:g} s)"
        )
        why = f"slowest {slowest:.3f} s, over {limit} of {budget:g} s in: {', '.join(over[:5])}"
        return CaseResult("latency-budget", False, why, shown, verdict=FAIL, rule="latency")
    return CaseResult(
        "latency-budget",
        True,
        f"slowest answer {slowest:.3f} s (budget {budget:g} s)",
        shown,
        rule="latency",
    )
