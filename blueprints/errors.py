"""Errors per surface: each answers in its own format, never Werkzeug's HTML page.

- /connector: the contract's JSON (`invalid_request`, or `processing_error` for a 5xx);
- /voice: TwiML (Twilio plays it; a caller never hears "an application error has occurred");
- /admin and the rest: a small HTML page of ours (or JSON for a client that asks for it).

Registered on the app (not the blueprints) because routing errors — 404, 405, 413 — happen
before any blueprint is chosen. No message repeats anything of the request: a path or a field
may hold a card number, so the text is chosen by status alone.
"""

from __future__ import annotations

import logging
from html import escape

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.protocol import ConnectorResponse, ErrorCode

log = logging.getLogger(__name__)

MESSAGES = {
    400: "the request could not be understood",
    401: "credentials required",
    403: "forbidden",
    404: "no such resource",
    405: "method not allowed on this resource",
    413: "request body is too large",
    414: "request URI is too long",
    429: "too many failed logins from this address; try again later",
    431: "request headers are too large",
}


def message_for(status: int) -> str:
    """A fixed text per status: never the exception's description, which may quote input."""
    if status >= 500:
        return "internal error; nothing was recorded for this request"
    return MESSAGES.get(status, "the request was refused")


def contract_error(status: int, message: str) -> Response:
    code = ErrorCode.PROCESSING_ERROR if status >= 500 else ErrorCode.INVALID_REQUEST
    response = jsonify(ConnectorResponse.error("charge", code, message).to_json())
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def voice_error_response(status: int) -> Response:
    """TwiML for a /voice request that failed: an apology, then goodbye.

    Unknown paths and methods answer 200, so that Twilio plays the apology instead of its own
    error message; a bad signature keeps 403 (Twilio never sends one; others learn nothing).
    """
    from ivr import twiml

    config = current_app.config
    voice = twiml.Voice(language=config["VOICE_LANGUAGE"], name=config["VOICE_NAME"])
    code = status if status in (401, 403, 413, 429) else 200
    return Response(str(twiml.apology(voice)), status=code, mimetype="text/xml")


def html_error(status: int) -> Response:
    title = f"{status} {escape(message_for(status))}"
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{title} · PayLine</title></head><body><h1>{title}</h1></body></html>\n"
    )
    return Response(body, status=status, mimetype="text/html")


def surface() -> str:
    path = request.path
    for name in ("connector", "voice", "admin"):
        if path == f"/{name}" or path.startswith(f"/{name}/"):
            return name
    return "other"


def error_response(error: HTTPException) -> Response:
    """The answer for an HTTP error on the request's surface (headers such as
    WWW-Authenticate and Retry-After kept)."""
    status = error.code or 500
    where = surface()
    if where == "connector":
        response = contract_error(status, message_for(status))
    elif where == "voice":
        response = voice_error_response(status)
    elif request.accept_mimetypes.best == "application/json":
        response = jsonify({"error": message_for(status)})
        response.status_code = status
    else:
        response = html_error(status)
    for name, value in error.get_headers():
        if name.lower() in ("www-authenticate", "retry-after", "allow"):
            response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return error_response(error)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if surface() == "connector":
            return contract_error(500, message_for(500))
        if surface() == "voice":
            return voice_error_response(500)
        return html_error(500)
