"""A local stand-in for Twilio's Payments API (agent assist), with an emulated caller.

The app's REST client is pointed here (a base-URL setting) instead of api.twilio.com. It serves
``POST /2010-04-01/Accounts/{AC}/Calls/{CA}/Payments.json`` (start a session) and
``…/Payments/{PK}.json`` (``Capture`` one field, or ``Status`` complete | cancel), checks HTTP
Basic (account SID, auth token) and each call's ``IdempotencyKey`` (a repeated key is answered
as the first time, and nothing is done twice), and plays the caller on the call: when a field
is asked for, the caller keys it in and the stand-in posts signed status callbacks as Twilio
does (``PartialResult`` while digits arrive, then ``Required``, ``ErrorType``, the masked
values); on ``Status=complete`` it sends the Generic Pay Connector request with Twilio's timeout
and retries (emulator/pay.py's code) and posts the result.

Source: reference/twilio-payments-api-facts.md. Interpretations where it is silent, marked so
below: ``Required`` is sent as a comma-separated list of kebab-case field names (the doc's
example is ``ExpirationDate``; peer code tests kebab-case), a cancel posts no result callback
(the API's 200 is the answer), a second session on a busy call is refused with 64021.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import queue
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from emulator.caller import DEFAULT_BANK_ACCOUNT, Caller
from emulator.cards import (
    DEFAULT_POSTAL_CODE,
    DEFAULT_ROUTING_NUMBER,
    DEFAULT_VALID_CARD_TYPES,
    VISA_TEST_CARD,
    default_expiry,
    default_security_code,
    mask_account,
    mask_card,
)
from emulator.errors import DeliveryFailed
from emulator.pay import (
    CONNECTOR_RETRIES,
    CONNECTOR_TIMEOUT,
    Collected,
    ConnectorEndpoint,
    PayEnvironment,
    PaySession,
    PaySpec,
    validate,
)
from emulator.transport import TWILIO_USER_AGENT, WEBHOOK_TIMEOUT, Transport, delivery_url, sign

CARD_FIELDS = ("payment-card-number", "expiration-date", "security-code", "postal-code")
BANK_FIELDS = ("bank-routing-number", "bank-account-number")
MATCHERS = {f"{name}-matcher": name for name in CARD_FIELDS}
PAYMENT_METHODS = ("credit-card", "ach-debit")
BANK_ACCOUNT_TYPES = ("consumer-checking", "consumer-savings", "commercial-checking")
TOKEN_TYPES = ("one-time", "reusable", "payment-method")
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "OMR": 3}
MAX_CHARGE = Decimal("1000000")

_CREATE = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls/([^/]+)/Payments\.json\Z")
_UPDATE = re.compile(
    r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls/([^/]+)/Payments/([^/]+)\.json\Z"
)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    """Twilio's REST error body (twilio-python reads `code` and `message` from it)."""
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class AgentCaller:
    """What the caller keys at each field the agent asks for, in order.

    ``entries`` maps a field (``payment-card-number`` … ``bank-account-number``, or a
    ``*-matcher``) to the successive entries keyed each time it is asked for; the last entry
    is keyed again on any later ask. A field without entries gets a valid default; a matcher
    without entries repeats the accepted value. ``""`` keys nothing (input-timeout).
    ``hangup_at`` names a field at which the caller hangs up.
    """

    entries: dict[str, list[str]] = field(default_factory=dict, repr=False)
    hangup_at: str | None = None

    @classmethod
    def keying(cls, hangup_at: str | None = None, **values: str | list[str] | None) -> AgentCaller:
        """``keying(card=…, expiry=["1399", "1230"], cvv=…, postal_code=…, routing_number=…,
        bank_account=…)``."""
        names = {
            "card": "payment-card-number",
            "expiry": "expiration-date",
            "cvv": "security-code",
            "postal_code": "postal-code",
            "routing_number": "bank-routing-number",
            "bank_account": "bank-account-number",
        }
        entries: dict[str, list[str]] = {}
        for key, value in values.items():
            if value is None:
                continue
            name = names.get(key, key.replace("_", "-"))
            entries[name] = [value] if isinstance(value, str) else list(value)
        return cls(entries, hangup_at)

    def next_entry(self, name: str, collected: Collected) -> str:
        queued = self.entries.get(name)
        if queued:
            return queued.pop(0) if len(queued) > 1 else queued[0]
        if name in MATCHERS:
            return _value_of(collected, MATCHERS[name]) or ""
        card = collected.card or self._first("payment-card-number") or VISA_TEST_CARD
        defaults = {
            "payment-card-number": VISA_TEST_CARD,
            "expiration-date": default_expiry(),
            "security-code": default_security_code(card),
            "postal-code": DEFAULT_POSTAL_CODE,
            "bank-routing-number": DEFAULT_ROUTING_NUMBER,
            "bank-account-number": DEFAULT_BANK_ACCOUNT,
        }
        return defaults[name]

    def _first(self, name: str) -> str | None:
        queued = self.entries.get(name)
        return queued[0] if queued else None

    def secrets(self) -> list[str]:
        """Values never to be shown unmasked (card and account numbers, security codes)."""
        found: list[str] = []
        for name in ("payment-card-number", "bank-account-number", "security-code"):
            found.extend(v for v in self.entries.get(name, []) if v)
        return found


