"""Operator commands (`flask --app app ...`), each thin: open a store, call one function, echo."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from cli_operators import operators_group
from invoices import DEMO_INVOICES, InvoiceError, parse_csv, parse_invoice
from storage import InvoiceExists, Store


@contextmanager
def opened_store() -> Iterator[Store]:
    store = current_app.extensions["payline"].open_store()
    try:
        yield store
    finally:
        store.close()


@click.command("init-db")
@with_appcontext
@click.option("--demo", is_flag=True, help="Also seed the demo invoices (never in production).")
def init_db(demo: bool) -> None:
    """Create or migrate the database; safe to run on every deploy."""
    if demo and current_app.config["PAYLINE_ENV"] != "development":
        raise click.ClickException("--demo seeds made-up invoices: development only")
    with opened_store() as store:
        applied = store.migrate()
        click.echo(f"database ready at {store.location} ({len(applied)} migrations applied)")
        if demo:
            new = [i for i in DEMO_INVOICES if store.invoice(i.number) is None]
            store.add_invoices(new)
            click.echo(f"demo invoices: {len(new)} added, {len(DEMO_INVOICES) - len(new)} kept")


@click.command("ledger")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
def ledger(as_json: bool) -> None:
    """Connector transactions and what the processor did for each key."""
    with opened_store() as store:
        rows = list(store.ledger_report())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['transaction_id']:<40} {row['method']:<9} {row['state']:<11}"
            f" {row['response_id'] or row['error_code'] or '-':<28}"
            f" requests={row['processor_requests']} charges={row['processor_charges']}"
        )


invoices_group = AppGroup("invoices", help="Add, import and list the invoices callers pay.")


@invoices_group.command("add")
@click.argument("number")
@click.argument("amount")
@click.option("--customer", help="The customer's name, read to the caller.")
@click.option("--currency", default="USD", show_default=True)
def add_invoice(number: str, amount: str, customer: str | None, currency: str) -> None:
    """Add one open invoice; an existing number is an error."""
    try:
        invoice = parse_invoice(number, amount, customer, currency)
        with opened_store() as store:
            store.add_invoices([invoice])
    except InvoiceError as error:
        raise click.ClickException(str(error)) from None
    except InvoiceExists:
        raise click.ClickException(f"invoice {number} already exists") from None
    click.echo(f"invoice {invoice.number}: {invoice.amount} {invoice.currency} added")


@invoices_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_invoices(file: Path) -> None:
    """Import a CSV (number, amount, customer, currency): every row, or none of them."""
    try:
        invoices = parse_csv(file.read_text(encoding="utf-8-sig"))
        with opened_store() as store:
            store.add_invoices(invoices)
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text; nothing imported") from None
    except InvoiceError as error:
        raise click.ClickException(f"{file}: {error}; nothing imported") from None
    except InvoiceExists as error:
        raise click.ClickException(f"already exist: {error}; nothing imported") from None
    click.echo(f"{len(invoices)} invoices imported")


@invoices_group.command("release")
@click.argument("number")
def release_invoice(number: str) -> None:
    """Lift a hold, after checking with the processor that the held payment did not go through."""
    with opened_store() as store:
        if store.invoice(number) is None:
            raise click.ClickException(f"no invoice {number}")
        from billing import release_hold

        released = release_hold(store, number, operator="cli")
    click.echo(f"invoice {number}: " + ("hold lifted" if released else "was not held"))


@invoices_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
def list_invoices(as_json: bool) -> None:
    """Every invoice with its status, settling confirmation and card on file."""
    with opened_store() as store:
        rows = [_invoice_view(row) for row in store.list_invoices()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        card = row["card_on_file"]
        click.echo(
            f"{row['number']:>12}  {row['amount']:>12} {row['currency']}  {row['status']:<5}"
            f"  {row['customer'] or '-':<24} {row['confirmation'] or '-':<24}"
            f" {card['brand'] + ' ' + card['last4'] if card else '-'}"
        )


def _invoice_view(row: dict) -> dict:
    card = {"brand": row["card_brand"], "last4": row["card_last4"]} if row["card_token"] else None
    return {
        "number": row["number"],
        "customer": row["customer"],
        "amount": row["amount"],
        "currency": row["currency"],
        "status": row["status"],
        "confirmation": row["confirmation"],
        "paid_at": row["paid_at"],
        "card_on_file": card,
        "hold": (
            {
                "reason": row["hold_reason"],
                "call_sid": row["paying_call"],
                "until": _iso(row["paying_until"]),
            }
            if row["paying_call"]
            else None
        ),
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


# -- billing (issue 8): reconcile unknown outcomes, refund ---------------------------------------


def _billing_settings():
    import billing

    config = current_app.config
    return billing.BillingSettings(
        ledger_reconciliation=config["LEDGER_RECONCILIATION"],
        unknown_hold_seconds=config["UNKNOWN_HOLD_SECONDS"],
    )


@click.command("reconcile")
@with_appcontext
@click.option("--payment", "payment_id", type=int, help="Only this payment attempt.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
def reconcile_command(payment_id: int | None, as_json: bool) -> None:
    """Ask the processor about every unknown and needs-review attempt; settle or release it."""
    import billing

    with opened_store() as store:
        processor = current_app.extensions["payline"].processor(store)
        results = billing.reconcile(
            store, processor, payment_id=payment_id, settings=_billing_settings()
        )
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
        return
    done = [r for r in results if r.resolved]
    left = [r for r in results if not r.resolved]
    for r in done:
        click.echo(f"payment {r.payment_id} (invoice {r.invoice_number}): {r.message}")
    if left:
        click.echo(f"{len(left)} still need a person:")
        for r in left:
            click.echo(
                f"  payment {r.payment_id} (invoice {r.invoice_number}, {r.outcome}): {r.message}"
            )
    if not results:
        click.echo("nothing to reconcile")


payments_group = AppGroup("payments", help="Payment attempts: refunds.")


@payments_group.command("refund")
@click.argument("payment_id", type=int)
@click.option("--amount", help="Part of the charge (default: everything left of it).")
@click.option("--reason", default="", help="Why, for the record.")
@click.option("--operator", default="cli", show_default=True)
@click.option("--key", help="Idempotency key; by default the same command reuses the same key.")
@click.option("--json", "as_json", is_flag=True)
def refund_command(
    payment_id: int,
    amount: str | None,
    reason: str,
    operator: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Refund a payment's charge through the processor, once (a repeat refunds nothing more)."""
    from decimal import Decimal, InvalidOperation

    import billing

    try:
        value = Decimal(amount) if amount is not None else None
    except InvalidOperation:
        raise click.ClickException(f"--amount {amount!r} is not an amount") from None
    if value is not None and (not value.is_finite() or value <= 0):
        raise click.ClickException("--amount must be greater than 0")
    with opened_store() as store:
        processor = current_app.extensions["payline"].processor(store)
        result = billing.refund_payment(
            store,
            processor,
            payment_id,
            amount=value,
            reason=reason,
            operator=operator,
            idempotency_key=key or billing.default_refund_key(payment_id, value),
        )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(f"payment {payment_id}: {result.message}")
    if result.status not in ("done",):
        raise SystemExit(1)


def register_commands(app: Flask) -> None:
    for command in (init_db, ledger, invoices_group, reconcile_command, payments_group):
        app.cli.add_command(command)
    app.cli.add_command(operators_group)
    try:
        from emulator.commands import check_connector, simulate_call
    except ImportError:  # the emulator is optional in a trimmed deploy
        return
    app.cli.add_command(simulate_call)
    app.cli.add_command(check_connector)
