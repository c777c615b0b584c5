"""TwiML as Twilio reads it: parse a webhook answer and refuse what Twilio would refuse.

The attribute tables follow reference/twilio-pay-facts.md for <Pay>, <Prompt> and
<Parameter>, and Twilio's usual attribute sets for the other voice verbs. An element or
attribute outside these tables is refused, as are enumerated values outside their lists.
Valid Twilio verbs this emulator does not play (<Record>, <Connect>, ...) raise Unsupported.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from emulator.cards import CARD_TYPE_NAMES
from emulator.errors import ProtocolError, TwimlRefused, Unsupported

#: Twilio refuses a TwiML answer over 64 kB (error 11750).
MAX_TWIML_BYTES = 64 * 1024

PAY_STEPS = (
    "payment-card-number",
    "expiration-date",
    "security-code",
    "postal-code",
    "bank-routing-number",
    "bank-account-number",
)
PROMPT_FOR = (*PAY_STEPS, "payment-processing")
PROMPT_ERROR_TYPES = (
    "timeout",
    "invalid-card-number",
    "invalid-card-type",
    "invalid-date",
    "invalid-security-code",
    "invalid-postal-code",
    "invalid-bank-routing-number",
    "invalid-bank-account-number",
    "input-matching-failed",
)
CARD_LANGUAGES = "en-au en-ca en-gb en-in en-us es-es es-mx fr-ca fr-fr de-de it-it".split()
ACH_LANGUAGES = ("en-au", "en-ca", "en-gb", "en-in", "en-us")
MAX_CHARGE_AMOUNT = Decimal("1000000")

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_POSITIVE_INT = re.compile(r"[1-9][0-9]*\Z")
_NON_NEGATIVE_INT = re.compile(r"[0-9]+\Z")

Check = Callable[[str], str | None]


def _one_of(*allowed: str, case: bool = False) -> Check:
    def check(value: str) -> str | None:
        probe = value if case else value.lower()
        if probe in allowed:
            return None
        return f"must be one of {', '.join(allowed)}"

    return check


def _words_of(allowed: tuple[str, ...]) -> Check:
    def check(value: str) -> str | None:
        words = value.split()
        if not words:
            return "must not be empty"
        unknown = [w for w in words if w not in allowed]
        if unknown:
            return f"unknown value(s) {', '.join(unknown)}; allowed: {' '.join(allowed)}"
        return None

    return check


def _positive_int(value: str) -> str | None:
    return None if _POSITIVE_INT.match(value) else "must be a positive integer"


def _non_negative_int(value: str) -> str | None:
    return None if _NON_NEGATIVE_INT.match(value) else "must be a non-negative integer"


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _charge_amount(value: str) -> str | None:
    """A plain non-negative decimal, at most 2 decimals, at most 1,000,000 (errors 64003/64020)."""
    if not _PLAIN_DECIMAL.match(value):
        return "must be a plain non-negative decimal such as 10.00 (no sign, symbol or exponent)"
    if "." in value and len(value.split(".", 1)[1]) > 2:
        return "has more than 2 decimals (Twilio error 64003)"
    if Decimal(value) > MAX_CHARGE_AMOUNT:
        return "is over the maximum of 1,000,000"
    return None


def _attempts(value: str) -> str | None:
    words = value.split()
    if not words or not all(_POSITIVE_INT.match(w) and int(w) <= 10 for w in words):
        return "must be integers 1 to 10, space-separated"
    return None


_TRUE_FALSE = _one_of("true", "false")
_METHOD = _one_of("GET", "POST", case=True)
_DTMF_KEYS = _one_of("", *"0123456789#*", case=True)

PAY_ATTRIBUTES: dict[str, Check | None] = {
    "input": _one_of("dtmf"),
    "action": _non_empty,
    "statusCallback": _non_empty,
    # Not in the <Pay> doc table, but twilio-python writes it; accepted (UNVERIFIED).
    "statusCallbackMethod": _METHOD,
    "paymentMethod": _one_of("credit-card", "ach-debit", case=True),
    "bankAccountType": _one_of(
        "consumer-checking", "consumer-savings", "commercial-checking", case=True
    ),
    "timeout": _positive_int,
    "maxAttempts": _one_of("1", "2", "3", case=True),
    "securityCode": _TRUE_FALSE,
    "postalCode": _non_empty,
    "minPostalCodeLength": _positive_int,
    "paymentConnector": _non_empty,
    "tokenType": _one_of("one-time", "reusable", "payment-method", case=True),
    "chargeAmount": _charge_amount,
    "currency": _non_empty,
    "language": _one_of(*CARD_LANGUAGES),
    "description": None,
    "validCardTypes": _words_of(CARD_TYPE_NAMES),
}
PROMPT_ATTRIBUTES: dict[str, Check | None] = {
    "for": _one_of(*PROMPT_FOR, case=True),
    "cardType": _words_of(CARD_TYPE_NAMES),
    "attempt": _attempts,
    "requireMatchingInputs": _TRUE_FALSE,
    "errorType": _words_of(PROMPT_ERROR_TYPES),
}
GATHER_ATTRIBUTES: dict[str, Check | None] = {
    "input": _words_of(("dtmf", "speech")),
    "action": _non_empty,
    "method": _METHOD,
    "timeout": _positive_int,
    "speechTimeout": None,
    "maxSpeechTime": _positive_int,
    "profanityFilter": _TRUE_FALSE,
    "finishOnKey": _DTMF_KEYS,
    "numDigits": _positive_int,
    "partialResultCallback": None,
    "partialResultCallbackMethod": _METHOD,
    "language": None,
    "hints": None,
    "bargeIn": _TRUE_FALSE,
    "debug": _TRUE_FALSE,
    "actionOnEmptyResult": _TRUE_FALSE,
    "speechModel": None,
    "enhanced": _TRUE_FALSE,
}
DIAL_ATTRIBUTES: dict[str, Check | None] = {
    name: None
    for name in (
        "action answerOnBridge callerId events hangupOnStar record recordingStatusCallback "
        "recordingStatusCallbackEvent recordingStatusCallbackMethod recordingTrack referMethod "
        "referUrl ringTone sequential timeLimit timeout trim"
    ).split()
} | {"method": _METHOD, "timeout": _positive_int, "timeLimit": _positive_int}

SSML_TAGS = frozenset(
    "break emphasis lang p phoneme prosody s say-as sub w amazon:domain amazon:effect".split()
)
DIAL_NOUNS = frozenset("Number Client Sip Conference Queue Sim Application WhatsApp".split())
PROMPT_CHILDREN = frozenset({"Say", "Play", "Pause"})


@dataclass(frozen=True)
class Element:
    """How Twilio checks one element: its attributes and the children it may hold."""

    attributes: dict[str, Check | None]
    children: frozenset[str] = frozenset()
    text: bool = False


ELEMENTS: dict[str, Element] = {
    "Say": Element({"voice": None, "language": None, "loop": _non_negative_int}, SSML_TAGS, True),
    "Play": Element({"loop": _non_negative_int, "digits": None}, text=True),
    "Pause": Element({"length": _non_negative_int}),
    "Gather": Element(GATHER_ATTRIBUTES, PROMPT_CHILDREN),
    "Redirect": Element({"method": _METHOD}, text=True),
    "Hangup": Element({}),
    "Reject": Element({"reason": _one_of("rejected", "busy")}),
    "Dial": Element(DIAL_ATTRIBUTES, DIAL_NOUNS, True),
    "Pay": Element(PAY_ATTRIBUTES, frozenset({"Prompt", "Parameter"})),
    "Prompt": Element(PROMPT_ATTRIBUTES, PROMPT_CHILDREN),
    "Parameter": Element({"name": _non_empty, "value": None}),
}
VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Dial", "Pay"})
#: Valid Twilio voice verbs this emulator does not play.
UNSUPPORTED_VERBS = frozenset(
    {"Record", "Enqueue", "Leave", "Connect", "Start", "Stop", "Refer", "Sms", "Echo", "Queue"}
)


@dataclass
class Node:
    """One TwiML element: tag, attributes as written, direct text, children."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Node] = field(default_factory=list)
    spoken: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_twiml(body: bytes, where: str) -> list[Node]:
    """The verbs of a TwiML document; ProtocolError/TwimlRefused/Unsupported as Twilio would."""
    if len(body) > MAX_TWIML_BYTES:
        raise ProtocolError(f"{where}: TwiML answer is {len(body)} bytes, over 64 kB (11750)")
    if not body.strip():
        raise ProtocolError(f"{where}: empty answer where TwiML was expected (12100)")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ProtocolError(f"{where}: answer is not XML ({exc}) (12100)") from None
    if _local(root.tag) != "Response":
        raise ProtocolError(
            f"{where}: root element is <{_local(root.tag)}>, Twilio expects <Response> (12100)"
        )
    verbs = []
    for child in root:
        tag = _local(child.tag)
        if tag in UNSUPPORTED_VERBS:
            raise Unsupported(f"{where}: <{tag}> is valid TwiML that this emulator does not play")
        if tag not in VERBS:
            hint = " (it belongs inside <Pay>)" if tag in ("Prompt", "Parameter") else ""
            raise TwimlRefused(f"{where}: unknown verb <{tag}> in <Response>{hint}")
        verbs.append(_node(child, where))
    return verbs