def _value_of(collected: Collected, name: str) -> str | None:
    return {
        "payment-card-number": collected.card,
        "expiration-date": collected.expiry,
        "security-code": collected.cvv,
        "postal-code": collected.postal_code,
        "bank-routing-number": collected.routing_number,
        "bank-account-number": collected.bank_account,
    }[name]


def _partial(name: str, keyed: str) -> str:
    """What a PartialResult callback shows of the digits keyed so far."""
    if name in ("payment-card-number", "security-code", "bank-account-number"):
        return "x" * len(keyed)
    return keyed


@dataclass
class EmulatedCall:
    call_sid: str
    caller: AgentCaller
    session: str | None = None
    """The Payment SID of the session running on this call, if any."""


@dataclass
class EmulatedSession:
    """Twilio's side of one payment session (in memory: it is Twilio's, not the app's)."""

    sid: str
    call: EmulatedCall
    form: dict[str, str]
    spec: PaySpec
    fields: list[str]
    matching: list[str]
    created: str
    status: str = "active"
    collected: Collected = field(default_factory=Collected)
    required: list[str] = field(default_factory=list)
    callbacks: list[dict[str, str]] = field(default_factory=list)
    result: dict[str, str] | None = None
    work: queue.Queue = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ReceivedRequest:
    """One REST request as the stand-in received it (the tests check keys and parameters)."""

    path: str
    form: dict[str, str]
    status: int
    replayed: bool = False


