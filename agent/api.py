"""Twilio's Payments API through twilio-python's REST client, with PayLine's retry rule.

`client.calls(sid).payments.create(...)` and `.payments(pk).update(capture=…|status=…)`: each
logical call is made with the idempotency key its operation row holds, and a try that got no
answer (a timeout, a reset connection, a 5xx or 429) is retried with that same key, so that
Twilio can tell the retry from a new call. A refusal (4xx with a Twilio code) is final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger(__name__)
_http_log = logging.getLogger("agent.api.http")
_http_log.setLevel(logging.WARNING)  # twilio-python logs every request and answer at INFO

TWILIO_API = "https://api.twilio.com"


class ApiRefused(Exception):
    """Twilio answered and refused the call (nothing was done): `code` is Twilio's error code."""

    def __init__(self, status: int, code: int | None, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ApiUnanswered(Exception):
    """No answer after every try: Twilio may or may not have acted on the call."""


@dataclass(frozen=True)
class ApiSettings:
    account_sid: str
    auth_token: str
    base_url: str | None = None
    """Where the REST API lives (None: api.twilio.com); the emulator's stand-in in development."""
    timeout_seconds: float = 10.0
    retries: int = 2
    """Further tries of an unanswered call, each with the same idempotency key."""


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio-python's HTTP client, sending what it addresses to api.twilio.com to `base_url`."""

    def __init__(self, base_url: str | None, timeout: float):
        super().__init__(timeout=timeout, logger=_http_log)
        self.base_url = (base_url or TWILIO_API).rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class PaymentsApi:
    """The two calls agent assist makes; `on_try` is told before each HTTP try."""

    def __init__(self, settings: ApiSettings, client: Client | None = None):
        self.settings = settings
        self.client = client or Client(
            settings.account_sid,
            settings.auth_token,
            http_client=BaseUrlHttpClient(settings.base_url, settings.timeout_seconds),
        )

    def create(
        self,
        call_sid: str,
        key: str,
        status_callback: str,
        params: dict[str, Any],
        on_try: Callable[[], None],
    ) -> str:
        """Start a payment session on the call; the new Payment SID."""
        payments = self.client.calls(call_sid).payments
        instance = self._with_retries(
            lambda: payments.create(idempotency_key=key, status_callback=status_callback, **params),
            on_try,
        )
        return str(instance.sid)

    def update(
        self,
        call_sid: str,
        payment_sid: str,
        key: str,
        status_callback: str,
        *,
        capture: str | None = None,
        status: str | None = None,
        on_try: Callable[[], None],
    ) -> None:
        """Ask for one field (`capture`) or end the session (`status`: complete | cancel)."""
        payment = self.client.calls(call_sid).payments(payment_sid)
        self._with_retries(
            lambda: payment.update(
                idempotency_key=key,
                status_callback=status_callback,
                capture=capture,
                status=status,
            ),
            on_try,
        )

    def _with_retries(self, call: Callable[[], Any], on_try: Callable[[], None]) -> Any:
        last: str = "no try was made"
        for _ in range(self.settings.retries + 1):
            on_try()
            try:
                return call()
            except TwilioRestException as error:
                if error.status >= 500 or error.status == 429:
                    last = f"Twilio answered HTTP {error.status}"
                    log.warning("Payments API: %s; trying again with the same key", last)
                    continue
                raise ApiRefused(error.status, error.code, str(error.msg)) from None
            except requests.RequestException as error:
                last = f"no answer from Twilio ({type(error).__name__})"
                log.warning("Payments API: %s; trying again with the same key", last)
        raise ApiUnanswered(last)