def _node(element: ET.Element, where: str) -> Node:
    tag = _local(element.tag)
    spec = ELEMENTS.get(tag)
    text = (element.text or "").strip()
    node = Node(tag=tag, attrs=dict(element.attrib), text=text)
    if spec is None:  # SSML inside <Say>, nouns inside <Dial>: not checked further
        node.spoken = " ".join("".join(element.itertext()).split())
        return node
    for name, value in element.attrib.items():
        if name not in spec.attributes:
            allowed = ", ".join(sorted(spec.attributes)) or "none"
            raise TwimlRefused(
                f"{where}: <{tag}> has unknown attribute {name!r} (allowed: {allowed})"
            )
        check = spec.attributes[name]
        problem = check(value) if check is not None else None
        if problem:
            raise TwimlRefused(f'{where}: <{tag} {name}="{value}">: {name} {problem}')
    if text and not spec.text:
        raise TwimlRefused(f"{where}: <{tag}> does not take text content ({text[:40]!r})")
    for child in element:
        child_tag = _local(child.tag)
        if child_tag not in spec.children:
            allowed = ", ".join(f"<{c}>" for c in sorted(spec.children)) or "nothing"
            raise TwimlRefused(
                f"{where}: <{child_tag}> is not allowed inside <{tag}> (allowed: {allowed})"
            )
        node.children.append(_node(child, where))
        if (child.tail or "").strip() and not spec.text:
            raise TwimlRefused(f"{where}: <{tag}> does not take text content")
    node.spoken = " ".join("".join(element.itertext()).split())
    _check_semantics(node, where)
    return node