class PaymentsApi:
    """The stand-in; `handle` is the REST logic, `serve` puts it on a loopback port."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        transport: Transport,
        connectors: Mapping[str, ConnectorEndpoint],
        report: Callable[[str], None] | None = None,
        connector_timeout: float = CONNECTOR_TIMEOUT,
        connector_retries: int = CONNECTOR_RETRIES,
        webhook_timeout: float = WEBHOOK_TIMEOUT,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.transport = transport
        self.connectors = dict(connectors)
        self._report = report
        self.connector_timeout = connector_timeout
        self.connector_retries = connector_retries
        self.webhook_timeout = webhook_timeout
        self.calls: dict[str, EmulatedCall] = {}
        self.sessions: dict[str, EmulatedSession] = {}
        self.requests: list[ReceivedRequest] = []
        self.lines: list[str] = []
        self._keys: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- the call and its caller ------------------------------------------------------------------

    def add_call(self, caller: AgentCaller | None = None, call_sid: str | None = None) -> str:
        """A live call the agent can take a payment on; its Call SID."""
        sid = call_sid or "CA" + uuid.uuid4().hex
        self.calls[sid] = EmulatedCall(sid, caller or AgentCaller())
        return sid

    def report(self, text: str) -> None:
        for call in self.calls.values():
            for secret in call.caller.secrets():
                if len(secret) >= 6 and secret in text:
                    text = text.replace(secret, mask_card(secret))
        with self._lock:
            self.lines.append(text)
        if self._report is not None:
            self._report(text)

    # -- REST -------------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, form: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """One REST request; (HTTP status, JSON body)."""
        form = dict(form)
        status, body, replayed = self._handle(method, path, form, authorization)
        with self._lock:
            self.requests.append(ReceivedRequest(path, form, status, replayed))
        return status, body

    def _handle(
        self, method: str, path: str, form: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any], bool]:
        create, update = _CREATE.match(path), _UPDATE.match(path)
        if method != "POST" or not (create or update):
            return (*_error(404, 20404, "The requested resource was not found"), False)
        match = create or update
        assert match is not None
        if match.group(1) != self.account_sid or not self._authorized(authorization):
            return (*_error(401, 20003, "Authenticate"), False)
        key = form.get("IdempotencyKey", "")
        if not key or not form.get("StatusCallback"):
            return (*_error(400, 21201, "IdempotencyKey and StatusCallback are required"), False)
        fingerprint = json.dumps([path, sorted(form.items())])
        with self._lock:
            seen = self._keys.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                status, body = _error(
                    422, 20001, "IdempotencyKey was used before for a different request"
                )
                return status, body, False
            self.report(f"Payments API: IdempotencyKey {key} seen before: the first answer again")
            return seen[1], seen[2], True
        if create:
            status, body = self._create(create.group(2), form)
        else:
            assert update is not None
            status, body = self._update(update.group(2), update.group(3), form)
        if status < 500:
            with self._lock:
                self._keys[key] = (fingerprint, status, body)
        return status, body, False

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return hmac.compare_digest(
            user.encode(), self.account_sid.encode()
        ) and hmac.compare_digest(password.encode(), self.auth_token.encode())

    def _instance(self, session: EmulatedSession, updated: str | None = None) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "call_sid": session.call.call_sid,
            "sid": session.sid,
            "date_created": session.created,
            "date_updated": updated or session.created,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{session.call.call_sid}"
            f"/Payments/{session.sid}.json",
        }

    def _create(self, call_sid: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        call = self.calls.get(call_sid)
        if call is None:
            return _error(404, 20404, f"The requested resource Call {call_sid} was not found")
        problem = _create_problem(form)
        if problem is not None:
            return problem
        with self._lock:
            busy = call.session and self.sessions[call.session].status in ("active", "completing")
            if busy:
                return _error(400, 64021, "Invalid operation: a payment session is in progress")
            spec = _spec(form)
            matching = [m for m in _split(form.get("RequireMatchingInputs")) if m in spec.steps()]
            session = EmulatedSession(
                sid="PK" + uuid.uuid4().hex,
                call=call,
                form=form,
                spec=spec,
                fields=spec.steps(),
                matching=matching,
                created=_now(),
            )
            session.required = spec.steps() + [f"{m}-matcher" for m in matching]
            self.sessions[session.sid] = session
            call.session = session.sid
        amount = spec.charge_amount if spec.method == "charge" else "0 (tokenize)"
        self.report(
            f"Payments API: session {session.sid} started on {call_sid}: {spec.payment_method}, "
            f"{amount} {spec.currency.upper() if spec.method == 'charge' else ''}".rstrip()
        )
        threading.Thread(
            target=self._work, args=(session,), daemon=True, name=f"payments-{session.sid}"
        ).start()
        session.work.put(("started", None))
        return 201, self._instance(session)

    def _update(
        self, call_sid: str, payment_sid: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        session = self.sessions.get(payment_sid)
        if session is None or session.call.call_sid != call_sid:
            return _error(404, 20404, f"The requested resource Payment {payment_sid} was not found")
        capture, status = form.get("Capture"), form.get("Status")
        if bool(capture) == bool(status):
            return _error(400, 64018, "Provide exactly one of Capture or Status")
        with session.lock:
            if session.status != "active":
                return _error(400, 64021, "Invalid operation: the payment session has ended")
            if capture:
                allowed = session.fields + [f"{m}-matcher" for m in session.matching]
                if capture not in allowed:
                    return _error(400, 64020, f"Invalid Capture value {capture!r}")
                session.work.put(("capture", capture))
            elif status == "complete":
                if session.required:
                    return _error(
                        400,
                        64019,
                        "Set Status parameter to complete only after all payment information "
                        "is received",
                    )
                session.status = "completing"
                session.work.put(("complete", None))
            elif status == "cancel":
                session.status = "cancelled"
                session.work.put(("cancel", None))
            else:
                return _error(400, 64020, f"Invalid Status value {status!r}")
        self.report(
            f"Payments API: {session.sid} "
            + (f"Capture={capture}" if capture else f"Status={status}")
        )
        return 200, self._instance(session, _now())

    # -- the caller, on the session's own thread --------------------------------------------------

    def _work(self, session: EmulatedSession) -> None:
        while True:
            action, argument = session.work.get()
            try:
                if action == "started":
                    self._callback(session, {"Required": ",".join(session.required)})
                elif action == "capture":
                    self._capture(session, argument)
                elif action == "complete":
                    self._complete(session)
                elif action == "cancel":
                    self.report(f"  session {session.sid} cancelled: nothing sent to the connector")
            finally:
                session.work.task_done()
            if session.status in ("completed", "cancelled", "hung-up"):
                return

    def _capture(self, session: EmulatedSession, name: str) -> None:
        base = MATCHERS.get(name, name)
        caller = session.call.caller
        if caller.hangup_at in (name, base):
            self.report(f"  [{name}] the caller hangs up")
            with session.lock:
                session.status = "hung-up"
            self._finish(session, {"Result": "caller-hung-up"})
            return
        value = caller.next_entry(name, session.collected)
        counts = list(range(4, len(value), 4)) or ([1] if len(value) > 1 else [])
        for count in counts:
            self._callback(
                session,
                {"Capture": name, "PartialResult": "true", **_shown(base, value[:count])},
            )
        if name in MATCHERS:
            accepted = _value_of(session.collected, base)
            error = None if value and value == accepted else "input-matching-failed"
            if not value:
                error = "input-timeout"
        else:
            error = validate(session.spec, base, value, session.collected)
        with session.lock:
            if error is None:
                if name in MATCHERS:
                    _drop(session.required, name)
                else:
                    session.collected.store(base, value)
                    _drop(session.required, name)
                    if base in session.matching and f"{base}-matcher" not in session.required:
                        session.required.append(f"{base}-matcher")  # a new value, matched anew
            else:
                if name not in MATCHERS:
                    _forget(session.collected, base)  # a bad entry replaces the old one
                if name not in session.required:
                    session.required.append(name)
        keyed = _keys_shown(base, value)
        outcome = f" -> {error}" if error else " -> accepted"
        self.report(f"  [{name}] caller keys {keyed or '(nothing)'}{outcome}")
        params = {"Capture": name, "PartialResult": "false", "Required": ",".join(session.required)}
        if error:
            params["ErrorType"] = error
        self._callback(session, params)

    def _complete(self, session: EmulatedSession) -> None:
        spec = session.spec
        if session.form.get("Confirmation", "").lower() == "true":
            number = session.collected.card or session.collected.bank_account or ""
            self.report(f"  the caller hears the last four digits, {number[-4:]}, and presses 1")
        env = PayEnvironment(
            call_params={"AccountSid": self.account_sid, "CallSid": session.call.call_sid},
            post_status=lambda method, url, params: {},
            connector_for=self.connectors.get,
            send_connector=self._send_connector,
            report=self.report,
            connector_timeout=self.connector_timeout,
            connector_retries=self.connector_retries,
        )
        pay = PaySession(spec, Caller(), env)
        pay.collected = session.collected
        # The connector request, its timeout and retries, and the answer's reading are <Pay>'s.
        result, fields = pay._call_connector()
        session.status = "completed"
        self.report(f"  result: {result}" + (f" ({fields})" if result != "success" else ""))
        self._finish(session, {"Result": result, **fields})

    def _send_connector(
        self, endpoint: ConnectorEndpoint, payload: bytes, headers: dict[str, str], timeout: float
    ) -> Any:
        return self.transport.send("POST", endpoint.url, payload, headers, timeout)

    def _finish(self, session: EmulatedSession, fields: dict[str, str]) -> None:
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        session.result = fields
        self._callback(session, fields)

    def _callback(self, session: EmulatedSession, params: dict[str, str]) -> None:
        """Sign and post one status callback; a failure is reported, the session goes on."""
        form = session.form
        spec = session.spec
        body = {
            "AccountSid": self.account_sid,
            "CallSid": session.call.call_sid,
            "Sid": session.sid,
            "DateCreated": session.created,
            "DateUpdated": _now(),
            "ChargeAmount": form.get("ChargeAmount", ""),
            "PaymentConnector": spec.payment_connector,
            "PaymentMethod": spec.payment_method,
            "TokenType": form.get("TokenType", "reusable"),
        }
        if spec.ach:
            body["BankAccountType"] = spec.bank_account_type
        body.update(_masked_fields(session.collected, spec.ach))
        body.update(params)
        url = form["StatusCallback"]
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, body)}
        headers["User-Agent"] = TWILIO_USER_AGENT
        target = delivery_url(url, self.transport.base_url)
        session.callbacks.append(body)
        try:
            reply = self.transport.send("POST", target, body, headers, self.webhook_timeout)
        except DeliveryFailed as exc:
            self.report(f"  statusCallback {url}: {exc}")
            return
        if not 200 <= reply.status < 300:
            self.report(f"  statusCallback {url} answered HTTP {reply.status}")

    # -- helpers for callers of the stand-in -------------------------------------------------------

    def wait_idle(self, payment_sid: str | None = None) -> None:
        """Until the session's (or every session's) queued work is done: the caller's keys,
        the callbacks delivered and answered, the connector asked."""
        sessions = [self.sessions[payment_sid]] if payment_sid else list(self.sessions.values())
        for session in sessions:
            session.work.join()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> StandInServer:
        return StandInServer(self, host, port)


class StandInServer:
    """The stand-in on a loopback port, on a daemon thread; `url` is TWILIO_API_BASE_URL."""

    def __init__(self, api: PaymentsApi, host: str, port: int) -> None:
        stand_in = api

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", errors="replace")
                form = dict(parse_qsl(raw, keep_blank_values=True))
                status, body = stand_in.handle(
                    "POST", self.path.split("?")[0], form, self.headers.get("Authorization")
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # the stand-in reports through its transcript instead

        self.api = api
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True, name="payments-api"
        )
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> StandInServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading a create request ----------------------------------------------------------------------


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _create_problem(form: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
    """Twilio's refusal of a create request, or None when it would start the session."""
    method = form.get("PaymentMethod", "credit-card")
    if method not in PAYMENT_METHODS:
        return _error(400, 64013, f"PaymentMethod {method!r} is not supported")
    if form.get("BankAccountType") and method != "ach-debit":
        return _error(400, 64017, "BankAccountType is not supported with credit-card")
    if form.get("BankAccountType", "consumer-checking") not in BANK_ACCOUNT_TYPES:
        return _error(400, 64020, "Invalid BankAccountType")
    if form.get("TokenType", "reusable") not in TOKEN_TYPES:
        return _error(400, 64020, "Invalid TokenType")
    amount_text = form.get("ChargeAmount", "")
    if amount_text:
        currency = form.get("Currency", "USD").upper()
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            return _error(400, 64003, f"Invalid charge amount {amount_text!r}")
        places = MINOR_UNITS.get(currency, 2)
        exponent = amount.as_tuple().exponent
        if (
            not amount.is_finite()
            or "e" in amount_text.lower()
            or amount < 0
            or amount >= MAX_CHARGE
            or (isinstance(exponent, int) and -exponent > places)
        ):
            return _error(400, 64003, f"Invalid charge amount {amount_text!r} for {currency}")
    try:
        parameter = json.loads(form.get("Parameter") or "{}")
    except ValueError:
        return _error(400, 64020, "Parameter is not JSON")
    if not isinstance(parameter, dict) or any(
        isinstance(v, dict | list) for v in parameter.values()
    ):
        return _error(400, 64020, "Parameter is a single-level JSON object")
    if method == "ach-debit" and not parameter.get("AVSName"):
        return _error(400, 64014, "ACH payments need the AVSName parameter")
    for name in _split(form.get("RequireMatchingInputs")):
        if name not in CARD_FIELDS:
            return _error(400, 64020, f"Invalid RequireMatchingInputs value {name!r}")
    for name in ("PostalCode", "SecurityCode", "Confirmation"):
        if form.get(name, "true").lower() not in ("true", "false"):
            return _error(400, 64020, f"{name} is true or false")
    timeout = form.get("Timeout", "5")
    if not timeout.isdigit() or not 1 <= int(timeout) <= 600:
        return _error(400, 64020, "Timeout is 1 to 600 seconds")
    return None


