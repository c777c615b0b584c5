"""Who may call what, and what every answer carries.

- Twilio's signature on /voice; once it is checked, every field of the webhook (form and URL
  query) is replaced by its safe form (ivr.records.safe_webhook) before any view reads it.
- HTTP Basic on /connector and /admin, compared in constant time, with failed attempts
  throttled per surface and client address (counters in the database, so that every worker
  and instance agrees): after LOGIN_FAILURE_LIMIT wrong attempts in LOGIN_FAILURE_WINDOW_SECONDS
  a wrong attempt's 401 becomes a 429. Correct credentials are never throttled, so Twilio's
  retries and an operator behind the same address as an attacker are never slowed; guessing is
  hopeless anyway because production refuses weak secrets (config.py).
- A body over MAX_CONTENT_LENGTH gets 413 on every surface, whether or not a view reads it.
- Security headers on every answer (CSP, frame-ancestors, nosniff, Referrer-Policy, no-store).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, current_app, g, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

log = logging.getLogger(__name__)

THROTTLED_SURFACES = ("connector", "admin")


def public_url() -> str:
    """The URL Twilio requested, as Twilio signed it.

    Behind ngrok or a TLS-terminating proxy the request arrives as http://internal-host/...;
    with PUBLIC_BASE_URL set the URL is rebuilt on the public base. Either way the query string
    is kept exactly as sent (`request.url` would re-encode `%7E`, `%2F`, ...).
    """
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    path = quote(request.script_root + request.path)
    return base + path + (f"?{query}" if query else "")


def external_url(path: str) -> str:
    """An absolute URL for a path of ours, on PUBLIC_BASE_URL when it is set."""
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    return base + path


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403) a webhook whose X-Twilio-Signature does not match the public URL."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(public_url(), request.form, signature):
            log.warning("refused %s: missing or invalid X-Twilio-Signature", request.path)
            abort(403)
        make_webhook_safe()
        return view(*args, **kwargs)

    return wrapper


def make_webhook_safe() -> None:
    """Replace the request's form and query by their safe forms (after the signature check,
    which needs them as Twilio sent them)."""
    from ivr.records import safe_webhook

    form, query = safe_webhook(request.form.items(multi=True), request.args.items(multi=True))
    request.form = ImmutableMultiDict(form)  # type: ignore[misc]
    request.args = ImmutableMultiDict(query)  # type: ignore[misc]


def basic_auth_matches(username: str | None, password: str | None) -> bool:
    """Constant-time comparison of the request's HTTP Basic credentials."""
    try:
        auth = request.authorization
    except ValueError:  # a header Werkzeug cannot decode (non-ASCII, bad base64)
        return False
    if auth is None or auth.type != "basic" or not username or not password:
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), username.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), password.encode())
    return user_ok and password_ok


def _surface() -> str:
    return request.path.strip("/").split("/", 1)[0] or "root"


def _presented_credentials() -> bool:
    try:
        return request.authorization is not None
    except ValueError:  # undecodable: still an attempt
        return True


def throttle_failed_logins(response: Response) -> Response:
    """A 401 to a request that presented credentials counts as a failed login of its address;
    past the burst, the 401 becomes a 429 with Retry-After.

    Judged on the answer, after the surface decided (whatever decided it: the configured
    credentials, operator accounts), so that correct credentials are never throttled and no
    surface has to call anything.
    """
    if response.status_code != 401 or _surface() not in THROTTLED_SURFACES:
        return response
    if not _presented_credentials():
        return response  # a browser's first request, before the login prompt
    from storage.throttle import LoginThrottleStore

    config = current_app.config
    limit = int(config.get("LOGIN_FAILURE_LIMIT", 10))
    window = float(config.get("LOGIN_FAILURE_WINDOW_SECONDS", 300.0))
    scope, client = _surface(), request.remote_addr or "unknown"
    try:
        throttle = LoginThrottleStore(current_app.extensions["payline"].store().db)
        blocked = throttle.login_failures(scope, client, window) >= limit
        if not blocked:
            throttle.note_login_failure(scope, client, window)
    except Exception:  # the throttle must never lock the right credentials out
        log.exception("login throttle unavailable; the failed attempt was not counted")
        return response
    if not blocked:
        return response
    log.warning("throttled failed logins on /%s from %s", scope, client)
    from blueprints.errors import error_response

    return error_response(
        TooManyRequests(
            "too many failed logins from this address; try again later", retry_after=int(window)
        )
    )


# -- every answer ----------------------------------------------------------------------------

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; script-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def csp_nonce() -> str:
    """The request's CSP nonce, for an inline <style> or <script> of a template."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response: Response) -> Response:
    """Headers every answer carries; HTML answers also get a strict CSP and no caching."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html" or request.path.startswith("/admin"):
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=csp_nonce())
        headers.setdefault("X-Frame-Options", "DENY")
        headers["Cache-Control"] = "no-store"  # pages show payments
    return response


def refuse_large_bodies() -> None:
    """413 for a declared body over MAX_CONTENT_LENGTH, also where no view reads the body.
    (The connector enforces its own 64 KiB limit while reading.)"""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if limit and length is not None and length > limit:
        raise RequestEntityTooLarge()


def register_security(app: Flask) -> None:
    """Install the app-wide hooks (one line in create_app)."""
    app.before_request(refuse_large_bodies)
    app.after_request(security_headers)
    app.after_request(throttle_failed_logins)  # runs first: its 429 gets the headers too
    app.jinja_env.globals["csp_nonce"] = csp_nonce
