"""Fixtures for the emulator's tests: the fake app, in-process (WSGI) or on a loopback port."""

from __future__ import annotations

import socket

import pytest

from emulator import CallConfig, Caller, HttpTransport, WsgiTransport, run_call
from tests.emulator.fakeapp import (
    AUTH_TOKEN,
    CONNECTOR_PASSWORD,
    CONNECTOR_USERNAME,
    create_fake_app,
    serve,
)


@pytest.fixture
def fake_app():
    return create_fake_app()


@pytest.fixture(params=["wsgi", "http"])
def fake_transport(request, fake_app):
    """The fake app reached in-process, then again over real HTTP on 127.0.0.1."""
    if request.param == "wsgi":
        yield WsgiTransport(fake_app)
    else:
        with serve(fake_app) as base_url:
            yield HttpTransport(base_url)


@pytest.fixture
def wsgi_transport(fake_app):
    return WsgiTransport(fake_app)


def call_config(app, **overrides) -> CallConfig:
    settings = {
        "auth_token": AUTH_TOKEN,
        "public_base_url": app.config["PUBLIC_BASE_URL"],
        "connector_username": CONNECTOR_USERNAME,
        "connector_password": CONNECTOR_PASSWORD,
        "connector_timeout": 2.0,
        **overrides,
    }
    return CallConfig(**settings)


@pytest.fixture
def place_call(fake_app):
    """Play one call against the fake app: ``place_call(transport, Caller(...), **config)``."""

    def place(transport, caller: Caller | None = None, **config):
        return run_call(transport, call_config(fake_app, **config), caller or Caller())

    return place


@pytest.fixture
def closed_port_url():
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/connector"
