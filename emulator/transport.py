"""How Twilio's requests reach an app: signing, URL rewriting, HTTP or in-process WSGI delivery.

Twilio signs a webhook for the URL it was told (the URL in the TwiML, or the console's voice
URL) and the emulator does the same. Delivery is a separate matter: a URL naming the app's
public host (``https://pay.example.com/...``) is delivered to the base the emulator was
pointed at, keeping path and query, as an ngrok tunnel would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator

from emulator.errors import DeliveryFailed

#: What Twilio's webhook requests say they are.
TWILIO_USER_AGENT = "TwilioProxy/1.1"
#: Twilio gives a webhook 15 s to answer (error 11205 after that).
WEBHOOK_TIMEOUT = 15.0


@dataclass
class Reply:
    """One HTTP answer, as the emulator saw it."""

    status: int
    body: bytes
    url: str
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        return ""

    def text(self, limit: int | None = None) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if limit is None or len(text) <= limit else text[:limit] + "…"


def signing_url(url: str) -> str:
    """The URL Twilio signs: credentials dropped, and the port dropped for https (voice)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.scheme != "https":
        netloc = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature for a request to ``url`` (as named) with form ``params``."""
    return RequestValidator(auth_token).compute_signature(signing_url(url), dict(params))


def delivery_url(named_url: str, base_url: str) -> str:
    """Where a request for ``named_url`` goes: the base's origin, the named path and query."""
    named, base = urlsplit(named_url), urlsplit(base_url)
    if (named.scheme, named.netloc) == (base.scheme, base.netloc):
        return named_url
    return urlunsplit((base.scheme, base.netloc, named.path or "/", named.query, ""))


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` appended to its query string (how Twilio sends a GET)."""
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode(list(params.items()))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class Transport(Protocol):
    """Delivers requests to the app under test (and to connectors)."""

    base_url: str

    def send(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,
    ) -> Reply:
        """Deliver one request to ``url`` (already rewritten).

        ``form`` is a form to encode, or a raw body (the connector's JSON). Raises
        DeliveryFailed when there is no HTTP answer (refused, reset, timed out).
        """
        ...


def _http_send(
    session: requests.Session | None,
    method: str,
    url: str,
    form: Mapping[str, str] | bytes | None,
    headers: Mapping[str, str],
    timeout: float | None,
) -> Reply:
    started = time.monotonic()
    caller = session.request if session is not None else requests.request
    try:
        response = caller(
            method,
            url,
            data=dict(form) if isinstance(form, Mapping) else form,
            headers=dict(headers),
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise DeliveryFailed(f"no answer from {url} within {timeout:g} s", timed_out=True) from exc
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise DeliveryFailed(f"cannot reach {url} ({reason})") from exc
    return Reply(
        status=response.status_code,
        body=response.content,
        url=url,
        seconds=time.monotonic() - started,
        headers=dict(response.headers),
    )


class HttpTransport:
    """Real HTTP to a running app at ``base_url`` (and to any other URL)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()

    def send(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,
    ) -> Reply:
        # Connector requests may run on several threads; a Session is not shared with them.
        on_main = threading.current_thread() is threading.main_thread()
        return _http_send(self._session if on_main else None, method, url, form, headers, timeout)


def call_with_timeout(fn: Callable[[], Any], timeout: float | None, what: str) -> Any:
    """Run ``fn`` on a daemon thread and give up after ``timeout`` seconds.

    An in-process request cannot be cancelled; like a Twilio request that timed out, it
    keeps running in the app while the caller moves on.
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="emulator-request")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise DeliveryFailed(f"no answer from {what} within {timeout:g} s", timed_out=True)
    if "error" in box:
        raise box["error"]
    return box["value"]


class WsgiTransport:
    """In-process delivery to a WSGI callable through werkzeug's test client.

    Requests for other origins (a connector override on another host) go over real HTTP.
    """

    def __init__(self, app: Callable[..., Any], base_url: str = "http://localhost") -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")

    def send(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,
    ) -> Reply:
        if not same_origin(url, self.base_url):
            return _http_send(None, method, url, form, headers, timeout)
        return call_with_timeout(
            lambda: self._send_in_process(method, url, form, headers), timeout, url
        )

    def _send_in_process(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | bytes | None,
        headers: Mapping[str, str],
    ) -> Reply:
        from werkzeug.test import Client

        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        started = time.monotonic()
        # One client per request: a Client is not meant to be shared between threads.
        response = Client(self.app).open(
            path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            method=method,
            data=dict(form) if isinstance(form, Mapping) else form,
            headers=dict(headers),
        )
        try:
            body = response.get_data()
            return Reply(
                status=response.status_code,
                body=body,
                url=url,
                seconds=time.monotonic() - started,
                headers=dict(response.headers),
            )
        finally:
            response.close()
