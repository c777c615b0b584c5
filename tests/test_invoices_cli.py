"""The invoice commands an operator uses: add, import (all or nothing), list, demo seed."""

from __future__ import annotations

import json

import pytest


def listed(runner) -> list[dict]:
    result = runner.invoke(args=["invoices", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_then_list_as_json(runner):
    result = runner.invoke(
        args=["invoices", "add", "1001", "42.5", "--customer", "Ada", "--currency", "eur"]
    )

    assert result.exit_code == 0, result.output
    assert listed(runner) == [
        {
            "number": "1001",
            "customer": "Ada",
            "amount": "42.50",
            "currency": "EUR",
            "status": "open",
            "confirmation": None,
            "paid_at": None,
            "card_on_file": None,
            "hold": None,
        }
    ]


def test_adding_an_existing_number_fails_and_keeps_the_first(runner):
    runner.invoke(args=["invoices", "add", "1001", "42.50"])
    result = runner.invoke(args=["invoices", "add", "1001", "99.00"])

    assert result.exit_code != 0
    assert "already exists" in result.output
    assert listed(runner)[0]["amount"] == "42.50"


@pytest.mark.parametrize(
    ("number", "amount", "message"),
    [
        ("12a", "1.00", "1 to 12 digits"),
        ("1234567890123", "1.00", "1 to 12 digits"),
        ("", "1.00", "1 to 12 digits"),
        ("1", "0", "greater than 0"),
        ("1", "-3", "decimal"),
        ("1", "1.005", "more than 2 decimal places"),
        ("1", "abc", "decimal"),
        ("1", "١٠", "decimal"),
        ("1", "10.50 --currency JPY", "more than 0 decimal places for JPY"),
        ("1", "10 --currency XYZ", "ISO 4217"),
    ],
)
def test_a_bad_invoice_is_refused_with_a_reason(runner, number, amount, message):
    amount, *options = amount.split(" ")
    result = runner.invoke(args=["invoices", "add", *options, "--", number, amount])

    assert result.exit_code != 0
    assert message in result.output
    assert listed(runner) == []


def test_import_reads_every_row(runner, tmp_path):
    csv = tmp_path / "invoices.csv"
    csv.write_text("number,amount,customer,currency\n2001,10.00,Ada,USD\n2002,5.5,,gbp\n")

    result = runner.invoke(args=["invoices", "import", str(csv)])

    assert result.exit_code == 0, result.output
    rows = listed(runner)
    assert [(r["number"], r["amount"], r["currency"], r["customer"]) for r in rows] == [
        ("2001", "10.00", "USD", "Ada"),
        ("2002", "5.50", "GBP", None),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("number,amount\n2001,10.00\n2002,lots\n", "line 3"),
        ("number,amount\n2001,10.00\n2001,11.00\n", "line 3: invoice 2001 appears twice"),
        ("amount,customer\n10.00,Ada\n", "missing column(s) number"),
        ("number,amount\n2001,10.00\n1001,1.00\n", "already exist: 1001"),
    ],
)
def test_a_bad_import_names_the_problem_and_imports_nothing(runner, tmp_path, content, message):
    runner.invoke(args=["invoices", "add", "1001", "1.00"])
    csv = tmp_path / "invoices.csv"
    csv.write_text(content)

    result = runner.invoke(args=["invoices", "import", str(csv)])

    assert result.exit_code != 0
    assert message in result.output
    assert [r["number"] for r in listed(runner)] == ["1001"]


def test_init_db_seeds_the_demo_only_when_asked_and_only_once(runner):
    assert listed(runner) == []

    runner.invoke(args=["init-db", "--demo"])
    again = runner.invoke(args=["init-db", "--demo"])

    assert "0 added, 5 kept" in again.output
    assert [r["number"] for r in listed(runner)] == ["1001", "1002", "1003", "1004", "1005"]


def test_demo_invoices_are_refused_outside_development(tmp_path):
    from app import create_app
    from tests.conftest import settings

    strong = "test-Kq8vN3xR7tLm2pW9zB4cY5jK6sD1fG0h"  # production refuses weak secrets
    app = create_app(settings(tmp_path, PAYLINE_ENV="production", SECRET_KEY=strong))
    result = app.test_cli_runner().invoke(args=["init-db", "--demo"])

    assert result.exit_code != 0
    assert "development only" in result.output


def test_three_decimal_currencies_keep_their_third_place(runner):
    result = runner.invoke(args=["invoices", "add", "--currency", "KWD", "7001", "12.345"])

    assert result.exit_code == 0, result.output
    assert listed(runner)[0]["amount"] == "12.345"
