"""Errors per surface: the connector answers the contract's JSON, never an HTML page.

Registered on the app (not the connector blueprint) because routing errors — 404, 405 —
happen before any blueprint is chosen. The voice blueprint has its own handler (TwiML).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from connector.protocol import ConnectorResponse, ErrorCode

log = logging.getLogger(__name__)


def contract_error(status: int, message: str) -> Response:
    code = ErrorCode.PROCESSING_ERROR if status >= 500 else ErrorCode.INVALID_REQUEST
    response = jsonify(ConnectorResponse.error("charge", code, message).to_json())
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_connector() -> bool:
    return request.path == "/connector" or request.path.startswith("/connector/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _is_connector():
            return contract_error(error.code or 500, error.description or error.name)
        return error

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_connector():
            return contract_error(500, "internal error; nothing was recorded for this request")
        return InternalServerError()
