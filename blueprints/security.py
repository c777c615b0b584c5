"""Who may call what: Twilio's signature on /voice, HTTP Basic on /connector and /admin."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


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
        return view(*args, **kwargs)

    return wrapper


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
