"""Hypothesis strategies for card numbers as a hostile caller would write them, and the search
that finds any of them in any form (tests/test_pci_generated.py uses both).

Cards: every brand and length of pci.CARD_BRANDS, Luhn-valid. Renderings: digit groups of any
size joined by generated separators (any non-letter characters, up to pci.MAX_GAP), every digit
in a random Unicode script, letters touching both ends, and splits into several fields.
"""

from __future__ import annotations

import html
import os
import random
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote_plus

from hypothesis import strategies as st

import pci

SEED = int(os.environ.get("PCI_SEED") or random.SystemRandom().randrange(2**32))
"""Printed by the tests; set PCI_SEED to replay a run exactly."""

ZEROS = [0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xA66, 0xE50, 0xFF10, 0x1D7CE, 0x1D7EC, 0x1040]
"""Where the digits 0-9 start in some scripts: ASCII, Arabic-Indic, Extended Arabic-Indic,
Devanagari, Bengali, Gurmukhi, Thai, full-width, mathematical bold and monospace, Myanmar."""

SEPARATORS = [
    " ",
    "-",
    "_",
    ",",
    "+",
    ":",
    ".",
    "/",
    "\t",
    "\n",
    "\r\n",
    " - ",
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u2007",  # figure space
    "\u200b",  # zero-width space
    "\u2013",  # en dash
    "*",
    "#",
    "|",
    "'",
    '"',
    "(",
    ")",
    ";",
]
LETTERS = "abcdefghijklmnopqrstuvwxyzXVISAexpCARD"


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if pci.luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def card_number(rnd: random.Random) -> str:
    """A Luhn-valid number of a brand's prefix and length (pci.CARD_BRANDS)."""
    brand = rnd.choice(sorted(pci.CARD_BRANDS))
    prefixes, lengths = pci.CARD_BRANDS[brand]
    prefix, length = rnd.choice(prefixes), rnd.choice(lengths)
    body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def separator(rnd: random.Random, ascii_only: bool = False) -> str:
    choices = [s for s in SEPARATORS if s.isascii()] if ascii_only else SEPARATORS
    return "".join(rnd.choice(choices) for _ in range(rnd.randint(1, 2)))[: pci.MAX_GAP]


def letters(rnd: random.Random) -> str:
    return "".join(rnd.choice(LETTERS) for _ in range(rnd.randint(0, 6)))


def render(rnd: random.Random, card: str, ascii_only: bool = False) -> str:
    """The card written with separators, in a Unicode script, letters touching it."""
    zero = 0x30 if ascii_only else rnd.choice(ZEROS)
    mixed = not ascii_only and rnd.random() < 0.3
    out, i = [], 0
    while i < len(card):
        size = rnd.randint(1, 6)
        out.append(
            "".join(
                chr((rnd.choice(ZEROS) if mixed else zero) + int(d)) for d in card[i : i + size]
            )
        )
        i += size
        if i < len(card) and rnd.random() < 0.6:
            out.append(separator(rnd, ascii_only))
    return letters(rnd) + "".join(out) + letters(rnd)


def split(rnd: random.Random, text: str, parts: int) -> list[str]:
    """The text cut into `parts` pieces at digit boundaries (each piece holds some digits)."""
    digits = [i for i, c in enumerate(text) if unicodedata.digit(c, None) is not None]
    if parts < 2 or len(digits) < parts:
        return [text]
    cuts = sorted(rnd.sample(digits[1:], parts - 1))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


randoms = st.integers(0, 2**64).map(random.Random)
"""One Random per example, from a number Hypothesis draws: every example differs, and the run
replays exactly from the printed seed."""


# -- the search ------------------------------------------------------------------------------

_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _variants(text: str) -> list[str]:
    json_decoded = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return [text, unquote_plus(text), json_decoded, html.unescape(text)]


def digit_stream(text: str) -> str:
    """Every digit of the text, in any script, with everything else removed."""
    out = []
    for char in text:
        if "0" <= char <= "9":
            out.append(char)
        elif not char.isascii():
            value = unicodedata.digit(char, None)
            if value is not None:
                out.append(str(value))
    return "".join(out)


def streams(text: str) -> list[str]:
    return [digit_stream(v) for v in _variants(text)]


def find_cards(cards: set[str], texts: dict[str, str]) -> dict[str, list[str]]:
    """Which cards appear in which text, in any form (scripts, separators, escapes)."""
    found: dict[str, list[str]] = {}
    for name, text in texts.items():
        joined = "\n".join(streams(text))
        hits = [card for card in cards if card in joined]
        if hits:
            found[name] = hits
    return found


def files_under(directory: Path) -> dict[str, str]:
    """Every file under the directory (databases with -wal/-shm, logs), decoded as text."""
    return {
        str(path): path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }
