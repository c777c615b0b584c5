"""TwiML as Twilio reads it: parse a webhook answer, and sort what is wrong with it as Twilio does.

Twilio's behaviour falls in three classes, and so does the emulator's:

- **refused**: the call fails with an error (the emulator raises ``TwimlRefused`` or
  ``ProtocolError``): an answer that is not XML (12100), whose root is not ``<Response>``
  (12102), over 64 kB (11750); a ``<Pay>`` whose money-bearing attributes Twilio rejects with
  a documented Pay error: a non-https action (64016), ``bankAccountType`` with credit-card
  (64017), a bad ``chargeAmount`` (64003), an unknown ``paymentMethod`` (64013) and the other
  ``<Pay>`` attributes outside their ranges (64020); a ``<Redirect>`` without a URL.
- **warned and played past** (Twilio's debugger warning 12200, "Schema validation warning"):
  an element Twilio does not know or that is not allowed where it stands (skipped), an
  unknown attribute (ignored), an attribute value outside its table on any element but
  ``<Pay>`` (ignored: Twilio's default applies), a ``<Prompt>`` with a value outside its
  tables (the whole ``<Prompt>`` is skipped and Twilio's default wording plays), a
  ``<Pay language>`` outside the tables (the default ``en-US`` plays). The warning goes in the
  transcript; ``simulate-call --strict`` turns it into a distinct exit status.
- **ignored** without a word: XML comments and processing instructions, namespace
  declarations and attributes in another namespace (``xml:lang``), whitespace between
  elements.

Which class each case falls in comes from Twilio's error pages (12100, 12102, 12200, 11750,
640xx) and reference/twilio-pay-facts.md; where Twilio's behaviour is not documented the
choice is marked "interpretation".

Value tables are the union of Twilio's documentation and its generated helper libraries, each
entry with its sources (the ``SOURCES`` keys below), so that a value any of them allows is
accepted, and a value none of them knows is reported with where the tables come from.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from emulator.cards import CARD_TYPE_NAMES
from emulator.errors import ProtocolError, TwimlRefused, Unsupported

#: Twilio refuses a TwiML answer over 64 kB (error 11750).
MAX_TWIML_BYTES = 64 * 1024
#: Twilio's "Schema validation warning": invalid TwiML that it plays past.
SCHEMA_WARNING = "12200"

#: Where the value tables come from.
SOURCES = {
    "doc-pay": "twilio.com/docs/voice/twiml/pay (attribute table)",
    "doc-prompt": "twilio.com/docs/voice/twiml/pay/prompt (attribute table)",
    "node": "twilio-node src/twiml/VoiceResponse.ts @e3d6e80f (generated TwiML types)",
    "py-rest": "twilio-python 9.13 rest/api/v2010/account/call/payment.py (generated enums)",
    "py-twiml": "twilio-python 9.13 twiml/voice_response.py (generated keyword arguments)",
}

#: value -> the sources that list it. Values compare as written unless noted.
PAY_STEPS_SOURCES: dict[str, tuple[str, ...]] = {
    "payment-card-number": ("doc-prompt", "node", "py-rest"),
    "expiration-date": ("doc-prompt", "node", "py-rest"),
    "security-code": ("doc-prompt", "node", "py-rest"),
    "postal-code": ("doc-prompt", "node", "py-rest"),
    "bank-routing-number": ("doc-prompt", "node", "py-rest"),
    "bank-account-number": ("doc-prompt", "node", "py-rest"),
}
PAY_STEPS = tuple(PAY_STEPS_SOURCES)
PROMPT_FOR_VALUES: dict[str, tuple[str, ...]] = PAY_STEPS_SOURCES | {
    "payment-processing": ("doc-prompt", "node"),
}
PROMPT_FOR = tuple(PROMPT_FOR_VALUES)
PROMPT_ERROR_TYPE_VALUES: dict[str, tuple[str, ...]] = {
    "timeout": ("doc-prompt", "node"),
    "invalid-card-number": ("doc-prompt", "node"),
    "invalid-card-type": ("doc-prompt", "node"),
    "invalid-date": ("doc-prompt", "node"),
    "invalid-security-code": ("doc-prompt", "node"),
    "invalid-postal-code": ("doc-prompt",),
    "invalid-bank-routing-number": ("doc-prompt",),
    "invalid-bank-account-number": ("doc-prompt",),
    "input-matching-failed": ("doc-prompt", "node"),
    "internal-error": ("node",),
}
PROMPT_ERROR_TYPES = tuple(PROMPT_ERROR_TYPE_VALUES)
#: ``validCardTypes`` and ``<Prompt cardType>``: the doc and twilio-node list the same nine.
CARD_TYPE_VALUES: dict[str, tuple[str, ...]] = {
    name: ("doc-pay", "node") for name in CARD_TYPE_NAMES
}
#: Compared without case: the doc writes ``en-us`` as the default and ``en-US`` in its list.
LANGUAGE_VALUES: dict[str, tuple[str, ...]] = {
    "de-DE": ("doc-pay", "node"),
    "en-AU": ("doc-pay", "node"),
    "en-CA": ("doc-pay", "node"),
    "en-GB": ("doc-pay", "node"),
    "en-IE": ("node",),
    "en-IN": ("doc-pay", "node"),
    "en-NZ": ("node",),
    "en-PH": ("node",),
    "en-US": ("doc-pay", "node"),
    "en-ZA": ("node",),
    "es-ES": ("doc-pay", "node"),
    "es-MX": ("doc-pay",),
    "es-US": ("node",),
    "fr-CA": ("doc-pay", "node"),
    "fr-FR": ("doc-pay", "node"),
    "it-IT": ("doc-pay", "node"),
}
CARD_LANGUAGES = tuple(code.lower() for code in LANGUAGE_VALUES)
#: The doc: "ACH: the en-* set only". Interpretation: every en-* code of the tables.
ACH_LANGUAGES = tuple(code for code in CARD_LANGUAGES if code.startswith("en-"))
PAYMENT_METHOD_VALUES: dict[str, tuple[str, ...]] = {
    "credit-card": ("doc-pay", "node", "py-rest"),
    "ach-debit": ("doc-pay", "node", "py-rest"),
}
BANK_ACCOUNT_TYPE_VALUES: dict[str, tuple[str, ...]] = {
    "consumer-checking": ("doc-pay", "node", "py-rest"),
    "consumer-savings": ("doc-pay", "node", "py-rest"),
    "commercial-checking": ("doc-pay", "node", "py-rest"),
    "commercial-savings": ("node",),
}
TOKEN_TYPE_VALUES: dict[str, tuple[str, ...]] = {
    "one-time": ("doc-pay", "node", "py-rest"),
    "reusable": ("doc-pay", "node", "py-rest"),
    "payment-method": ("doc-pay", "py-rest"),
}
STATUS_CALLBACK_METHOD_VALUES: dict[str, tuple[str, ...]] = {
    "GET": ("node", "py-twiml"),
    "POST": ("node", "py-twiml"),
}
MAX_CHARGE_AMOUNT = Decimal("1000000")

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_POSITIVE_INT = re.compile(r"[1-9][0-9]*\Z")
_NON_NEGATIVE_INT = re.compile(r"[0-9]+\Z")

Check = Callable[[str], str | None]


def _sources(table: Mapping[str, tuple[str, ...]]) -> str:
    names = sorted({source for sources in table.values() for source in sources})
    return ", ".join(names)


def _one_of(table: Mapping[str, tuple[str, ...]], *, case: bool = True) -> Check:
    allowed = set(table) if case else {value.lower() for value in table}

    def check(value: str) -> str | None:
        if (value if case else value.lower()) in allowed:
            return None
        return f"must be one of {', '.join(table)} (tables: {_sources(table)})"

    return check


def _plain(*allowed: str, case: bool = False) -> Check:
    accepted = set(allowed) if case else {value.lower() for value in allowed}

    def check(value: str) -> str | None:
        if (value if case else value.lower()) in accepted:
            return None
        return f"must be one of {', '.join(allowed)}"

    return check


def _words_of(table: Mapping[str, tuple[str, ...]]) -> Check:
    def check(value: str) -> str | None:
        words = value.split()
        if not words:
            return "must not be empty"
        unknown = [w for w in words if w not in table]
        if unknown:
            return (
                f"unknown value(s) {', '.join(unknown)}; allowed: {' '.join(table)} "
                f"(tables: {_sources(table)})"
            )
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


_TRUE_FALSE = _plain("true", "false")
_METHOD = _plain("GET", "POST")
_DTMF_KEYS = _plain("", *"0123456789#*", case=True)

PAY_ATTRIBUTES: dict[str, Check | None] = {
    "input": _plain("dtmf"),
    "action": _non_empty,
    "statusCallback": _non_empty,
    # Not in the <Pay> doc table; twilio-python writes it and twilio-node types it GET|POST.
    "statusCallbackMethod": _one_of(STATUS_CALLBACK_METHOD_VALUES, case=False),
    "paymentMethod": _one_of(PAYMENT_METHOD_VALUES),
    "bankAccountType": _one_of(BANK_ACCOUNT_TYPE_VALUES),
    "timeout": _positive_int,
    "maxAttempts": _plain("1", "2", "3", case=True),
    "securityCode": _TRUE_FALSE,
    "postalCode": _non_empty,
    "minPostalCodeLength": _positive_int,
    "paymentConnector": _non_empty,
    "tokenType": _one_of(TOKEN_TYPE_VALUES),
    "chargeAmount": _charge_amount,
    "currency": _non_empty,
    "language": _one_of(LANGUAGE_VALUES, case=False),
    "description": None,
    "validCardTypes": _words_of(CARD_TYPE_VALUES),
}
#: The Twilio error a bad value of a <Pay> attribute fails with (all others: 64020).
PAY_VALUE_ERRORS = {"chargeAmount": "64003", "paymentMethod": "64013", "tokenType": "64006"}
#: <Pay> attributes whose bad value is warned about and ignored rather than refused.
PAY_VALUES_WARNED = frozenset({"language"})
PROMPT_ATTRIBUTES: dict[str, Check | None] = {
    "for": _one_of(PROMPT_FOR_VALUES),
    "cardType": _words_of(CARD_TYPE_VALUES),
    "attempt": _attempts,
    "requireMatchingInputs": _TRUE_FALSE,
    "errorType": _words_of(PROMPT_ERROR_TYPE_VALUES),
}
GATHER_ATTRIBUTES: dict[str, Check | None] = {
    "input": _words_of({"dtmf": ("node",), "speech": ("node",)}),
    "action": _non_empty,
    "method": _METHOD,
    "timeout": _non_negative_int,
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
    "Reject": Element({"reason": _plain("rejected", "busy")}),
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

#: Called with (Twilio warning code, message) for each warning class case.
OnWarning = Callable[[str, str], None]


@dataclass
class Node:
    """One TwiML element: tag, attributes as played, direct text, children."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Node] = field(default_factory=list)
    spoken: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ignore(code: str, message: str) -> None:
    return None