def _check_semantics(node: Node, where: str) -> None:
    """Rules that tie several attributes together."""
    if node.tag == "Redirect" and not node.text:
        raise TwimlRefused(f"{where}: <Redirect> needs a URL as its text")
    if node.tag == "Prompt":
        if "for" not in node.attrs:
            raise TwimlRefused(f"{where}: <Prompt> needs a 'for' attribute")
        if node.attrs.get("requireMatchingInputs", "").lower() == "true" and node.attrs[
            "for"
        ] not in ("bank-account-number", "bank-routing-number"):
            raise TwimlRefused(
                f"{where}: <Prompt requireMatchingInputs> is for bank-account-number or "
                "bank-routing-number only"
            )
    if node.tag == "Parameter" and "name" not in node.attrs:
        raise TwimlRefused(f"{where}: <Parameter> needs a 'name' attribute")
    if node.tag == "Pay":
        method = node.attrs.get("paymentMethod", "credit-card")
        if method == "credit-card" and "bankAccountType" in node.attrs:
            raise TwimlRefused(
                f"{where}: <Pay bankAccountType> is not supported with credit-card (64017)"
            )
        language = node.attrs.get("language")
        if method == "ach-debit" and language and language.lower() not in ACH_LANGUAGES:
            raise TwimlRefused(
                f'{where}: <Pay language="{language}"> is not available for ach-debit '
                f"(allowed: {', '.join(ACH_LANGUAGES)})"
            )


def render(node: Node) -> str:
    """What the caller hears for a <Say>/<Play>/<Pause>, as one line of transcript."""
    if node.tag == "Say":
        return node.spoken
    if node.tag == "Play":
        if node.text:
            return f"[play {node.text}]"
        return f"[play digits {node.attrs.get('digits', '')}]"
    if node.tag == "Pause":
        return f"[pause {node.attrs.get('length', '1')} s]"
    return ""
