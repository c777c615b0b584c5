"""What Twilio would refuse, and what it accepts but is a trap: the emulator says so."""

from __future__ import annotations

import pytest

from emulator import Caller, DeliveryFailed, HttpTransport, ProtocolError, TwimlRefused
from emulator.errors import Unsupported
from tests.emulator.fakeapp import serve

ACTION = 'action="https://pay.example.com/voice/pay/complete"'
CVV_PROMPT = "<Prompt for='security-code'"


def raw(fake_app, name: str, twiml) -> str:
    fake_app.config["RAW_TWIML"][name] = twiml
    return f"/voice/raw/{name}"


@pytest.mark.parametrize(
    ("twiml", "reason"),
    [
        (f"<Response><Pay {ACTION} chargeAmount='10.001'/></Response>", "more than 2 decimals"),
        (f"<Response><Pay {ACTION} chargeAmount='-5'/></Response>", "plain non-negative decimal"),
        (f"<Response><Pay {ACTION} chargeAmount='1e3'/></Response>", "plain non-negative decimal"),
        (f"<Response><Pay {ACTION} chargeAmount='$10'/></Response>", "plain non-negative decimal"),
        (f"<Response><Pay {ACTION} chargeAmount='1000000.01'/></Response>", "over the maximum"),
        (f"<Response><Pay {ACTION} maxAttempts='4'/></Response>", "maxAttempts must be one of"),
        (f"<Response><Pay {ACTION} timeout='0'/></Response>", "positive integer .*64020"),
        (f"<Response><Pay {ACTION} paymentMethod='paypal'/></Response>", "paymentMethod.*64013"),
        (f"<Response><Pay {ACTION} validCardTypes='visa bogus'/></Response>", "bogus"),
        (f"<Response><Pay {ACTION} bankAccountType='consumer-checking'/></Response>", "64017"),
        (
            f"<Response><Pay {ACTION} paymentMethod='ach-debit' bankAccountType='savings'/>"
            "</Response>",
            "bankAccountType must be one of",
        ),
        (
            "<Response><Pay action='http://pay.example.com/done'/></Response>",
            "must be an https URL",
        ),
        ("<Response><Redirect/></Response>", "needs a URL"),
    ],
)
def test_twiml_twilio_would_refuse_is_a_protocol_error(
    fake_app, wsgi_transport, place_call, twiml, reason
):
    with pytest.raises(TwimlRefused, match=reason.replace("$", r"\$")) as caught:
        place_call(wsgi_transport, path=raw(fake_app, "bad", twiml))
    assert caught.value.transcript["ended"] == "error"
    assert fake_app.extensions["fake"].connector_requests == []


def test_a_relative_action_on_a_public_https_document_is_https(
    fake_app, wsgi_transport, place_call
):
    path = raw(fake_app, "relative", "<Response><Pay action='/voice/pay/complete'/></Response>")
    transcript = place_call(wsgi_transport, Caller(), path=path)

    assert transcript.payments[0].action_url == "https://pay.example.com/voice/pay/complete"
    assert transcript.result["Result"] == "success"


def test_an_http_action_on_loopback_is_accepted_for_local_use(fake_app, place_call):
    fake_app.config["PUBLIC_BASE_URL"] = None
    twiml = "<Response><Pay chargeAmount='5.00' action='/voice/pay/complete'/></Response>"
    with serve(fake_app) as base_url:
        transcript = place_call(
            HttpTransport(base_url), path=raw(fake_app, "local", twiml), public_base_url=None
        )

    assert transcript.payments[0].action_url == f"{base_url}/voice/pay/complete"
    assert transcript.result["Result"] == "success"
    assert fake_app.extensions["fake"].signature_failures == []


def test_pay_without_action_warns_and_posts_back_to_the_document_url(
    fake_app, wsgi_transport, place_call
):
    path = raw(fake_app, "noaction", "<Response><Pay chargeAmount='5.00'/></Response>")
    with pytest.raises(ProtocolError, match="loops") as caught:
        place_call(wsgi_transport, path=path, max_steps=3)

    transcript = caught.value.transcript
    assert any("no action" in warning for warning in transcript["warnings"])
    assert transcript["payments"][0]["action_url"] == "https://pay.example.com/voice/raw/noaction"
    assert [s["url"] for s in transcript["steps"]] == [
        "https://pay.example.com/voice/raw/noaction"
    ] * 3


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((500, "oops", "text/html"), "HTTP 500"),
        ((302, "", "text/html"), "redirect"),
        ((200, "<html><body>hi</body></html>", "text/html"), "root element is <html>"),
        ((200, "not xml at all", "text/plain"), "not XML"),
        ((200, "", "text/xml"), "empty answer"),
    ],
)
def test_a_webhook_answer_that_is_not_twiml_is_a_protocol_error(
    fake_app, fake_transport, place_call, answer, reason
):
    with pytest.raises(ProtocolError, match=reason):
        place_call(fake_transport, path=raw(fake_app, "broken", answer))


def test_a_refused_signature_is_a_protocol_error(fake_app, fake_transport, place_call):
    with pytest.raises(ProtocolError, match="403: signature refused"):
        place_call(fake_transport, auth_token="not-the-apps-token")
    assert fake_app.extensions["fake"].signature_failures


def test_a_signature_for_another_public_url_is_refused(fake_app, wsgi_transport, place_call):
    with pytest.raises(ProtocolError, match="signed for https://elsewhere.example.com"):
        place_call(wsgi_transport, public_base_url="https://elsewhere.example.com")


def test_valid_twiml_the_emulator_does_not_play_is_unsupported_not_a_protocol_error(
    fake_app, wsgi_transport, place_call
):
    path = raw(fake_app, "record", "<Response><Record/></Response>")
    with pytest.raises(Unsupported, match="<Record>"):
        place_call(wsgi_transport, path=path)


def test_an_unreachable_app_is_reported(closed_port_url, place_call):
    with pytest.raises(DeliveryFailed, match="cannot reach"):
        place_call(HttpTransport(closed_port_url.rsplit("/", 1)[0]))


def test_dial_is_reported_not_connected_and_the_document_goes_on(
    fake_app, wsgi_transport, place_call
):
    twiml = "<Response><Dial>+14155550123</Dial><Say>After dial</Say></Response>"
    transcript = place_call(wsgi_transport, path=raw(fake_app, "dial", twiml))

    assert transcript.steps[0].dialed == ["+14155550123"]
    assert transcript.steps[0].said == ["After dial"]
    assert transcript.ended == "end-of-document"


def test_protocol_error_messages_never_carry_the_card_number(fake_app, wsgi_transport, place_call):
    visa = "4111111111111111"
    twiml = f"<Response><Say>{visa}</Say><Pay {ACTION} validCardTypes='{visa}'/></Response>"
    with pytest.raises(TwimlRefused) as caught:
        place_call(wsgi_transport, Caller(), path=raw(fake_app, "leak", twiml))

    assert visa not in str(caught.value)
    assert visa not in repr(caught.value.transcript)
    assert visa not in repr(Caller())
