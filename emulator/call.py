"""Plays one phone call against an app the way Twilio would, and writes down what happened.

The runner fetches TwiML from the voice URL, plays its verbs in order, follows <Gather>,
<Redirect> and <Pay> to the next document, and stops at <Hangup>, at the end of a document,
or when the caller hangs up. Everything it sends is signed for the URL the TwiML named.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin

from emulator.caller import Caller
from emulator.cards import mask_account, mask_card, mask_card_shaped
from emulator.errors import DeliveryFailed, EmulatorError, ProtocolError
from emulator.pay import (
    CONNECTOR_RETRIES,
    CONNECTOR_TIMEOUT,
    ConnectorEndpoint,
    PayEnvironment,
    PaySession,
    PaySpec,
)
from emulator.transcript import IDENTIFIER_FIELDS, Step, Transcript
from emulator.transport import (
    TWILIO_USER_AGENT,
    WEBHOOK_TIMEOUT,
    Reply,
    Transport,
    delivery_url,
    sign,
    signing_url,
    with_query,
)
from emulator.twiml import Node, parse_twiml, render

#: Used when the app has no TWILIO_ACCOUNT_SID configured.
FAKE_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_FROM = "+14155550100"
DEFAULT_TO = "+14155550199"
MAX_STEPS = 100


@dataclass
class CallConfig:
    """Twilio's side of the call: account, numbers, where the app lives, the connectors.

    ``connectors`` maps a paymentConnector name to its endpoint; every other name goes to
    ``default_connector``, or, when that is None, to the app's own ``/connector`` with
    ``connector_username``/``connector_password`` — unless ``installed_only`` is set: then a
    name that is not in ``connectors`` is a connector Twilio does not know (error 64004).
    """

    auth_token: str = field(repr=False)
    account_sid: str = FAKE_ACCOUNT_SID
    from_number: str = DEFAULT_FROM
    to_number: str = DEFAULT_TO
    path: str = "/voice/incoming"
    public_base_url: str | None = None
    connector_username: str = ""
    connector_password: str = field(default="", repr=False)
    connectors: dict[str, ConnectorEndpoint] = field(default_factory=dict)
    default_connector: ConnectorEndpoint | None = None
    installed_only: bool = False
    connector_timeout: float = CONNECTOR_TIMEOUT
    connector_retries: int = CONNECTOR_RETRIES
    webhook_timeout: float = WEBHOOK_TIMEOUT
    max_steps: int = MAX_STEPS
    call_sid: str | None = None


@dataclass
class _Request:
    method: str
    url: str
    params: dict[str, str]
    execute: bool = True


def run_call(
    transport: Transport,
    config: CallConfig,
    caller: Caller | None = None,
    on_line: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Transcript:
    """Play one inbound call to its end and return the transcript.

    Raises ProtocolError when the app does what Twilio would refuse (its ``transcript``
    attribute holds the call so far), Unsupported for TwiML this emulator does not play,
    and DeliveryFailed when the app cannot be reached.
    """
    return _CallRunner(transport, config, caller or Caller(), on_line, on_warning).run()


class _CallRunner:
    def __init__(
        self,
        transport: Transport,
        config: CallConfig,
        caller: Caller,
        on_line: Callable[[str], None] | None,
        on_warning: Callable[[str], None] | None,
    ) -> None:
        self.transport = transport
        self.config = config
        self.caller = caller
        self._on_line = on_line
        self._on_warning = on_warning
        self.digits = deque(caller.digits)
        #: card and account numbers the caller has keyed in so far, with their masked form
        self.secrets: dict[str, str] = {}
        self.card_numbers: set[str] = set()
        self.transcript = Transcript(scrub=self.scrub)
        self.call_params = {
            "AccountSid": config.account_sid,
            "CallSid": config.call_sid or "CA" + uuid.uuid4().hex,
            "From": config.from_number,
            "To": config.to_number,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    # -- reporting ------------------------------------------------------------------------

    def keyed(self, step: str, value: str) -> None:
        """The caller keyed a card or account number: mask it from now on."""
        if step == "payment-card-number":
            self.secrets[value] = mask_card(value)
            self.card_numbers.add(value)
        else:
            self.secrets[value] = mask_account(value)

    def contains_secret(self, text: str) -> bool:
        """Whether text holds a keyed card or account number, or anything card-shaped."""
        if mask_card_shaped(text) != text:
            return True
        return any(_whole_run(secret).search(text) for secret in self.secrets)

    def scrub(self, text: str, *, identifier: bool = False) -> str:
        """Mask what is card- or account-shaped, so that nothing else is corrupted.

        Free text: the caller's keyed card and account numbers where they stand as a whole
        run of digits (not inside a longer one), and any other card-shaped run (13-19 digits
        passing Luhn). An ``identifier`` (a charge id, a token, a confirmation code) is the
        connector's own: masked only if it is the caller's card number itself.
        """
        if identifier:
            return mask_card(text) if text in self.card_numbers else text
        for secret, masked in self.secrets.items():
            text = _whole_run(secret).sub(masked, text)
        return mask_card_shaped(text)

    def line(self, text: str, *, scrubbed: bool = False) -> None:
        if self._on_line is not None:
            self._on_line(text if scrubbed else self.scrub(text))

    def warn(self, text: str) -> None:
        text = self.scrub(text)
        self.transcript.warnings.append(text)
        if self._on_warning is not None:
            self._on_warning(text)

    def twilio_warning(self, code: str, message: str) -> None:
        """What Twilio warns about (its debugger's code) and plays past."""
        message = self.scrub(message)
        self.transcript.twilio_warnings.append({"code": code, "message": message})
        self.warn(f"Twilio warning {code}: {message}")

    # -- the call -----------------------------------------------------------------------------

    def run(self) -> Transcript:
        base = (self.config.public_base_url or self.transport.base_url).rstrip("/")
        request: _Request | None = _Request("POST", base + self.config.path, {})
        try:
            while request is not None:
                if len(self.transcript.steps) >= self.config.max_steps:
                    raise ProtocolError(
                        f"more than {self.config.max_steps} TwiML documents in one call: "
                        "the app loops (a <Pay> without action, a <Redirect> to itself?)"
                    )
                request = self._step(request)
        except EmulatorError as exc:
            self.transcript.ended = "error"
            self.transcript.error = self.scrub(str(exc))
            exc.args = (self.transcript.error,)
            exc.transcript = self.transcript.to_dict()
            raise
        if self.digits:
            # A warning, not an unused option: a caller may well press more than is asked.
            self.warn(f"{len(self.digits)} key entr(ies) for <Gather> were never asked for")
        self.line(f"call ended: {self.transcript.ended}")
        return self.transcript

    def _step(self, request: _Request) -> _Request | None:
        number = len(self.transcript.steps) + 1
        params = self.call_params | request.params
        step = Step(url=request.url, method=request.method, sent=params)
        self.transcript.steps.append(step)
        shown = {k: v for k, v in request.params.items() if k not in self.call_params}
        self.line(f"step {number}: {request.method} {request.url}")
        if shown:
            self.line("  sent: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        reply = self._webhook(request.method, request.url, params, step)
        step.received = {
            "status": reply.status,
            "content_type": reply.content_type,
            "bytes": len(reply.body),
            "seconds": round(reply.seconds, 3),
        }
        step.twiml = reply.text()
        if self.contains_secret(step.twiml):
            self.warn(
                f"step {number}: the app's answer contains a full card number or the caller's "
                "account number"
            )
        self.line(f"  received: {reply.status} {reply.content_type or '(no content type)'}")
        where = f"step {number} ({request.url})"
        if not request.execute:
            try:
                parse_twiml(reply.body, where)
            except EmulatorError as exc:  # Twilio never reads it: the caller is gone
                self.warn(f"{exc} (ignored: the caller has hung up)")
            step.executed = False
            step.next = "caller-hung-up"
            self.transcript.ended = "caller-hung-up"
            self.line("  (not played: the caller has hung up)")
            return None
        for verb in parse_twiml(reply.body, where, self.twilio_warning):
            step.verbs.append(verb.tag)
            following = self._play(verb, step, request.url, where)
            if following is not None:
                return following
            if self.transcript.ended is not None:
                return None
        step.next = "end-of-document"
        self.transcript.ended = "end-of-document"
        return None

    def _webhook(self, method: str, url: str, params: dict[str, str], step: Step) -> Reply:
        """Sign and deliver a webhook; a non-2xx answer is a protocol break."""
        method = method.upper()
        if method == "GET":
            named, form, signed = with_query(url, params), None, {}
        else:
            named, form, signed = url, params, params
        target = delivery_url(named, self.transport.base_url)
        if target != named:
            step.delivered_to = target
        headers = {
            "X-Twilio-Signature": sign(self.config.auth_token, named, signed),
            "User-Agent": TWILIO_USER_AGENT,
        }
        try:
            reply = self.transport.send(method, target, form, headers, self.config.webhook_timeout)
        except DeliveryFailed as exc:
            if exc.timed_out:
                raise ProtocolError(f"{url}: {exc} (Twilio error 11205)") from None
            raise
        if reply.status == 403:
            raise ProtocolError(
                f"{url} answered 403: signature refused? The request was signed for "
                f"{signing_url(named)} with the configured auth token"
            )
        if not 200 <= reply.status < 300:
            kind = "a redirect (not followed)" if 300 <= reply.status < 400 else "an error"
            raise ProtocolError(
                f"{url} answered HTTP {reply.status}, {kind} (Twilio error 11200): "
                f"{reply.text(200)!r}"
            )
        content_type = reply.content_type.split(";")[0].strip().lower()
        if content_type not in ("text/xml", "application/xml"):
            self.warn(f"{url}: Content-Type is {content_type or 'missing'}, TwiML is text/xml")
        return reply

    def _play(self, verb: Node, step: Step, url: str, where: str) -> _Request | None:
        handler = getattr(self, f"_play_{verb.tag.lower()}")
        return handler(verb, step, url, where)

    def _play_say(self, verb: Node, step: Step, url: str, where: str) -> None:
        said = render(verb)
        step.said.append(said)
        self.line(f"  said: {said}")

    _play_play = _play_pause = _play_say

    def _play_hangup(self, verb: Node, step: Step, url: str, where: str) -> None:
        step.next = self.transcript.ended = "hangup"
        self.line("  <Hangup>")

    def _play_reject(self, verb: Node, step: Step, url: str, where: str) -> None:
        step.next = self.transcript.ended = "rejected"
        self.line("  <Reject>")

    def _play_redirect(self, verb: Node, step: Step, url: str, where: str) -> _Request:
        target = urljoin(url, verb.text)
        step.next = f"redirect -> {target}"
        return _Request(verb.attrs.get("method", "POST"), target, {})

    def _play_dial(self, verb: Node, step: Step, url: str, where: str) -> _Request | None:
        """Reported, not connected: the dialled party never answers (interpretation)."""
        targets = [verb.text] if verb.text else []
        targets += [f"{child.tag}:{child.spoken}" for child in verb.children]
        dialed = ", ".join(targets)
        step.dialed.append(dialed)
        self.line(f"  <Dial> {dialed} (not connected: no-answer)")
        if "action" not in verb.attrs:
            return None
        target = urljoin(url, verb.attrs["action"])
        step.next = f"dial -> {target}"
        extra = {"DialCallStatus": "no-answer", "DialCallDuration": "0"}
        return _Request(verb.attrs.get("method", "POST"), target, extra)

    def _play_gather(self, verb: Node, step: Step, url: str, where: str) -> _Request | None:
        for child in verb.children:
            self._play_say(child, step, url, where)
        inputs = verb.attrs.get("input", "dtmf").split()
        entry = self.digits.popleft() if self.digits and "dtmf" in inputs else ""
        digits = gathered_digits(
            entry, verb.attrs.get("finishOnKey", "#"), verb.attrs.get("numDigits")
        )
        target = urljoin(url, verb.attrs.get("action", url))
        method = verb.attrs.get("method", "POST")
        if entry:
            step.pressed.append(entry)
        if digits:
            self.line(f"  <Gather> pressed: {entry} -> Digits={digits}")
            step.next = f"gather -> {target}"
            return _Request(method, target, {"Digits": digits})
        if verb.attrs.get("actionOnEmptyResult", "false").lower() == "true":
            self.line("  <Gather> pressed nothing -> action (actionOnEmptyResult)")
            step.next = f"gather -> {target}"
            return _Request(method, target, {"Digits": ""})
        self.line("  <Gather> pressed nothing -> next verb")
        return None

    def _play_pay(self, verb: Node, step: Step, url: str, where: str) -> _Request:
        spec = PaySpec.from_node(verb, url, where)
        if not spec.action_given:
            self.warn(
                f"{where}: <Pay> has no action, so Twilio posts the result back to the "
                f"current document URL ({url}); if that answers <Pay> again the call loops"
            )
        env = PayEnvironment(
            call_params=self.call_params,
            post_status=self._post_status,
            connector_for=self._connector_for,
            send_connector=self._send_connector,
            report=self.line,
            connector_timeout=self.config.connector_timeout,
            connector_retries=self.config.connector_retries,
            keyed=self.keyed,
        )
        session = PaySession(spec, self.caller, env)
        outcome = session.run()
        # The caller presses * once: a <Pay> the app offers again afterwards goes on normally.
        if any(prompt["for"] == self.caller.star_at for prompt in outcome.payment.prompts):
            self.caller = replace(self.caller, star_at=None)
        step.said.extend(session.said)
        step.pressed.extend(session.pressed)
        self.transcript.payments.append(outcome.payment)
        summary = ", ".join(
            f"{k}={self.scrub(v, identifier=k in IDENTIFIER_FIELDS)}"
            for k, v in outcome.callback.items()
            if k not in self.call_params
        )
        self.line(f"  action callback -> {self.scrub(spec.action)}: {summary}", scrubbed=True)
        step.next = f"pay -> {spec.action}"
        return _Request("POST", spec.action, outcome.callback, execute=not outcome.hung_up)

    # -- what a <Pay> session calls back into ---------------------------------------------------

    def _post_status(self, method: str, url: str, params: dict[str, str]) -> dict[str, Any]:
        """A statusCallback: signed, delivered; a failure is reported, the call goes on."""
        named, form, signed = (
            (with_query(url, params), None, {}) if method == "GET" else (url, params, params)
        )
        headers = {
            "X-Twilio-Signature": sign(self.config.auth_token, named, signed),
            "User-Agent": TWILIO_USER_AGENT,
        }
        target = delivery_url(named, self.transport.base_url)
        try:
            reply = self.transport.send(method, target, form, headers, self.config.webhook_timeout)
        except DeliveryFailed as exc:
            self.warn(f"statusCallback {url}: {exc}")
            return {"url": url, "error": str(exc)}
        if not 200 <= reply.status < 300:
            self.warn(f"statusCallback {url} For={params.get('For')} answered HTTP {reply.status}")
        return {"url": url, "status": reply.status}

    def _connector_for(self, name: str) -> ConnectorEndpoint | None:
        if name in self.config.connectors:
            return self.config.connectors[name]
        if self.config.default_connector is not None:
            return self.config.default_connector
        if self.config.installed_only:
            return None
        return ConnectorEndpoint(
            url=self.transport.base_url.rstrip("/") + "/connector",
            username=self.config.connector_username,
            password=self.config.connector_password,
        )

    def _send_connector(
        self, endpoint: ConnectorEndpoint, payload: bytes, headers: dict[str, str], timeout: float
    ) -> Reply:
        return self.transport.send("POST", endpoint.url, payload, headers, timeout)


def _whole_run(digits: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9]){re.escape(digits)}(?![0-9])")


def gathered_digits(entry: str, finish_on_key: str, num_digits: str | None) -> str:
    """The ``Digits`` Twilio reports for keys typed at a <Gather>.

    Input ends at finishOnKey (not reported) or once numDigits keys are in.
    """
    digits = ""
    limit = int(num_digits) if num_digits else None
    for key in entry:
        if finish_on_key and key == finish_on_key:
            break
        digits += key
        if limit is not None and len(digits) >= limit:
            break
    return digits


#: Caller options and the <Pay> step where each one is keyed in.
OPTION_STEPS = {
    "card": "payment-card-number",
    "expiry": "expiration-date",
    "cvv": "security-code",
    "postal_code": "postal-code",
    "routing_number": "bank-routing-number",
    "bank_account": "bank-account-number",
}


def options_not_played(transcript: Transcript, caller: Caller, given: Iterable[str]) -> list[str]:
    """The caller options in ``given`` (Caller field names) that never came into play.

    A keyed value is in play once its <Pay> step asked for it; ``star_at`` once * ended a
    <Pay> at that step; ``hangup_at`` once the caller hung up there. A call whose menus
    were never answered (no ``digits``) often never reaches <Pay> at all: that is what
    this tells.
    """
    asked: set[str] = set()
    ended_at: dict[str, str] = {}
    for payment in transcript.payments:
        asked.update(prompt["for"] for prompt in payment.prompts)
        result = (payment.callback or {}).get("Result")
        if payment.prompts and result in ("caller-interrupted-with-star", "caller-hung-up"):
            ended_at.setdefault(result, payment.prompts[-1]["for"])
    where = (
        f"the call had {len(transcript.payments)} <Pay>, which asked for "
        f"{', '.join(sorted(asked)) or 'nothing'}"
        if transcript.payments
        else "no <Pay> ran (the menus come first: give the keys that reach it with --digits)"
    )
    unused = []
    for name in given:
        flag = "--" + name.replace("_", "-")
        if name in OPTION_STEPS and OPTION_STEPS[name] not in asked:
            unused.append(f"{flag} never came into play: {where}")
        elif name == "star_at" and ended_at.get("caller-interrupted-with-star") != caller.star_at:
            unused.append(f"{flag} {caller.star_at} never came into play: {where}")
        elif name == "hangup_at" and ended_at.get("caller-hung-up") != caller.hangup_at:
            unused.append(f"{flag} {caller.hangup_at} never came into play: {where}")
    return unused