def parse_twiml(body: bytes, where: str, on_warning: OnWarning | None = None) -> list[Node]:
    """The verbs of a TwiML document as Twilio would play them.

    Raises ProtocolError/TwimlRefused for what Twilio refuses, Unsupported for verbs this
    emulator does not play; calls ``on_warning(code, message)`` for what Twilio warns about
    and plays past (the offending element or attribute is left out of the result).
    """
    warn = on_warning or _ignore
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
            f"{where}: root element is <{_local(root.tag)}>, Twilio expects <Response> (12102)"
        )
    verbs = []
    for child in root:
        if not isinstance(child.tag, str):  # comments, processing instructions: ignored
            continue
        tag = _local(child.tag)
        if tag in UNSUPPORTED_VERBS:
            raise Unsupported(f"{where}: <{tag}> is valid TwiML that this emulator does not play")
        if tag not in VERBS:
            hint = " (it belongs inside <Pay>)" if tag in ("Prompt", "Parameter") else ""
            warn(SCHEMA_WARNING, f"{where}: unknown verb <{tag}> in <Response>{hint}: skipped")
            continue
        node = _node(child, where, warn)
        if node is not None:
            verbs.append(node)
    return verbs


def _node(element: ET.Element, where: str, warn: OnWarning) -> Node | None:
    """One element as played, or None when Twilio would skip it."""
    tag = _local(element.tag)
    spec = ELEMENTS.get(tag)
    text = (element.text or "").strip()
    node = Node(tag=tag, text=text)
    if spec is None:  # SSML inside <Say>, nouns inside <Dial>: not checked further
        node.attrs = dict(element.attrib)
        node.spoken = " ".join("".join(element.itertext()).split())
        return node
    for name, value in element.attrib.items():
        if name.startswith("{"):  # another namespace (xml:lang, ...): ignored
            continue
        if name not in spec.attributes:
            allowed = ", ".join(sorted(spec.attributes)) or "none"
            warn(
                SCHEMA_WARNING,
                f"{where}: <{tag}> has unknown attribute {name!r} (allowed: {allowed}): ignored",
            )
            continue
        check = spec.attributes[name]
        problem = check(value) if check is not None else None
        if not problem:
            node.attrs[name] = value
            continue
        message = f'{where}: <{tag} {name}="{value}">: {name} {problem}'
        if tag == "Pay" and name not in PAY_VALUES_WARNED:
            code = PAY_VALUE_ERRORS.get(name, "64020")
            raise TwimlRefused(message if f"({code})" in message else f"{message} ({code})")
        if tag == "Prompt":
            warn(SCHEMA_WARNING, f"{message}: this <Prompt> is skipped, Twilio's wording plays")
            return None
        default = " (en-US plays)" if name == "language" else ""
        warn(SCHEMA_WARNING, f"{message}: ignored, Twilio's default applies{default}")
    if text and not spec.text:
        warn(
            SCHEMA_WARNING, f"{where}: <{tag}> does not take text content ({text[:40]!r}): ignored"
        )
        node.text = ""
    for child in element:
        if not isinstance(child.tag, str):
            continue
        child_tag = _local(child.tag)
        if child_tag not in spec.children:
            allowed = ", ".join(f"<{c}>" for c in sorted(spec.children)) or "nothing"
            warn(
                SCHEMA_WARNING,
                f"{where}: <{child_tag}> is not allowed inside <{tag}> (allowed: {allowed}): "
                "skipped",
            )
            continue
        played = _node(child, where, warn)
        if played is not None:
            node.children.append(played)
        if (child.tail or "").strip() and not spec.text:
            warn(SCHEMA_WARNING, f"{where}: <{tag}> does not take text content: ignored")
    node.spoken = " ".join("".join(element.itertext()).split())
    return _check_semantics(node, where, warn)


