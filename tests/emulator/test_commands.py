"""The two click commands, run through the fake app's CLI as the lead's factory registers them."""

from __future__ import annotations

import json

from tests.emulator.connectors import PASSWORD, USERNAME, Connector, serve_wsgi
from tests.emulator.fakeapp import CONNECTOR_PASSWORD, CONNECTOR_USERNAME, create_fake_app, serve

VISA = "4111111111111111"


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_simulate_call_json_prints_one_transcript_document(fake_app):
    result = invoke(fake_app, "simulate-call", "--digits", "1", "--cvv", "739", "--json")

    assert result.exit_code == 0, result.output
    transcript = json.loads(result.stdout)
    assert transcript["result"]["Result"] == "success"
    assert transcript["ended"] == "hangup"
    assert transcript["steps"][0]["url"] == "https://pay.example.com/voice/incoming"
    assert VISA not in result.output
    assert '"cvv": "739"' not in result.stdout


def test_simulate_call_readable_transcript_shows_each_step(fake_app):
    result = invoke(fake_app, "simulate-call", "--digits", "1")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "step 1: POST https://pay.example.com/voice/incoming" in out
    assert "said: Press 1 to pay by card" in out
    assert "pressed: xxxxxxxxxxxx1111#" in out
    assert "result: Result=success" in out
    assert VISA not in result.output


def test_simulate_call_over_http_with_url(fake_app):
    with serve(fake_app) as base_url:
        result = invoke(fake_app, "simulate-call", "--url", base_url, "--digits", "2", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"]["PaymentMethod"] == "ach-debit"


def test_simulate_call_exits_zero_on_a_payment_failure(fake_app):
    result = invoke(
        fake_app, "simulate-call", "--digits", "1", "--card", "4111111111111112", "--json"
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"]["Result"] == "too-many-failed-attempts"
    assert "4111111111111112" not in result.output


def test_simulate_call_star_and_hangup_options(fake_app):
    star = invoke(
        fake_app, "simulate-call", "--digits", "1", "--star-at", "security-code", "--json"
    )
    hangup = invoke(fake_app, "simulate-call", "--digits", "1", "--hangup-at", "postal-code")

    assert json.loads(star.stdout)["result"]["Result"] == "caller-interrupted-with-star"
    assert hangup.exit_code == 0 and "call ended: caller-hung-up" in hangup.stdout


def test_simulate_call_connector_override_and_timeout(fake_app, closed_port_url):
    result = invoke(
        fake_app,
        "simulate-call",
        "--digits",
        "1",
        "--connector",
        f"Default={closed_port_url}",
        "--connector-timeout",
        "0.5",
        "--json",
    )

    assert result.exit_code == 0, result.output
    transcript = json.loads(result.stdout)
    assert transcript["payments"][0]["connector_attempts"] == 6
    assert transcript["result"]["Result"] == "payment-connector-error"


def test_simulate_call_exits_non_zero_with_the_reason_when_the_app_breaks_the_protocol(fake_app):
    fake_app.config["RAW_TWIML"]["bad"] = (
        "<Response><Pay action='http://x.example.com/'/></Response>"
    )
    result = invoke(fake_app, "simulate-call", "--path", "/voice/raw/bad")

    assert result.exit_code == 1
    assert "must be an https URL" in result.stderr


def test_simulate_call_json_on_a_protocol_error_still_prints_one_document(fake_app):
    fake_app.config["RAW_TWIML"]["bad"] = "<Response><Pay chargeAmount='1e3'/></Response>"
    result = invoke(fake_app, "simulate-call", "--path", "/voice/raw/bad", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].endswith("(64003)")
    assert "chargeAmount must be a plain non-negative decimal" in result.stderr


def test_simulate_call_warnings_go_to_stderr_in_readable_mode(fake_app):
    fake_app.config["RAW_TWIML"]["noaction"] = "<Response><Pay/></Response>"
    result = invoke(fake_app, "simulate-call", "--path", "/voice/raw/noaction")

    assert result.exit_code == 1  # the document answers <Pay> again: the call loops
    assert "warning:" in result.stderr and "no action" in result.stderr


def test_simulate_call_needs_an_auth_token():
    app = create_fake_app(TWILIO_AUTH_TOKEN=None)
    result = invoke(app, "simulate-call")

    assert result.exit_code == 1
    assert "TWILIO_AUTH_TOKEN" in result.stderr


def test_simulate_call_refuses_a_non_digit_card_without_echoing_it(fake_app):
    result = invoke(fake_app, "simulate-call", "--card", "4111-1111")

    assert result.exit_code == 2
    assert "4111-1111" not in result.output


def test_check_connector_exits_zero_when_every_case_passes(fake_app):
    with serve(fake_app) as base_url:
        result = invoke(
            fake_app,
            "check-connector",
            f"{base_url}/connector",
            "--username",
            CONNECTOR_USERNAME,
            "--password",
            CONNECTOR_PASSWORD,
        )

    assert result.exit_code == 0, result.output
    assert "card-charge-visa" in result.stdout and "PASS" in result.stdout
    assert result.stdout.strip().endswith("cases passed")


def test_check_connector_json_and_exit_one_on_a_failure():
    app = create_fake_app(CONNECTOR_CHECKS_AUTH=False)
    with serve(app) as base_url:
        result = invoke(
            app,
            "check-connector",
            f"{base_url}/connector",
            "--username",
            CONNECTOR_USERNAME,
            "--password",
            CONNECTOR_PASSWORD,
            "--json",
        )

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["passed"] is False
    failing = [case["name"] for case in document["cases"] if not case["passed"]]
    assert failing == ["wrong-credentials", "missing-credentials"]


def _check_cli(connector, *options):
    app = create_fake_app()
    with serve_wsgi(connector) as url:
        return invoke(
            app, "check-connector", url, "--username", USERNAME, "--password", PASSWORD, *options
        )


def test_check_connector_labels_notes_and_information_and_still_exits_zero():
    result = _check_cli(Connector(declines=frozenset({"jcb"})))

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[:-1]}
    assert lines["card-charge-jcb"] == "NOTE"
    assert lines["luhn-invalid-card"] == "INFO"
    assert lines["card-charge-visa"] == "PASS"
    assert result.stdout.splitlines()[-1].startswith("0 failed, 2 with a note, 2 for information")


def test_check_connector_failure_lines_name_the_rule_and_quote_the_answer():
    result = _check_cli(Connector(requires=("description",)), "--json")

    assert result.exit_code == 1
    [case] = [
        c for c in json.loads(result.stdout)["cases"] if c["name"] == "charge-without-description"
    ]
    assert case["verdict"] == "fail" and case["rule"] == "optional-fields"
    assert "KeyError: 'description'" in case["why"]


def test_check_connector_budget_is_the_contracts_unless_payline_target_is_asked():
    default = json.loads(_check_cli(Connector(), "--json").stdout)
    tighter = json.loads(_check_cli(Connector(), "--json", "--payline-target").stdout)
    chosen = json.loads(_check_cli(Connector(), "--json", "--budget", "7").stdout)

    assert (default["budget"], tighter["budget"], chosen["budget"]) == (10.0, 5.0, 7.0)
    assert "budget 5 s" in tighter["cases"][-1]["why"]


def test_check_connector_reports_a_refused_connection(closed_port_url):
    result = invoke(
        create_fake_app(), "check-connector", closed_port_url, "--username", "u", "--password", "p"
    )

    assert result.exit_code == 1
    assert "connection refused: nothing listens at" in result.stdout
    assert "no answer within" not in result.stdout
