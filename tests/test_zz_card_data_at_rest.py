"""Last test of the session: no full card number, CVV or bank account number reached disk.

It searches everything the session wrote under pytest's basetemp: every SQLite database (with
its -wal and -shm files), every gunicorn log and the file that kept every log line of the
in-process tests. The tests use Twilio's test numbers and the distinctive CVVs 739 / 7391.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.conftest import TEST_CARDS

PANS = [*TEST_CARDS, "4242424242424242"]
ACCOUNTS = ["123456789", "12345678"]
CVVS = {"739", "7391"}
LABELLED_CVV = re.compile(rb"(?i)(cvv|cvc|securitycode)\W{0,6}(7391|739)\b")


def raw_leaks(data: bytes) -> list[str]:
    found = [n for n in PANS + ACCOUNTS if n.encode() in data]
    found += [m.group(0).decode(errors="replace") for m in LABELLED_CVV.finditer(data)]
    found += [f"{n} (written differently)" for n in written_differently(data) if n not in found]
    return found


_SEPARATORS = re.compile(r"[^\w]|_")


def written_differently(data: bytes) -> list[str]:
    """The test cards in any script's digits or with separators between their digits (not
    letters: a masked `xxxx1111` must not join its neighbours into a false find)."""
    import pci

    text = data.decode("utf-8", errors="replace")
    if text.isascii() and not any(n[:4] in text for n in PANS):
        return []
    flat = _SEPARATORS.sub("", pci.normalize_digits(text))
    return [n for n in PANS if n in flat]


def cvv_cells(database: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        found = []
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            for row in conn.execute(f'select * from "{table}"'):
                found += [f"{table}: {cell}" for cell in row if str(cell) in CVVS]
        return found
    finally:
        conn.close()


def test_the_scanner_finds_what_it_looks_for():
    assert raw_leaks(b'x {"cvv": "739"} 4111111111111111') == ["4111111111111111", 'cvv": "739']
    assert raw_leaks(b"xxxxxxxxxxxx1111 18:22:23,739") == []
    assert raw_leaks(b"xxxxxxxxxxxx1111 xxxxxxxxxxxx1111 4 1111") == []
    assert raw_leaks(b"card 4111_1111-1111 1111") == ["4111111111111111 (written differently)"]
    assert raw_leaks("٤١١١١١١١١١١١١١١١".encode()) == ["4111111111111111 (written differently)"]


def test_no_card_number_cvv_or_account_number_in_any_database_or_log(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    files = [p for p in base.rglob("*") if p.is_file()]
    databases = [p for p in files if p.name.endswith(".sqlite3")]
    logs = [p for p in files if p.suffix == ".log"]
    assert databases and logs, "the session wrote no database or log: nothing was checked"
    assert sum(p.stat().st_size for p in logs) > 0

    leaks = {str(p.relative_to(base)): raw_leaks(p.read_bytes()) for p in files}
    leaks.update({str(p.relative_to(base)) + " (cells)": cvv_cells(p) for p in databases})

    assert {name: found for name, found in leaks.items() if found} == {}
