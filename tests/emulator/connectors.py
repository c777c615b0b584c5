"""Small Generic Pay Connectors for check-connector's tests: one correct, each knob one quirk.

``Connector()`` keeps the contract (reference/generic-pay-connector.txt). Each defect knob
reproduces one way a real connector broke it, each unusual knob one way a correct connector
differs from PayLine's (and that the check once held against it). A plain WSGI app, served on
127.0.0.1 by ``serve_wsgi``: no Flask, nothing of PayLine's.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server

USERNAME = "twilio"
PASSWORD = "connector-pw"
TEST_CARDS = {
    "4111111111111111": "visa",
    "5555555555554444": "mastercard",
    "378282246310005": "amex",
    "6011111111111117": "discover",
    "3065930009020004": "diners-club",
    "3566002020360505": "jcb",
    "6200000000000005": "unionpay",
    "6771798021000008": "maestro",
}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _luhn(number: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@dataclass
class Connector:
    """A connector; the defaults keep the contract."""

    username: str = USERNAME
    password: str = PASSWORD
    # -- defects ------------------------------------------------------------------------
    #: fields it cannot do without: a request missing one crashes it (HTML 500)
    requires: tuple[str, ...] = ()
    #: treats a card expiring this month as expired
    refuses_this_month: bool = False
    #: reads the body only under Content-Type: application/json (else it sees nothing)
    needs_json_content_type: bool = False
    idempotent_charge: bool = True
    idempotent_tokenize: bool = True
    #: answers every transaction with this one id
    constant_id: str | None = None
    #: "401" (correct), "none" (no authentication at all), "403" or "200-error" (refused
    #: otherwise, before any processing: unusual but harmless)
    auth: str = "401"
    id_key_on_errors: bool = True
    # -- unusual but correct --------------------------------------------------------------
    #: card brands the merchant does not take: a well-formed card_declined
    declines: frozenset[str] = frozenset()
    #: approves what <Pay> never forwards
    accepts_luhn_invalid: bool = False
    accepts_expired: bool = False
    #: refuses (well-formed) a request without these optional fields
    refuses_without: tuple[str, ...] = ()
    #: refuses (well-formed) a four-digit expiry_year instead of reading it
    refuses_four_digit_year: bool = False
    #: answers a retry with a duplicate error instead of the original id
    duplicate_error_on_retry: bool = False
    #: seconds before every answer
    delay: float = 0.0
    # -- state --------------------------------------------------------------------------
    requests: list[dict[str, Any]] = field(default_factory=list, repr=False)
    charges: int = 0
    _ledger: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _tx_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, body, content_type = self.handle(environ)
        start_response(status, [("Content-Type", content_type)])
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[str, bytes, str]:
        if not self._authorized(environ.get("HTTP_AUTHORIZATION", "")):
            if self.auth == "403":
                return _json("403 Forbidden", {"charge_id": None, "error_code": "forbidden"})
            if self.auth == "200-error":
                return _json(
                    "200 OK",
                    {"charge_id": None, "error_code": "unauthorized", "error_message": "auth"},
                )
            return _json("401 Unauthorized", {"charge_id": None, "error_code": "unauthorized"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        content_type = environ.get("CONTENT_TYPE", "")
        if self.needs_json_content_type and not content_type.startswith("application/json"):
            raw = b""
        try:
            request = json.loads(raw)
        except ValueError:
            return _json("400 Bad Request", {"charge_id": None, "error_code": "invalid_request"})
        if not isinstance(request, dict) or "transaction_id" not in request:
            return _json("400 Bad Request", {"charge_id": None, "error_code": "invalid_request"})
        missing = [name for name in self.requires if name not in request]
        if missing:
            page = f"<html><h1>500 Internal Server Error</h1>KeyError: {missing[0]!r}</html>"
            return "500 INTERNAL SERVER ERROR", page.encode(), "text/html"
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests.append(request)
            tx_lock = self._tx_locks.setdefault(request["transaction_id"], threading.Lock())
        with tx_lock:
            return _json("200 OK", self._answer(request))

    def _authorized(self, given: str) -> bool:
        if self.auth == "none":
            return True
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return hmac.compare_digest(given.encode(), f"Basic {token}".encode())

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method")
        id_key = "charge_id" if method == "charge" else "token_id"
        tx = request["transaction_id"]
        idempotent = self.idempotent_charge if method == "charge" else self.idempotent_tokenize
        fingerprint = {k: request.get(k) for k in ("method", "amount", "cardnumber")}
        stored = self._ledger.get(tx)
        if idempotent and stored is not None:
            if stored["fingerprint"] != fingerprint:
                return self._error(id_key, "idempotency_mismatch", "transaction_id reused")
            if self.duplicate_error_on_retry:
                return self._error(id_key, "duplicate_transaction", "already processed")
            return stored["answer"]
        answer = self._decide(request, id_key)
        self._ledger[tx] = {"fingerprint": fingerprint, "answer": answer}
        return answer

    def _error(self, id_key: str, code: str, message: str) -> dict[str, Any]:
        data: dict[str, Any] = {"error_code": code, "error_message": message}
        if self.id_key_on_errors:
            data[id_key] = None
        return data

    def _decide(self, request: dict[str, Any], id_key: str) -> dict[str, Any]:
        for name in self.refuses_without:
            if "cardnumber" in request and name not in request:
                return self._error(id_key, "invalid_request", f"{name} is required here")
        if "cardnumber" in request:
            number = request["cardnumber"]
            if number not in TEST_CARDS and not (self.accepts_luhn_invalid or _luhn(number)):
                return self._error(id_key, "invalid_card_number", "invalid card number")
            year_text = str(request.get("expiry_year", ""))
            if len(year_text) == 4 and self.refuses_four_digit_year:
                return self._error(id_key, "invalid_expiry", "expiry_year must be 2 digits")
            year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
            expiry = (year, int(request["expiry_month"]))
            today = dt.date.today()
            expired = (
                expiry <= (today.year, today.month)
                if self.refuses_this_month
                else expiry < (today.year, today.month)
            )
            if expired and not self.accepts_expired:
                return self._error(id_key, "invalid_expiry", "card expired")
            if TEST_CARDS.get(number) in self.declines:
                return self._error(id_key, "card_declined", "we do not take this card")
        self.charges += 1
        prefix = "ch" if id_key == "charge_id" else "tok"
        ident = self.constant_id or f"{prefix}_{next(self._ids):05d}"
        return {
            id_key: ident,
            "error_code": None,
            "error_message": None,
            "parameters": {"processor": "tiny"},
        }


def _json(status: str, data: dict[str, Any]) -> tuple[str, bytes, str]:
    return status, json.dumps(data).encode(), "application/json"


def answering(data: dict[str, Any], status: str = "200 OK") -> Callable[..., Iterable[bytes]]:
    """A connector that answers every request with one recorded answer."""
    body = json.dumps(data).encode()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return app


@contextmanager
def serve_wsgi(app: Callable[..., Iterable[bytes]]) -> Iterator[str]:
    """A WSGI app on a real HTTP server on 127.0.0.1; yields its /connector URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/connector"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
