"""PayLine: take card and bank payments over the phone with Twilio <Pay>, and be its connector.

`create_app()` is the factory; the module-level `app` is what gunicorn (`app:app`) and
`flask --app app` find.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from dotenv import load_dotenv
from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from cli import register_commands
from config import ConfigError, load_settings
from connector.redact import install_log_masking
from wiring import PayLine


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    install_log_masking()
    if os.environ.get("PAYLINE_ENV") == "development":
        load_dotenv()  # never in production: a stray .env must not switch on development mode
    _configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_settings(os.environ, test_config))
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    PayLine(app)

    from blueprints import admin, connector, voice
    from blueprints.errors import register_error_handlers

    app.register_blueprint(voice.bp)
    app.register_blueprint(connector.bp)
    app.register_blueprint(admin.bp)
    register_error_handlers(app)
    _register_health(app)
    register_commands(app)
    return app


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level.upper())


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """For the load balancer: 200 when the database answers with this code's schema;
        503 naming the reason when it is unreachable, uninitialised or behind."""
        try:
            problem = app.extensions["payline"].store().schema_problem()
        except Exception as error:
            app.logger.warning("health check: database unreachable (%s)", type(error).__name__)
            problem = "the database does not answer"
        body = {"status": "unavailable" if problem else "ok", "database": problem is None}
        if problem:
            body["reason"] = problem
        return jsonify(body), 503 if problem else 200


def _create_or_exit() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        raise SystemExit(str(error)) from None


app = _create_or_exit()
