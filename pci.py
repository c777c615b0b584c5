"""Card-data hygiene for the whole app: the one place where an outside value is made safe.

PCI DSS forbids the full card number (PAN), the security code (CVV) and the bank account
number on disk, in logs, in answers and in HTML. Values PayLine builds itself are masked at the
source (brand, last four); everything that comes from outside and is stored, logged or answered
passes through here first: the connector's free text, every field of Twilio's /voice webhooks,
log records of every logger, gunicorn's access log and error text from gateways.

The design follows the threat, not a list of examples (see the README's "Security" section):

- Digits of any script are digits: every Unicode digit (Arabic-Indic, full-width,
  mathematical, superscript, circled, ...) is mapped to ASCII before anything is looked at, and
  what is kept is the mapped text.
- A *run* is a sequence of digits in which consecutive digits are at most `MAX_GAP` (3)
  characters apart, those characters being anything but letters or digits: spaces of every
  kind, punctuation, dashes, underscores, tabs, newlines, symbols, invisible marks. Letters end
  a run but may touch it (`x4111…`, `visa4111…exp0831` are found).
- Every run of `MIN_CARD_DIGITS` (12) or more digits is masked, Luhn-valid or not (a mistyped
  card number is still card data; two numbers back to back are one run): each digit but the
  last four becomes `x`, separators stay where they were.
- Runs are found across the concatenation of all free-text fields of one request, in the order
  received and in the order of the names (the order in which they are stored and answered), so
  that a number split across fields is masked in every part.
- A run of 1 to 6 digits near a security-code label in any spelling (`cvv`, `CVC2`, `c.v.v`,
  `Security-Code`, `card verification value`, full-width letters, ...) is masked, and so is a
  run of 4 to 17 digits near a bank-account label.
- Our own identifiers stay readable: a canonical UUID or a Twilio SID (two capitals and 32 hex
  digits) is left alone unless one of its digit runs is card-shaped on its own (a Twilio test
  card, or a number of a brand's length with the brand's prefix that passes Luhn).
- An identifier field (`transaction_id`, a parameter name) that masking would change is refused,
  never stored: `card_shaped` says so.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from connector import cards

MIN_CARD_DIGITS = 12
"""The shortest card number (Maestro); every run this long is masked."""
MAX_GAP = 3
"""How many non-letter, non-digit characters may stand between two digits of one run."""
KEEP_LAST = 4

CARD_BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (13, 16, 19)),
    "mastercard": (("51", "52", "53", "54", "55", *(str(p) for p in range(2221, 2721))), (16,)),
    "amex": (("34", "37"), (15,)),
    "discover": (("6011", "644", "645", "646", "647", "648", "649", "65"), (16, 17, 18, 19)),
    "diners-club": (("300", "301", "302", "303", "304", "305", "36", "38", "39"), (14, 16, 19)),
    "jcb": (tuple(str(p) for p in range(3528, 3590)), (16, 17, 18, 19)),
    "unionpay": (("62",), (16, 17, 18, 19)),
    "maestro": (("50", "56", "57", "58", "6304", "6759", "676", "67"), tuple(range(12, 20))),
}
"""The design's list of brands: IIN prefixes and lengths (the generator in the tests uses it)."""

TEST_CARDS = frozenset({*cards.TEST_CARDS, "4242424242424242"})
"""Twilio's TEST-mode cards (connector/cards.py, one list) and Stripe's, which callers type too:
found inside any identifier, they always count as card data."""

_SECURITY_LABELS = frozenset(
    {
        "cvv",
        "cvc",
        "csc",
        "cvn",
        "cvd",
        "cav",
        "cid",
        "spc",
        "securitycode",
        "seccode",
        "securecode",
        "securitynumber",
        "securitynr",
        "verificationcode",
        "verificationvalue",
        "verificationnumber",
        "cardverification",
        "cardcode",
        "cardcheck",
        "checkcode",
        "pin",
    }
)
_ACCOUNT_LABELS = frozenset(
    {
        "account",
        "acct",
        "acc",
        "accnt",
        "iban",
        "routing",
        "aba",
        "bankaccount",
        "accountnumber",
        "cardnumber",
        "pan",
    }
)
_SECRET_NAMES = frozenset(
    {
        *_SECURITY_LABELS,
        "cvv2",
        "cvc2",
        "pan",
        "cardnumber",
        "cardno",
        "bankaccountnumber",
        "bankaccount",
        "accountnumber",
        "routingnumber",
        "iban",
    }
)
"""A value under a key spelled like one of these (any case, any separators) is masked whole."""