def _spec(form: Mapping[str, str]) -> PaySpec:
    """The session as emulator/pay.py's <Pay> code reads it (for checks and the connector)."""
    parameter = json.loads(form.get("Parameter") or "{}")
    return PaySpec(
        attrs={},
        action="",
        action_given=False,
        status_callback=form.get("StatusCallback"),
        status_callback_method="POST",
        payment_method=form.get("PaymentMethod", "credit-card"),
        bank_account_type=form.get("BankAccountType", "consumer-checking"),
        max_attempts=1,
        security_code=form.get("SecurityCode", "true").lower() == "true",
        postal_code=form.get("PostalCode", "true").lower(),
        min_postal_code_length=int(form.get("MinPostalCodeLength") or 1),
        payment_connector=form.get("PaymentConnector", "Default"),
        charge_amount=form.get("ChargeAmount") or None,
        currency=form.get("Currency", "usd"),
        description=form.get("Description"),
        valid_card_types=tuple(form.get("ValidCardTypes", "").split()) or DEFAULT_VALID_CARD_TYPES,
        prompts=[],
        parameters={str(k): str(v) for k, v in parameter.items()},
    )


def _forget(collected: Collected, name: str) -> None:
    attribute = {
        "payment-card-number": "card",
        "expiration-date": "expiry",
        "security-code": "cvv",
        "postal-code": "postal_code",
        "bank-routing-number": "routing_number",
        "bank-account-number": "bank_account",
    }[name]
    setattr(collected, attribute, None)
    if attribute == "card":
        collected.kind = None


