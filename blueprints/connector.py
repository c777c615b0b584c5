"""POST /connector: the Generic Pay Connector endpoint Twilio sends captured card data to.

The body is read raw and handed to connector.service; it is never logged. Every answer is the
contract's JSON, also the refusals (401, 400, 413, 405), never an HTML error page.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from blueprints.security import basic_auth_matches
from connector.protocol import MAX_BODY_BYTES, ConnectorResponse, ErrorCode

bp = Blueprint("connector", __name__)


@bp.post("/connector")
def connector() -> Response:
    """Charge or tokenize, once per transaction_id."""
    config = current_app.config
    if not basic_auth_matches(config["CONNECTOR_USERNAME"], config["CONNECTOR_PASSWORD"]):
        response = _error(401, "invalid or missing HTTP Basic credentials")
        response.headers["WWW-Authenticate"] = 'Basic realm="PayLine connector"'
        return response
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _error(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    service = current_app.extensions["payline"].connector_service()
    status, answer = service.handle(body)
    return _json(answer, status)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    if request.path.startswith("/connector"):
        return _error(error.code or 500, error.description or error.name)
    return error


def _error(status: int, message: str) -> Response:
    return _json(
        ConnectorResponse.error("charge", ErrorCode.INVALID_REQUEST, message).to_json(), status
    )


def _json(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