_LABEL_BEFORE = 32
_LABEL_AFTER = 32
_FIELD_SEPARATOR = "\x1f"  # one character: a number split across two fields stays one run

_ID = re.compile(
    r"(?<![^\W_])(?:"
    r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"  # a UUID
    r"|[A-Z]{2}[0-9a-f]{32}"  # a Twilio SID
    r"|(?=(?:[0-9]*[a-fA-F]){4})(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{32})"  # uuid4().hex, sha256
    r"|(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(?:\.(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}"
    r"(?::[0-9]{1,5})?"  # an IPv4 address, with its port
    r"|(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[ T](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,6})?)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"  # an ISO-8601 date or date-time
    r")(?![^\W_])"
)


# -- digits ----------------------------------------------------------------------------------


def normalize_digits(text: str) -> str:
    """Every Unicode digit mapped to its ASCII digit; nothing else changes (same length)."""
    if text.isascii():
        return text
    return "".join(_ascii_digit(char) for char in text)


def _ascii_digit(char: str) -> str:
    if char.isascii():
        return char
    value = unicodedata.digit(char, None)
    return char if value is None else str(value)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _runs(text: str, start: int = 0, end: int | None = None) -> list[tuple[list[int], str]]:
    """The digit runs of normalised text: the positions of their digits, and the digits."""
    end = len(text) if end is None else end
    runs: list[tuple[list[int], str]] = []
    i = start
    while i < end:
        if not _is_digit(text[i]):
            i += 1
            continue
        positions = [i]
        j, gap = i + 1, 0
        while j < end and gap <= MAX_GAP:
            char = text[j]
            if _is_digit(char):
                positions.append(j)
                gap = 0
            elif char.isalpha():
                break
            elif char != _FIELD_SEPARATOR:  # a field boundary is no gap: splits stay one run
                gap += 1
            j += 1
        runs.append((positions, "".join(text[p] for p in positions)))
        i = positions[-1] + 1
    return runs


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def looks_like_card(digits: str) -> bool:
    """A Twilio test card, or a brand's prefix and length that passes the Luhn check."""
    if digits in TEST_CARDS:
        return True
    return luhn_valid(digits) and any(
        digits.startswith(prefixes) and len(digits) in lengths
        for prefixes, lengths in CARD_BRANDS.values()
    )


_CONTIGUOUS_DIGITS = re.compile(r"[0-9]{12,}")


def _holds_card(digits: str) -> bool:
    """Some stretch of the run is card-shaped on its own (a brand's prefix and length, Luhn)."""
    if len(digits) < MIN_CARD_DIGITS:
        return False
    return any(
        looks_like_card(digits[i : i + length])
        for i in range(len(digits) - MIN_CARD_DIGITS + 1)
        for length in range(MIN_CARD_DIGITS, 20)
        if i + length <= len(digits)
    )


def _id_hides_card(text: str, start: int, end: int, lenient: bool) -> bool:
    runs = [digits for _, digits in _runs(text, start, end)]
    if any(card in digits for card in TEST_CARDS for digits in runs):
        return True
    if lenient:
        return False
    contiguous = _CONTIGUOUS_DIGITS.findall(text, start, end)
    return any(map(looks_like_card, runs)) or any(map(_holds_card, contiguous))