def _drop(items: list[str], name: str) -> None:
    while name in items:
        items.remove(name)


def _shown(name: str, keyed: str) -> dict[str, str]:
    key = {
        "payment-card-number": "PaymentCardNumber",
        "expiration-date": "ExpirationDate",
        "security-code": "SecurityCode",
        "postal-code": "PaymentCardPostalCode",
        "bank-routing-number": "BankRoutingNumber",
        "bank-account-number": "BankAccountNumber",
    }[name]
    return {key: _partial(name, keyed)}


def _keys_shown(name: str, value: str) -> str:
    if name == "payment-card-number":
        return mask_card(value)
    if name == "security-code":
        return "*" * len(value)
    if name == "bank-account-number":
        return mask_account(value)
    return value


def _masked_fields(collected: Collected, ach: bool) -> dict[str, str]:
    """The accepted values as Twilio shows them: card last four, account last two, no CVV."""
    fields: dict[str, str] = {}
    if ach:
        if collected.routing_number:
            fields["BankRoutingNumber"] = collected.routing_number
        if collected.bank_account:
            fields["BankAccountNumber"] = mask_account(collected.bank_account)
        return fields
    if collected.card:
        fields["PaymentCardNumber"] = mask_card(collected.card)
        if collected.kind:
            fields["PaymentCardType"] = collected.kind
    if collected.expiry:
        fields["ExpirationDate"] = collected.expiry
    if collected.cvv:
        fields["SecurityCode"] = "x" * len(collected.cvv)
    if collected.postal_code:
        fields["PaymentCardPostalCode"] = collected.postal_code
    return fields


def _now() -> str:
    """RFC 2822, as Twilio's REST API writes dates."""
    return dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