def _check_semantics(node: Node, where: str, warn: OnWarning) -> Node | None:
    """Rules that tie several attributes together."""
    if node.tag == "Redirect" and not node.text:
        raise TwimlRefused(f"{where}: <Redirect> needs a URL as its text")
    if node.tag == "Prompt":
        if "for" not in node.attrs:
            warn(SCHEMA_WARNING, f"{where}: <Prompt> needs a 'for' attribute: skipped")
            return None
        if node.attrs.get("requireMatchingInputs", "").lower() == "true" and node.attrs[
            "for"
        ] not in ("bank-account-number", "bank-routing-number"):
            warn(
                SCHEMA_WARNING,
                f"{where}: <Prompt requireMatchingInputs> is for bank-account-number or "
                "bank-routing-number only: skipped",
            )
            return None
    if node.tag == "Parameter" and "name" not in node.attrs:
        warn(SCHEMA_WARNING, f"{where}: <Parameter> needs a 'name' attribute: skipped")
        return None
    if node.tag == "Pay":
        method = node.attrs.get("paymentMethod", "credit-card")
        if method == "credit-card" and "bankAccountType" in node.attrs:
            raise TwimlRefused(
                f"{where}: <Pay bankAccountType> is not supported with credit-card (64017)"
            )
        language = node.attrs.get("language")
        if method == "ach-debit" and language and language.lower() not in ACH_LANGUAGES:
            warn(
                SCHEMA_WARNING,
                f'{where}: <Pay language="{language}"> is not available for ach-debit '
                f"(the doc: en-* only; allowed: {', '.join(ACH_LANGUAGES)}): en-US plays",
            )
            del node.attrs["language"]
    return node


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