def _id_spans(text: str, lenient: bool = False) -> list[tuple[int, int]]:
    """Identifiers in exact shapes (UUIDs, Twilio SIDs, 32 or 64 hex digits, IPv4 addresses,
    ISO dates) that do not hide a card.

    In free text an id is masked when a stretch of one of its digit runs is card-shaped on its
    own: a brand's prefix and length that passes Luhn (about one random SID in a thousand;
    masking 12 digits in a row instead hid 3 % of Twilio's call SIDs from the books). An
    identifier field is judged leniently: refused only when a run holds one of Twilio's test
    cards, so that Twilio's own ids are never refused.
    """
    return [
        m.span()
        for m in _ID.finditer(text)
        if not _id_hides_card(text, m.start(), m.end(), lenient)
    ]


# -- masking ---------------------------------------------------------------------------------


def _letters(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if char.isalpha())


_WORD = re.compile(r"[^\W\d_]+")


def _label_words(text: str) -> set[str]:
    """The words of a short window, as labels are spelled: case-folded, full-width letters
    folded, single letters joined (`c.v.v`), two or three words joined (`security code`)."""
    words: list[str] = []
    spelled = False  # the last word is made of single letters (c.v.v)
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if len(word) == 1 and spelled:
            words[-1] += word
        else:
            words.append(word)
            spelled = len(word) == 1
    found = set(words)
    for n in (2, 3):
        found.update("".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return found


def _near_label(text: str, first: int, last: int, labels: frozenset[str]) -> bool:
    before = text[max(0, first - _LABEL_BEFORE) : first]
    after = text[last + 1 : last + 1 + _LABEL_AFTER]
    return not labels.isdisjoint(_label_words(before) | _label_words(after))


def _masked_positions(text: str, lenient_ids: bool = False) -> dict[int, str]:
    """Positions of the digits to mask in normalised text (ids excepted), and their mask:
    `x` for card numbers and security codes, `*` for account numbers (as Twilio masks them)."""
    masked: dict[int, str] = {}
    bounds = [0]
    spans = _id_spans(text, lenient_ids)
    for start, end in spans:
        bounds += [start, end]
    bounds.append(len(text))
    # Letters inside an id are no label: "aba" in a call SID's hex must not make the invoice
    # number beside it an account number.
    labels_text = text
    for start, end in spans:
        labels_text = labels_text[:start] + " " * (end - start) + labels_text[end:]
    for k in range(0, len(bounds), 2):
        for positions, digits in _runs(text, bounds[k], bounds[k + 1]):
            first, last = positions[0], positions[-1]
            if len(digits) >= MIN_CARD_DIGITS:
                masked.update(dict.fromkeys(positions[:-KEEP_LAST], "x"))
            elif len(digits) <= 6 and _near_label(labels_text, first, last, _SECURITY_LABELS):
                masked.update(dict.fromkeys(positions, "x"))
            elif len(digits) >= 4 and _near_label(labels_text, first, last, _ACCOUNT_LABELS):
                masked.update(dict.fromkeys(positions[:-2], "*"))
    return masked


def _apply(text: str, masked: dict[int, str]) -> str:
    if not masked:
        return text
    chars = list(text)
    for position, mask in masked.items():
        chars[position] = mask
    return "".join(chars)


def mask_text(value: object) -> str:
    """One value made safe: card-shaped runs, labelled security codes and accounts masked."""
    text = normalize_digits(value if isinstance(value, str) else str(value))
    return _apply(text, _masked_positions(text))


def mask_fields(values: Sequence[str]) -> list[str]:
    """Several free-text fields of one request, masked as one text (splits are caught)."""
    texts = [normalize_digits(v) for v in values]
    if len(texts) < 2:
        return [mask_text(t) for t in texts]
    joined = _FIELD_SEPARATOR.join(texts)
    masked = _masked_positions(joined)
    out, offset = [], 0
    for text in texts:
        span = range(offset, offset + len(text))
        out.append(_apply(text, {p - offset: m for p, m in masked.items() if p in span}))
        offset += len(text) + 1
    return out


def mask_pairs(items: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Names and values of one request (parameters, form fields) made safe together.

    Values are masked as one text in the order received, then in the order of the names (as
    stored and answered); every name is masked with its own value.
    """
    names = [normalize_digits(k) for k, _ in items]
    values = ["***" if _secret_name(n) and v else v for n, (_, v) in zip(names, items, strict=True)]
    values = mask_fields(values)
    order = sorted(range(len(items)), key=lambda i: names[i])
    for i, value in zip(order, mask_fields([values[i] for i in order]), strict=True):
        values[i] = value
    return [(n, v) for n, v in (mask_fields([n, v]) for n, v in zip(names, values, strict=True))]


def _secret_name(name: str) -> bool:
    return _letters(name) in _SECRET_NAMES


def card_shaped(value: str) -> bool:
    """Whether an identifier holds what masking would hide: then it must be refused."""
    text = normalize_digits(value)
    return bool(_masked_positions(text, lenient_ids=True))


def mask_value(value: Any) -> Any:
    """JSON-like values (dicts, lists, strings) masked keeping their shape; keys included.

    A value under a key spelled like a secret ("cvv", "Card-Number", ...) is masked whole; the
    strings of one dict are masked together, so that a number split across them is caught.
    """
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    texts = [(str(k), v) for k, v in value.items() if isinstance(v, str)]
    safe = iter(mask_pairs(texts))
    result: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str):
            name, masked = next(safe)
            result[name] = masked
        else:
            name = mask_text(str(key))
            secret = _secret_name(name) and item is not None
            result[name] = "***" if secret else mask_value(item)
    return result


_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9]{4,}(?![0-9])")


def mask_long_numbers(value: str) -> str:
    """Error text from outside (a gateway, Twilio's PaymentError): card data masked, and any
    other run of 4+ digits cut to its last two, as Twilio masks a bank account number."""
    text = mask_text(value)
    kept = {(s, e) for s, e in _id_spans(text)}

    def cut(match: re.Match[str]) -> str:
        if any(s <= match.start() < e for s, e in kept):
            return match.group(0)
        return "*" * (len(match.group(0)) - 2) + match.group(0)[-2:]

    return _LONG_NUMBER.sub(cut, text)


def safe_message(text: str) -> str:
    """Exception and log text: masked, and cut so that a huge input cannot flood a log."""
    return mask_text(text if len(text) <= 20_000 else text[:20_000] + " [cut]")


# -- URLs and forms --------------------------------------------------------------------------


def mask_url(text: str) -> str:
    """A request line, path or query as logged: percent-decoded, then masked.

    The raw line may hide digits as %34%31…; masking the decoded text and logging that is the
    only way to be sure. The path and the query's values are masked together (a number split
    across them), each name with its value.
    """
    from urllib.parse import parse_qsl, unquote

    head, sep, query = text.partition("?")
    if not sep:
        return mask_text(unquote(head, errors="replace"))
    tail = ""
    if " HTTP/" in query:  # a whole request line: GET /path?query HTTP/1.1
        query, tail = query.rsplit(" ", 1)
        tail = " " + tail
    pairs = [("", unquote(head, errors="replace"))]
    pairs += parse_qsl(query, keep_blank_values=True, errors="replace")
    (_, path), *safe = mask_pairs(pairs)
    return path + "?" + "&".join(f"{name}={value}" for name, value in safe) + tail


def safe_form(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every field of a form or query made safe together (names and values)."""
    return dict(mask_pairs(list(items)))


# -- logging ---------------------------------------------------------------------------------


def install_log_masking() -> None:
    """Mask card data in every log record any logger creates, before any handler sees it.

    A record factory rather than a handler filter: filters on one handler miss records sent to
    handlers added later (gunicorn's, pytest's capture), a factory sees every record once.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_payline_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = safe_message(message), None
        if record.exc_info:
            record.exc_text = safe_message(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = safe_message(record.stack_info)
        return record

    factory._payline_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


__all__ = [
    "CARD_BRANDS",
    "MIN_CARD_DIGITS",
    "card_shaped",
    "install_log_masking",
    "looks_like_card",
    "luhn_valid",
    "mask_fields",
    "mask_long_numbers",
    "mask_pairs",
    "mask_text",
    "mask_url",
    "mask_value",
    "normalize_digits",
    "safe_form",
    "safe_message",
]
