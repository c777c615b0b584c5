"""`flask --app app operators ...`: the dashboard's operator accounts (a password hash, a role)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from storage.operators import ROLES, UnknownRole

operators_group = AppGroup("operators", help="Add, list and remove dashboard operators.")


@operators_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="viewer",
    show_default=True,
    help="viewer reads every page; operator may also reconcile, release, refund and note.",
)
@click.password_option(
    "--password",
    envvar="OPERATOR_PASSWORD",
    help="Prompted for (twice, hidden) unless given or set in OPERATOR_PASSWORD.",
)
def add_operator(name: str, role: str, password: str) -> None:
    """Add an operator, or set an existing operator's password and role."""
    from cli import opened_store

    if not name.strip() or ":" in name:
        raise click.ClickException("an operator name must be non-empty and without ':'")
    if len(password) < 12:
        raise click.ClickException("use a password of at least 12 characters")
    try:
        with opened_store() as store:
            new = store.save_operator(name, password, role)
    except UnknownRole as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"operator {name} ({role}) " + ("added" if new else "updated"))


@operators_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
def list_operators(as_json: bool) -> None:
    """Every operator account and its role (never a hash)."""
    from cli import opened_store

    with opened_store() as store:
        rows = store.list_operators()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['role']:<9} since {row['created_at']}")


@operators_group.command("remove")
@click.argument("name")
def remove_operator(name: str) -> None:
    """Remove an operator account; their audit entries stay."""
    from cli import opened_store

    with opened_store() as store:
        removed = store.remove_operator(name)
    if not removed:
        raise click.ClickException(f"no operator {name}")
    click.echo(f"operator {name} removed")
