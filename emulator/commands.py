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


# -- simulate-agent-payment (agent assist: the Payments API stand-in and an emulated agent) -------


@click.command("simulate-agent-payment")
@click.option("--url", help="Base URL of a running app; without it, this app in-process (WSGI).")
@click.option("--invoice", required=True, help="The invoice the agent takes a payment for.")
@click.option("--method", type=click.Choice(["card", "bank"]), default="card", show_default=True)
@click.option("--save", is_flag=True, help="Save the card on file instead of charging it.")
@click.option("--card", help="Card number the caller keys (default: the Visa test card).")
@click.option(
    "--expiry", multiple=True, help="MMYY the caller keys; repeat for each ask (a mistyped one)."
)
@click.option("--cvv", help="Security code (default: a valid one for the card).")
@click.option("--postal-code", help="Postal code (default 94111).")
@click.option("--bank-account", help="Bank account number (default: the 9-digit test account).")
@click.option("--routing-number", help="Routing number (default: an ABA-valid one).")
@click.option("--hangup-at", help="The caller hangs up when the agent asks for this field.")
@click.option("--confirmation", is_flag=True, help="Confirmation=true: the caller confirms.")
@click.option(
    "--match",
    multiple=True,
    type=click.Choice(["payment-card-number", "expiration-date", "security-code", "postal-code"]),
    help="RequireMatchingInputs: the caller keys this field twice (repeatable).",
)
@click.option("--agent-username", help="The console's user (default AGENT_USERNAME / ADMIN_*).")
@click.option("--agent-password", help="The console's password.")
@click.option(
    "--serve",
    is_flag=True,
    help="Play only Twilio and the caller, until Ctrl-C: you are the agent, in a browser (--url).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the transcript as one JSON document.")
@with_appcontext
def simulate_agent_payment(
    url: str | None,
    invoice: str,
    method: str,
    save: bool,
    card: str | None,
    expiry: tuple[str, ...],
    cvv: str | None,
    postal_code: str | None,
    bank_account: str | None,
    routing_number: str | None,
    hangup_at: str | None,
    confirmation: bool,
    match: tuple[str, ...],
    agent_username: str | None,
    agent_password: str | None,
    serve: bool,
    as_json: bool,
) -> None:
    """Take an agent-assisted payment end to end and print what the agent, Twilio and the
    caller did: the Payments API stand-in plays Twilio and the caller, an emulated agent
    drives the app's /agent console.

    In-process, the stand-in listens on a free loopback port and the app's REST client is
    pointed at it. With --url, the running app must have been started with
    TWILIO_API_BASE_URL=http://127.0.0.1:PORT, and this command (same setting) listens there.
    Exits 0 when the session reached a result, whatever it was; 1 when it could not.
    """
    import threading

    from emulator.agent_console import ConsoleAgent, take_payment
    from emulator.payments_api import AgentCaller, PaymentsApi

    config = current_app.config
    auth_token = config.get("TWILIO_AUTH_TOKEN")
    if not auth_token:
        raise click.ClickException("TWILIO_AUTH_TOKEN is not configured")
    username = agent_username or config.get("AGENT_USERNAME") or config.get("ADMIN_USERNAME")
    password = agent_password or config.get("AGENT_PASSWORD") or config.get("ADMIN_PASSWORD")
    if serve and not url:
        raise click.ClickException("--serve needs --url: the app a browser talks to")
    if not (username and password) and not serve:
        raise click.ClickException(
            "the agent console needs credentials: set AGENT_USERNAME and AGENT_PASSWORD "
            "(or pass --agent-username and --agent-password)"
        )
    host, port = "127.0.0.1", 0
    if url:
        parts = urlsplit(config.get("TWILIO_API_BASE_URL") or "")
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise click.ClickException(
                "with --url, start the app and run this command with the same "
                "TWILIO_API_BASE_URL=http://127.0.0.1:PORT: the stand-in listens there"
            )
        host, port = parts.hostname or host, parts.port or 80
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    transport: Transport = HttpTransport(url) if url else WsgiTransport(app)
    base = transport.base_url
    installed = config.get("PAY_CONNECTOR") or "Default"
    connector = ConnectorEndpoint(
        base + "/connector",
        config.get("CONNECTOR_USERNAME") or "",
        config.get("CONNECTOR_PASSWORD") or "",
    )
    lines: list[str] = []

    def report(text: str) -> None:
        lines.append(text)
        if not as_json:
            click.echo(text)

    api = PaymentsApi(
        account_sid=config.get("TWILIO_ACCOUNT_SID") or FAKE_ACCOUNT_SID,
        auth_token=auth_token,
        transport=transport,
        connectors={installed: connector},
        report=report,
    )
    try:
        caller = AgentCaller.keying(
            hangup_at=hangup_at,
            card=card,
            expiry=list(expiry) or None,
            cvv=cvv,
            postal_code=postal_code,
            bank_account=bank_account,
            routing_number=routing_number,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        server = api.serve(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc})") from None
    previous = config.get("TWILIO_API_BASE_URL")
    if not url:
        config["TWILIO_API_BASE_URL"] = server.url
    try:
        call_sid = api.add_call(caller)
        report(f"call {call_sid} in progress; the Payments API stand-in is at {server.url}")
        if serve:
            click.echo(
                f"open {(url or '').rstrip('/')}/agent/?call_sid={call_sid} (Ctrl-C to stop)"
            )
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                return
        agent = ConsoleAgent(transport, username or "", password or "")
        try:
            run = take_payment(
                agent,
                api,
                report,
                call_sid=call_sid,
                invoice=invoice,
                method=method,
                purpose="save" if save else "pay",
                confirmation=confirmation,
                require_matching_inputs=list(match),
            )
        except EmulatorError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        config["TWILIO_API_BASE_URL"] = previous
        server.close()
    if as_json:
        document = {
            "call_sid": call_sid,
            "lines": lines,
            "agent": run.to_dict(),
            "api_requests": [
                {"path": r.path, "form": r.form, "status": r.status, "replayed": r.replayed}
                for r in api.requests
            ],
            "callbacks": [cb for s in api.sessions.values() for cb in s.callbacks],
        }
        click.echo(json.dumps(document, indent=2))
    if run.view is None:
        raise click.ClickException("the session did not start")
    if not as_json:
        view = run.view
        click.echo(
            f"result: state={view['state']} result={view['result']} "
            f"confirmation={view['confirmation_code'] or '-'}"
        )
