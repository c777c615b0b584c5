"""One <Pay> session as Twilio runs it: prompts, input checks, the connector request, the result.

Sources: reference/twilio-pay-facts.md (the verb, <Prompt>, callbacks, error codes) and
reference/generic-pay-connector.txt (the connector request and answer, the 10 s timeout and
the 5 retries with the same transaction_id). Choices where the references are silent or
disagree are marked "interpretation" below.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

from emulator.caller import Caller
from emulator.cards import (
    DEFAULT_VALID_CARD_TYPES,
    TEST_CARDS,
    account_number_ok,
    card_type,
    expiry_ok,
    is_digits,
    luhn_ok,
    mask_account,
    mask_card,
    mask_card_shaped,
    routing_number_ok,
    security_code_length,
)
from emulator.errors import DeliveryFailed, TwimlRefused
from emulator.transcript import Payment
from emulator.transport import Reply
from emulator.twiml import Node, render

#: Twilio waits this long for the connector, then retries (generic-pay-connector.txt).
CONNECTOR_TIMEOUT = 10.0
CONNECTOR_RETRIES = 5

MALFORMED = (
    "Payment Gateway rejected {what} creation. Got malformed response from Payment Provider."
)
PAY_ERROR_CODE = {"charge": "64008", "tokenize": "64010"}

DEFAULT_PROMPTS = {
    "payment-card-number": "Please enter your credit card number, followed by the pound key.",
    "expiration-date": "Please enter your card's expiration date, two digits for the month "
    "and two digits for the year.",
    "security-code": "Please enter your card's security code, followed by the pound key.",
    "postal-code": "Please enter your zip code, followed by the pound key.",
    "bank-routing-number": "Please enter your bank routing number, followed by the pound key.",
    "bank-account-number": "Please enter your bank account number, followed by the pound key.",
    "payment-processing": "Please wait while we process your payment.",
}
DEFAULT_ERRORS = {
    "input-timeout": "We did not receive your input.",
    "invalid-card-number": "The card number you entered is not valid.",
    "invalid-card-type": "That card type is not accepted.",
    "invalid-date": "The expiration date you entered is not valid.",
    "invalid-security-code": "The security code you entered is not valid.",
    "invalid-postal-code": "The zip code you entered is not valid.",
    "invalid-bank-routing-number": "The routing number you entered is not valid.",
    "invalid-bank-account-number": "The account number you entered is not valid.",
}
#: The error a step reports in PaymentError when its attempts ran out on a timeout.
STEP_ERROR = {
    "payment-card-number": "invalid-card-number",
    "expiration-date": "invalid-date",
    "security-code": "invalid-security-code",
    "postal-code": "invalid-postal-code",
    "bank-routing-number": "invalid-bank-routing-number",
    "bank-account-number": "invalid-bank-account-number",
}


@dataclass(frozen=True)
class ConnectorEndpoint:
    """Where a named Pay Connector sends its requests, with the console's credentials."""

    url: str
    username: str
    password: str = field(repr=False)

    def authorization(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class PromptSpec:
    """A <Prompt>: when it applies, and what the caller hears."""

    step: str
    said: str
    attempts: frozenset[int] = frozenset()
    error_types: frozenset[str] = frozenset()
    card_types: frozenset[str] = frozenset()
    require_matching: bool = False

    @classmethod
    def from_node(cls, node: Node) -> PromptSpec:
        return cls(
            step=node.attrs["for"],
            said=" ".join(filter(None, (render(child) for child in node.children))),
            attempts=frozenset(int(a) for a in node.attrs.get("attempt", "").split()),
            error_types=frozenset(node.attrs.get("errorType", "").split()),
            card_types=frozenset(node.attrs.get("cardType", "").split()),
            require_matching=node.attrs.get("requireMatchingInputs", "").lower() == "true",
        )


@dataclass
class PaySpec:
    """A <Pay> verb with its defaults filled in and its URLs resolved."""

    attrs: dict[str, str]
    action: str
    action_given: bool
    status_callback: str | None
    status_callback_method: str
    payment_method: str
    bank_account_type: str
    max_attempts: int
    security_code: bool
    postal_code: str  # "true", "false" or a literal postal code
    min_postal_code_length: int
    payment_connector: str
    charge_amount: str | None
    currency: str
    description: str | None
    valid_card_types: tuple[str, ...]
    prompts: list[PromptSpec]
    parameters: dict[str, str]

    @classmethod
    def from_node(cls, node: Node, document_url: str, where: str) -> PaySpec:
        """Read a parsed <Pay>; refuse a non-https action as Twilio does (64016)."""
        a = node.attrs
        action = urljoin(document_url, a["action"]) if "action" in a else document_url
        if "action" in a and urlsplit(action).scheme != "https" and not is_loopback(action):
            raise TwimlRefused(
                f'{where}: <Pay action="{a["action"]}"> must be an https URL (64016); '
                "only loopback hosts are let through for local use"
            )
        status_callback = (
            urljoin(document_url, a["statusCallback"]) if "statusCallback" in a else None
        )
        postal = a.get("postalCode", "true")
        if postal.lower() in ("true", "false"):
            postal = postal.lower()
        parameters: dict[str, str] = {}
        prompts = []
        for child in node.children:
            if child.tag == "Parameter":
                parameters[child.attrs["name"]] = child.attrs.get("value", "")
            elif child.tag == "Prompt":
                prompts.append(PromptSpec.from_node(child))
        return cls(
            attrs=dict(a),
            action=action,
            action_given="action" in a,
            status_callback=status_callback,
            status_callback_method=a.get("statusCallbackMethod", "POST").upper(),
            payment_method=a.get("paymentMethod", "credit-card"),
            bank_account_type=a.get("bankAccountType", "consumer-checking"),
            max_attempts=int(a.get("maxAttempts", "1")),
            security_code=a.get("securityCode", "true").lower() == "true",
            postal_code=postal,
            min_postal_code_length=int(a.get("minPostalCodeLength", "1")),
            payment_connector=a.get("paymentConnector", "Default"),
            charge_amount=a.get("chargeAmount"),
            currency=a.get("currency", "usd"),
            description=a.get("description"),
            valid_card_types=tuple(a.get("validCardTypes", "").split()) or DEFAULT_VALID_CARD_TYPES,
            prompts=prompts,
            parameters=parameters,
        )

    @property
    def ach(self) -> bool:
        return self.payment_method == "ach-debit"

    @property
    def method(self) -> str:
        """``charge`` when chargeAmount > 0, else ``tokenize``."""
        if self.charge_amount is not None and Decimal(self.charge_amount) > 0:
            return "charge"
        return "tokenize"

    def steps(self) -> list[str]:
        if self.ach:
            return ["bank-routing-number", "bank-account-number"]
        steps = ["payment-card-number", "expiration-date"]
        if self.security_code:
            steps.append("security-code")
        if self.postal_code == "true":
            steps.append("postal-code")
        return steps

    def describe(self) -> dict[str, Any]:
        """The <Pay> as the transcript shows it (free text masked if card-shaped)."""
        data: dict[str, Any] = {k: mask_card_shaped(v) for k, v in self.attrs.items()}
        data["parameters"] = {k: mask_card_shaped(v) for k, v in self.parameters.items()}
        return data

    def prompt_for(
        self, step: str, attempt: int, error: str | None, kind: str | None
    ) -> PromptSpec | None:
        """The most specific <Prompt> for this step, attempt, error and card type."""
        wanted_error = "timeout" if error == "input-timeout" else error
        best, best_score = None, -1
        for prompt in self.prompts:
            if prompt.step != step or prompt.require_matching:
                continue
            score = 0
            if prompt.attempts:
                if attempt not in prompt.attempts:
                    continue
                score += 1
            if prompt.error_types:
                if wanted_error not in prompt.error_types:
                    continue
                score += 2
            if prompt.card_types:
                if kind not in prompt.card_types:
                    continue
                score += 1
            if score > best_score:
                best, best_score = prompt, score
        return best

    def said_for(self, step: str, attempt: int, error: str | None, kind: str | None) -> str:
        prompt = self.prompt_for(step, attempt, error, kind)
        if prompt is not None and prompt.error_types:
            return prompt.said
        text = prompt.said if prompt is not None else DEFAULT_PROMPTS[step]
        if error:
            return f"{DEFAULT_ERRORS.get(error, 'Your input was not valid.')} {text}"
        return text


@dataclass
class Collected:
    """The caller's accepted inputs so far (in memory only; never written out unmasked)."""

    card: str | None = None
    kind: str | None = None
    expiry: str | None = None
    cvv: str | None = None
    postal_code: str | None = None
    routing_number: str | None = None
    bank_account: str | None = None

    def store(self, step: str, value: str) -> None:
        if step == "payment-card-number":
            self.card, self.kind = value, card_type(value)
        elif step == "expiration-date":
            self.expiry = value
        elif step == "security-code":
            self.cvv = value
        elif step == "postal-code":
            self.postal_code = value
        elif step == "bank-routing-number":
            self.routing_number = value
        elif step == "bank-account-number":
            self.bank_account = value


def validate(spec: PaySpec, step: str, value: str, collected: Collected) -> str | None:
    """The ErrorType Twilio reports for this input, or None when it is accepted."""
    if not value:
        return "input-timeout"
    if not is_digits(value):
        return STEP_ERROR[step]
    if step == "payment-card-number":
        kind = card_type(value)
        if value not in TEST_CARDS and (kind is None or not luhn_ok(value)):
            return "invalid-card-number"
        if kind == "unionpay":  # listed as a test card, has no validCardTypes name
            return None
        accepted = set(spec.valid_card_types)
        if "optima" in accepted:
            accepted.add("amex")
        return None if kind in accepted else "invalid-card-type"
    if step == "expiration-date":
        return None if expiry_ok(value) else "invalid-date"
    if step == "security-code":
        return (
            None if len(value) == security_code_length(collected.kind) else "invalid-security-code"
        )
    if step == "postal-code":
        return None if len(value) >= spec.min_postal_code_length else "invalid-postal-code"
    if step == "bank-routing-number":
        return None if routing_number_ok(value) else "invalid-bank-routing-number"
    if step == "bank-account-number":
        return None if account_number_ok(value) else "invalid-bank-account-number"
    raise KeyError(step)


def masked_keys(step: str, value: str) -> str:
    """The caller's keypresses at a <Pay> step as a transcript may show them."""
    if step == "payment-card-number":
        return mask_card(value)
    if step == "security-code":
        return "*" * len(value)
    if step == "bank-account-number":
        return mask_account(value)
    return value


@dataclass
class PayEnvironment:
    """What a <Pay> session needs from the call around it."""

    call_params: dict[str, str]
    post_status: Callable[[str, str, dict[str, str]], dict[str, Any]]
    connector_for: Callable[[str], ConnectorEndpoint | None]
    send_connector: Callable[[ConnectorEndpoint, bytes, dict[str, str], float], Reply]
    report: Callable[[str], None]
    connector_timeout: float = CONNECTOR_TIMEOUT
    connector_retries: int = CONNECTOR_RETRIES
    new_transaction_id: Callable[[], str] = lambda: str(uuid.uuid4())
    #: told each card or account number the caller keys in, so that it is masked from then on
    keyed: Callable[[str, str], None] = lambda step, value: None


@dataclass
class PayOutcome:
    """How a session ended: the action callback to post, and whether the caller is still there."""

    payment: Payment
    callback: dict[str, str]
    hung_up: bool


class PaySession:
    """Runs one <Pay> for one caller."""

    def __init__(self, spec: PaySpec, caller: Caller, env: PayEnvironment) -> None:
        self.spec = spec
        self.caller = caller
        self.env = env
        self.collected = Collected()
        self.payment = Payment(pay=spec.describe(), action_url=spec.action)
        self.said: list[str] = []
        self.pressed: list[str] = []

    def run(self) -> PayOutcome:
        spec = self.spec
        kind = "ACH" if spec.ach else "card"
        what = spec.method
        if spec.method == "charge":
            what += f" {spec.charge_amount} {spec.currency.upper()}"
        self.env.report(f"<Pay> {what} ({kind}) via connector {spec.payment_connector!r}")
        for step in spec.steps():
            ended = self._collect(step)
            if ended is not None:
                return self._finish(*ended)
        if spec.postal_code not in ("true", "false"):
            self.collected.postal_code = spec.postal_code
        self._status("payment-processing", 1, None)
        said = self.spec.said_for("payment-processing", 1, None, self.collected.kind)
        self.said.append(said)
        self.env.report(f"  [payment-processing] said: {said}")
        return self._finish(*self._call_connector())

    def _collect(self, step: str) -> tuple[str, dict[str, str]] | None:
        """Ask for one step up to maxAttempts times; a result when the session ends here."""
        value = self.caller.input_for(step)
        error: str | None = None
        for attempt in range(1, self.spec.max_attempts + 1):
            said = self.spec.said_for(step, attempt, error, self.collected.kind)
            self.said.append(said)
            self._status(step, attempt, error)
            record: dict[str, Any] = {"for": step, "attempt": attempt, "said": said}
            self.payment.prompts.append(record)
            if self.caller.star_at == step:
                record["pressed"] = "*"
                self.pressed.append("*")
                self.env.report(f"  [{step} #{attempt}] said: {said} | pressed: *")
                return "caller-interrupted-with-star", {}
            if self.caller.hangup_at == step:
                record["pressed"] = None
                self.env.report(f"  [{step} #{attempt}] said: {said} | caller hung up")
                return "caller-hung-up", {}
            if value and step in ("payment-card-number", "bank-account-number"):
                self.env.keyed(step, value)
            keys = masked_keys(step, value) + "#" if value else ""
            record["pressed"] = keys
            self.pressed.append(keys)
            error = validate(self.spec, step, value, self.collected)
            record["error"] = error
            outcome = f" -> {error}" if error else ""
            self.env.report(
                f"  [{step} #{attempt}] said: {said} | pressed: {keys or '(nothing)'}{outcome}"
            )
            if error is None:
                self._confirm_matching(step, value, record)
                self.collected.store(step, value)
                return None
        final = STEP_ERROR[step] if error == "input-timeout" else error
        return "too-many-failed-attempts", {"PaymentError": final or STEP_ERROR[step]}

    def _confirm_matching(self, step: str, value: str, record: dict[str, Any]) -> None:
        """<Prompt requireMatchingInputs>: the caller types the value again (the same one)."""
        for prompt in self.spec.prompts:
            if prompt.step == step and prompt.require_matching:
                keys = masked_keys(step, value) + "#"
                self.said.append(prompt.said)
                self.pressed.append(keys)
                record["confirmed"] = {"said": prompt.said, "pressed": keys}
                self.env.report(f"  [{step} again] said: {prompt.said} | pressed: {keys}")
                return

    def _masked_fields(self) -> dict[str, str]:
        c = self.collected
        fields = {"PaymentMethod": self.spec.payment_method}
        if self.spec.ach:
            fields["BankAccountType"] = self.spec.bank_account_type
            if c.routing_number:
                fields["BankRoutingNumber"] = c.routing_number
            if c.bank_account:
                fields["BankAccountNumber"] = mask_account(c.bank_account)
            return fields
        if c.card:
            fields["PaymentCardNumber"] = mask_card(c.card)
            if c.kind:
                fields["PaymentCardType"] = c.kind
        if c.expiry:
            fields["ExpirationDate"] = c.expiry
        if c.cvv:
            fields["SecurityCode"] = "xxx"
        if c.postal_code:
            fields["PaymentCardPostalCode"] = c.postal_code
        return fields

    def _status(self, step: str, attempt: int, error: str | None) -> None:
        if not self.spec.status_callback:
            return
        params = {
            "AccountSid": self.env.call_params["AccountSid"],
            "CallSid": self.env.call_params["CallSid"],
            "For": step,
            "Attempt": str(attempt),
        }
        if error:
            params["ErrorType"] = error
        params.update(self._masked_fields())
        record = self.env.post_status(
            self.spec.status_callback_method, self.spec.status_callback, params
        )
        self.payment.status_callbacks.append({"sent": params, **record})

    def connector_request(self) -> dict[str, Any]:
        """The JSON body of the Generic Pay Connector request (unmasked: for the wire only)."""
        spec, c = self.spec, self.collected
        body: dict[str, Any] = {
            "method": spec.method,
            "transaction_id": self.env.new_transaction_id(),
        }
        if spec.ach:
            body["bankaccountnumber"] = c.bank_account
            body["routingnumber"] = c.routing_number
        else:
            body["cardnumber"] = c.card
            if c.cvv is not None:
                body["cvv"] = c.cvv
            if c.expiry:
                body["expiry_month"], body["expiry_year"] = c.expiry[:2], c.expiry[2:]
            if c.postal_code:
                body["postal_code"] = c.postal_code
        if spec.method == "charge":
            body["amount"] = spec.charge_amount
            body["currency_code"] = spec.currency.upper()
        if spec.description is not None:
            body["description"] = spec.description
        body["parameters"] = dict(spec.parameters)
        return body

    def _call_connector(self) -> tuple[str, dict[str, str]]:
        """Send the request, retrying on timeouts and refusals; map the answer to a Result."""
        spec, env = self.spec, self.env
        method = spec.method
        endpoint = env.connector_for(spec.payment_connector)
        self.payment.connector = spec.payment_connector
        if endpoint is None:
            env.report(f"  no pay connector is installed as {spec.payment_connector!r} (64004)")
            return "payment-connector-error", {
                "PaymentError": f"paymentConnector {spec.payment_connector!r} is not installed",
                "PayErrorCode": "64004",
            }
        body = self.connector_request()
        self.payment.connector_url = endpoint.url
        self.payment.connector_request = mask_connector_request(body)
        payload = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Authorization": endpoint.authorization()}
        malformed = {
            "PaymentError": MALFORMED.format(what="charge" if method == "charge" else "token"),
            "PayErrorCode": PAY_ERROR_CODE[method],
        }
        reply = None
        for attempt in range(1, env.connector_retries + 2):
            self.payment.connector_attempts = attempt
            try:
                reply = env.send_connector(endpoint, payload, headers, env.connector_timeout)
            except DeliveryFailed as exc:
                env.report(f"  connector try {attempt}: {exc}")
                continue
            env.report(f"  connector try {attempt}: {reply.status} in {reply.seconds:.3f} s")
            break
        if reply is None:
            self.payment.connector_response = {"error": "no answer after every try"}
            return "payment-connector-error", malformed
        answer = parse_connector_answer(reply, method)
        self.payment.connector_response = answer.record
        if answer.problem:
            env.report(f"  connector answer is not the contract's: {answer.problem}")
            return "payment-connector-error", malformed
        extra = {f"PayConnector_{k}": v for k, v in answer.parameters.items()}
        if answer.error_code is not None:
            fields = {"ConnectorError": answer.error_code, "PayErrorCode": PAY_ERROR_CODE[method]}
            if answer.error_message:
                fields["PaymentError"] = answer.error_message
            return "payment-connector-error", fields | extra
        key = "PaymentConfirmationCode" if method == "charge" else "PaymentToken"
        return "success", {key: answer.id or ""} | extra

    def _finish(self, result: str, fields: dict[str, str]) -> PayOutcome:
        callback = dict(self.env.call_params)
        if result == "caller-hung-up":
            callback["CallStatus"] = "completed"
        callback["Result"] = result
        callback.update(self._masked_fields())
        callback.update({k: v for k, v in fields.items() if v not in (None, "")})
        self.payment.callback = callback
        return PayOutcome(self.payment, callback, hung_up=result == "caller-hung-up")


def mask_connector_request(body: dict[str, Any]) -> dict[str, Any]:
    """The connector request as a transcript may show it."""
    masked = dict(body)
    if masked.get("cardnumber"):
        masked["cardnumber"] = mask_card(masked["cardnumber"])
    if "cvv" in masked:
        masked["cvv"] = "***"
    if masked.get("bankaccountnumber"):
        masked["bankaccountnumber"] = mask_account(masked["bankaccountnumber"])
    if isinstance(masked.get("description"), str):
        masked["description"] = mask_card_shaped(masked["description"])
    masked["parameters"] = {
        k: mask_card_shaped(v) if isinstance(v, str) else v
        for k, v in (masked.get("parameters") or {}).items()
    }
    return masked


@dataclass
class ConnectorAnswer:
    """A connector's answer, read as Twilio reads it."""

    record: dict[str, Any]
    problem: str | None = None
    id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parse_connector_answer(reply: Reply, method: str) -> ConnectorAnswer:
    """Check a connector's answer against the contract: 200, a JSON object, id key and error_code.

    Interpretation: the reference does not say how Twilio treats a non-200 status; the
    emulator treats it, like a body that is not the contract's JSON, as a malformed answer.
    """
    id_key = "charge_id" if method == "charge" else "token_id"
    record: dict[str, Any] = {"status": reply.status, "seconds": round(reply.seconds, 3)}
    try:
        data = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        record["body"] = mask_card_shaped(reply.text(300))
        return ConnectorAnswer(record, problem=f"HTTP {reply.status}, body is not JSON")
    record["json"] = data
    if reply.status != 200:
        return ConnectorAnswer(record, problem=f"HTTP {reply.status} (the contract answers 200)")
    if not isinstance(data, dict):
        return ConnectorAnswer(record, problem="the JSON is not an object")
    missing = [key for key in (id_key, "error_code") if key not in data]
    if missing:
        return ConnectorAnswer(record, problem=f"no {' or '.join(missing)} key")
    answer = ConnectorAnswer(record)
    params = data.get("parameters")
    if isinstance(params, dict):
        answer.parameters = {str(k): _text(v) for k, v in params.items()}
    if data["error_code"] is not None:
        answer.error_code = _text(data["error_code"])
        message = data.get("error_message")
        answer.error_message = _text(message) if message is not None else None
        return answer
    ident = data[id_key]
    if isinstance(ident, bool) or not isinstance(ident, str | int) or ident == "":
        answer.problem = f"{id_key} is {ident!r} and error_code is null"
        return answer
    answer.id = str(ident)
    return answer
