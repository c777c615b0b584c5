"""POST /connector: the Generic Pay Connector endpoint Twilio sends captured card data to.

The body is read raw, at most 64 KiB, and handed to connector.service; it is never logged.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from blueprints.errors import contract_error
from blueprints.security import basic_auth_matches
from connector.protocol import MAX_BODY_BYTES

bp = Blueprint("connector", __name__)


@bp.route("/connector", methods=["POST"], provide_automatic_options=False)
def connector() -> Response:
    """Charge or tokenize, once per transaction_id."""
    config = current_app.config
    if not basic_auth_matches(config["CONNECTOR_USERNAME"], config["CONNECTOR_PASSWORD"]):
        response = contract_error(401, "invalid or missing HTTP Basic credentials")
        response.headers["WWW-Authenticate"] = 'Basic realm="PayLine connector"'
        return response
    try:
        body = request.stream.read(MAX_BODY_BYTES + 1)
    except Exception:  # a broken chunked encoding, a client that hung up mid-body
        return contract_error(400, "the request body could not be read")
    if len(body) > MAX_BODY_BYTES:
        return contract_error(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    status, answer = current_app.extensions["payline"].connector_service().handle(body)
    response = jsonify(answer)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
