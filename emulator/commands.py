"""``flask simulate-call`` and ``flask check-connector``: the emulator from the command line.

The app factory registers them (``app.cli.add_command(simulate_call)``). Settings come only
from ``current_app.config``: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, CONNECTOR_USERNAME,
CONNECTOR_PASSWORD, PAY_CONNECTOR (the one connector name that is "installed") and
PUBLIC_BASE_URL.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit, urlunsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from emulator.call import (
    DEFAULT_FROM,
    DEFAULT_TO,
    FAKE_ACCOUNT_SID,
    CallConfig,
    options_not_played,
    run_call,
)
from emulator.caller import Caller
from emulator.conformance import (
    CONTRACT_LATENCY,
    FAIL,
    NOTE,
    PASS,
    PAYLINE_LATENCY_TARGET,
    run_check,
)
from emulator.errors import EmulatorError
from emulator.pay import CONNECTOR_TIMEOUT, ConnectorEndpoint
from emulator.transport import HttpTransport, Transport, WsgiTransport
from emulator.twiml import PAY_STEPS

#: simulate-call's exit statuses (2 is click's: a bad option).
EXIT_BROKEN = 1  # the app broke the protocol, or could not be reached
EXIT_TWILIO_WARNED = 3  # only with --strict: TwiML Twilio warns about and plays past
EXIT_OPTION_UNUSED = 4  # an option given never came into play (the call did not test it)


def _connector_override(spec: str, username: str, password: str) -> tuple[str, ConnectorEndpoint]:
    """``NAME=URL``; credentials in the URL (``https://user:pass@host/...``) win over the app's."""
    name, sep, url = spec.partition("=")
    parts = urlsplit(url)
    if not sep or not name or parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{spec!r} is not NAME=URL", param_hint="--connector")
    if parts.username is not None:
        username, password = unquote(parts.username), unquote(parts.password or "")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return name, ConnectorEndpoint(url, username, password)


def _summary(fields: dict[str, str] | None) -> str:
    if not fields:
        return "no <Pay> ran"
    call_keys = {"AccountSid", "CallSid", "From", "To", "CallStatus", "Direction", "ApiVersion"}
    return ", ".join(f"{k}={v}" for k, v in fields.items() if k not in call_keys)


@click.command("simulate-call")
@click.option("--url", help="Base URL of a running app; without it, this app in-process (WSGI).")
@click.option("--path", default="/voice/incoming", show_default=True, help="The voice URL's path.")
@click.option("--from", "from_number", default=DEFAULT_FROM, show_default=True)
@click.option("--to", "to_number", default=DEFAULT_TO, show_default=True)
@click.option(
    "--digits",
    default="",
    help="Keys per <Gather>, comma-separated, in order (e.g. '1,42#'); '' presses nothing.",
)
@click.option("--card", help="Card number keyed at <Pay> (default: the Visa test card).")
@click.option("--expiry", help="MMYY (default: about two years ahead).")
@click.option("--cvv", help="Security code (default: a valid one for the card type).")
@click.option("--postal-code", help="Postal code (default 94111; '' presses nothing).")
@click.option("--bank-account", help="Bank account number (default: the 9-digit test account).")
@click.option("--routing-number", help="Routing number (default: an ABA-valid one).")
@click.option(
    "--star-at", type=click.Choice(PAY_STEPS), help="Press * at this step of the first <Pay>."
)
@click.option("--hangup-at", type=click.Choice(PAY_STEPS), help="Hang up at this <Pay> step.")
@click.option("--json", "as_json", is_flag=True, help="Print the transcript as one JSON document.")
@click.option(
    "--strict",
    is_flag=True,
    help=f"Exit {EXIT_TWILIO_WARNED} when Twilio would warn about the TwiML (e.g. 12200), "
    "though it plays past it.",
)
@click.option(
    "--connector",
    "connector_overrides",
    multiple=True,
    metavar="NAME=URL",
    help="Send paymentConnector NAME to URL (repeatable). Default: the app's /connector.",
)
@click.option(
    "--connector-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=CONNECTOR_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the connector before a retry (Twilio: 10).",
)
@with_appcontext
def simulate_call(
    url: str | None,
    path: str,
    from_number: str,
    to_number: str,
    digits: str,
    card: str | None,
    expiry: str | None,
    cvv: str | None,
    postal_code: str | None,
    bank_account: str | None,
    routing_number: str | None,
    star_at: str | None,
    hangup_at: str | None,
    as_json: bool,
    strict: bool,
    connector_overrides: tuple[str, ...],
    connector_timeout: float,
) -> None:
    """Call the app as Twilio would and print what the caller heard, pressed and paid.

    Exits 0 when the call ran to its end, whatever the payment's result; 1 when the app
    broke the protocol (TwiML Twilio would refuse, a non-2xx or non-TwiML answer, a refused
    signature) or could not be reached; 4 when an option given (--card, --star-at,
    --hangup-at, --cvv...) never came into play, so the call did not test what
    was asked; with --strict, 3 when Twilio would have warned about the TwiML (it plays past
    such mistakes, and so does the emulator, with a warning in the transcript).
    """
    config = current_app.config
    auth_token = config.get("TWILIO_AUTH_TOKEN")
    if not auth_token:
        raise click.ClickException(
            "TWILIO_AUTH_TOKEN is not configured; every webhook is signed with it"
        )
    username = config.get("CONNECTOR_USERNAME") or ""
    password = config.get("CONNECTOR_PASSWORD") or ""
    overrides = dict(_connector_override(spec, username, password) for spec in connector_overrides)
    installed = config.get("PAY_CONNECTOR") or "Default"
    if installed not in overrides:
        # The app's own connector is installed under the name the app says (PAY_CONNECTOR),
        # and only under that name: <Pay paymentConnector="Other"> fails as on Twilio.
        base = url.rstrip("/") if url else "http://localhost"
        overrides[installed] = ConnectorEndpoint(base + "/connector", username, password)
    supplied = {
        "card": card,
        "expiry": expiry,
        "cvv": cvv,
        "postal_code": postal_code,
        "bank_account": bank_account,
        "routing_number": routing_number,
    }
    try:
        caller = Caller(
            digits=digits.split(",") if digits else [],
            star_at=star_at,
            hangup_at=hangup_at,
            **{k: v for k, v in supplied.items() if v is not None},
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    transport: Transport = (
        HttpTransport(url) if url else WsgiTransport(current_app._get_current_object())  # type: ignore[attr-defined]
    )
    call_config = CallConfig(
        auth_token=auth_token,
        account_sid=config.get("TWILIO_ACCOUNT_SID") or FAKE_ACCOUNT_SID,
        from_number=from_number,
        to_number=to_number,
        path=path if path.startswith("/") else "/" + path,
        public_base_url=config.get("PUBLIC_BASE_URL") or None,
        connector_username=username,
        connector_password=password,
        connectors=overrides,
        installed_only=True,
        connector_timeout=connector_timeout,
    )
    on_line = None if as_json else click.echo
    on_warning = None if as_json else (lambda text: click.echo(f"warning: {text}", err=True))
    try:
        transcript = run_call(transport, call_config, caller, on_line, on_warning)
    except EmulatorError as exc:
        if as_json and exc.transcript is not None:
            click.echo(json.dumps(exc.transcript, indent=2))
        raise click.ClickException(str(exc)) from None
    given = [name for name, value in supplied.items() if value is not None]
    given += [name for name, value in (("star_at", star_at), ("hangup_at", hangup_at)) if value]
    transcript.unused_options.extend(options_not_played(transcript, caller, given))
    if as_json:
        click.echo(json.dumps(transcript.to_dict(), indent=2))
    else:
        click.echo(f"result: {_summary(transcript.result)}")
        for text in transcript.unused_options:
            click.echo(f"warning: {text}", err=True)
    if transcript.unused_options:
        raise SystemExit(EXIT_OPTION_UNUSED)
    if strict and transcript.twilio_warnings:
        if not as_json:
            count = len(transcript.twilio_warnings)
            click.echo(f"--strict: Twilio would warn {count} time(s) about this TwiML", err=True)
        raise SystemExit(EXIT_TWILIO_WARNED)


@click.command("check-connector")
@click.argument("url")
@click.option("--username", required=True, help="The connector's USERNAME (HTTP Basic).")
@click.option("--password", required=True, help="The connector's PASSWORD (HTTP Basic).")
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help=f"Seconds every answer must come within [default: the contract's "
    f"{CONTRACT_LATENCY:g}, Twilio's wait].",
)
@click.option(
    "--payline-target",
    is_flag=True,
    help=f"Hold the connector to PayLine's own tighter target of {PAYLINE_LATENCY_TARGET:g} s "
    "instead of the contract's limit.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=CONNECTOR_TIMEOUT,
    show_default=True,
    help="Seconds to wait for an answer (Twilio: 10).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
@with_appcontext
def check_connector(
    url: str,
    username: str,
    password: str,
    budget: float | None,
    payline_target: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Check any Generic Pay Connector at URL against Twilio's contract.

    Each case is PASS, NOTE (allowed by the contract, worth knowing), INFO (an input Twilio
    never forwards: not held against the connector) or FAIL (naming the rule it breaks).
    Exit 0 when no case fails, 1 otherwise.
    """
    if budget is None:
        budget = PAYLINE_LATENCY_TARGET if payline_target else CONTRACT_LATENCY
    results = run_check(url, username, password, budget=budget, timeout=timeout)
    passed = all(result.passed for result in results)
    if as_json:
        document = {
            "url": url,
            "passed": passed,
            "budget": budget,
            "cases": [r.to_dict() for r in results],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        width = max(len(result.name) for result in results)
        for result in results:
            latency = f"{result.latency:7.3f} s" if result.latency is not None else "      - "
            verdict = result.verdict.upper()
            click.echo(f"{result.name:<{width}}  {verdict:<4}  {latency}  {result.why}")
        count = {v: sum(r.verdict == v for r in results) for v in (PASS, NOTE, FAIL)}
        informational = len(results) - sum(count.values())
        click.echo(
            f"{count[FAIL]} failed, {count[NOTE]} with a note, {informational} for "
            f"information: {len(results) - count[FAIL]}/{len(results)} cases passed"
        )
    if not passed:
        raise SystemExit(1)
