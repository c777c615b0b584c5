"""HTTPS to a payment gateway, in one place: session reuse, a time budget, unknown outcomes.

Every gateway adapter (`http`, `authorize_net`, the next one) posts through `GatewayClient`:

- one `requests.Session` per adapter, so connections and TLS sessions are reused across
  requests and threads (a pool as large as a worker's threads), and no automatic retries: a
  POST that moves money is never resent behind PayLine's back;
- a *total* time budget per exchange (connect + send + the whole answer), not only requests'
  per-read timeout, so that a gateway dripping bytes cannot hold the answer past Twilio's 10 s.
  `MAX_GATEWAY_SECONDS` is what fits inside those 10 s together with PayLine's own work;
- which failures leave the outcome unknown. Any failure after the request may have reached the
  gateway (a read timeout, a reset, a 5xx, a 409/429, a body that is too large or not what the
  adapter reads) raises `ProcessorUnavailable`: not final, ask again with the same key. A
  connection that was never made is unavailable too, but flagged `sent=False`, so an adapter
  knows that nothing can have been charged by that attempt.

Nothing here logs or repeats a request body: exception messages name the failure's kind only.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connector.processors import ProcessorUnavailable

TWILIO_WAIT_SECONDS = 10.0
"""Twilio gives up on a connector request after 10 s (and sends it again)."""
PAYLINE_WORK_SECONDS = 1.5
"""PayLine's own share of those 10 s: TLS from Twilio, the ledger's claim and answer."""
MAX_GATEWAY_SECONDS = TWILIO_WAIT_SECONDS - PAYLINE_WORK_SECONDS
CONNECT_SECONDS = 3.05
"""Slightly above a multiple of 3 s, TCP's retransmission window (requests' own advice)."""
MAX_ANSWER_BYTES = 1024 * 1024
POOL_SIZE = 16
"""gunicorn.conf.py's threads per worker: one connection per thread that may be asking."""


class GatewayUnavailable(ProcessorUnavailable):
    """The exchange failed; `sent` says whether the request may have reached the gateway."""

    def __init__(self, message: str, *, sent: bool = True):
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class GatewayReply:
    status: int
    content: bytes
    headers: dict[str, str]


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(name: str, url: str, *, allow_http: bool = False) -> str | None:
    """Why a gateway URL setting is unusable, or None: https, or http on loopback (a fake
    gateway in tests), or http anywhere when `allow_http` (development)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{name} must be an https:// URL"
    if parts.scheme == "http" and not (allow_http or is_loopback_url(url)):
        return f"{name} must be https:// (card data travels on it); http:// only on loopback"
    if parts.username or parts.password:
        return f"{name} must not carry credentials; use the adapter's own settings"
    return None


def timeout_problem(name: str, seconds: float) -> str | None:
    if not 1.0 <= seconds <= MAX_GATEWAY_SECONDS:
        return (
            f"{name} must be between 1 and {MAX_GATEWAY_SECONDS:g} seconds, so that the"
            f" gateway's answer fits inside Twilio's {TWILIO_WAIT_SECONDS:g} s"
        )
    return None


class GatewayClient:
    """POSTs to one gateway URL within a total time budget; thread-safe, built once per app."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float,
        session: requests.Session | None = None,
        clock: Any = time.monotonic,
    ):
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session

    def post(
        self,
        body: bytes,
        *,
        headers: dict[str, str],
        auth: tuple[str, str] | None = None,
        url: str | None = None,
    ) -> GatewayReply:
        """One exchange. Raises GatewayUnavailable (a ProcessorUnavailable) on any failure."""
        deadline = self.clock() + self.timeout_seconds
        connect = min(CONNECT_SECONDS, self.timeout_seconds)
        try:
            reply = self.session.post(
                url or self.url,
                data=body,
                headers=headers,
                auth=auth,
                timeout=(connect, self.timeout_seconds),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout:
            raise GatewayUnavailable("gateway connection timed out", sent=False) from None
        except requests.exceptions.SSLError:
            raise GatewayUnavailable("gateway TLS handshake failed", sent=False) from None
        except requests.exceptions.ConnectionError as failure:
            # A refused or unresolvable connection never carried the request; a reset after
            # connecting may have. requests tells them apart only by the wrapped cause.
            sent = not _never_connected(failure)
            raise GatewayUnavailable(
                f"gateway unreachable: {type(failure).__name__}", sent=sent
            ) from None
        except requests.exceptions.Timeout:
            raise GatewayUnavailable(
                f"gateway did not answer within {self.timeout_seconds:g}s"
            ) from None
        except requests.RequestException as failure:
            raise GatewayUnavailable(f"gateway exchange failed: {type(failure).__name__}") from None
        try:
            content = self._read(reply, deadline)
        finally:
            reply.close()
        return GatewayReply(
            status=reply.status_code,
            content=content,
            headers={k.lower(): v for k, v in reply.headers.items()},
        )

    def _read(self, reply: requests.Response, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in reply.iter_content(chunk_size=16 * 1024):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise GatewayUnavailable("gateway answer is too large")
                if self.clock() > deadline:
                    raise GatewayUnavailable(
                        f"gateway answer took longer than {self.timeout_seconds:g}s"
                    )
                chunks.append(chunk)
        except requests.RequestException as failure:
            raise GatewayUnavailable(
                f"gateway answer was cut off: {type(failure).__name__}"
            ) from None
        if self.clock() > deadline:
            raise GatewayUnavailable(f"gateway answer took longer than {self.timeout_seconds:g}s")
        return b"".join(chunks)


def _never_connected(failure: requests.exceptions.ConnectionError) -> bool:
    text = repr(failure.args[0] if failure.args else failure)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "NameResolutionError",
            "Connection refused",
            "Failed to establish a new connection",
        )
    )
