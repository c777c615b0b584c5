"""Acceptance: behind the shipped nginx configuration, slow clients no longer starve PayLine.

96 connections each trickle a request header, one byte at a time (more connections than the
server's 2 workers × 16 threads). Through deploy/nginx/payline.conf, run by a real nginx, the
load balancer's /healthz and a connector charge are answered all along. Bounded: the trickle
lasts a few seconds, every socket is closed at the end.

nginx comes from Debian (`apt-get install -y nginx`, which .ci/run does); outside CI the test
skips with that hint when nginx is absent, under CI=true it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import basic_auth, card_charge
from tests.server import PROJECT, free_port, serve

SLOW_CLIENTS = 96
TRICKLE_ROUNDS = 6
"""One byte per connection per round, a round every second: the clients stay connected for
several seconds, each sending only part of a header."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found:
        return found
    message = "nginx is not installed: apt-get update && apt-get install -y nginx"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run this test)")
    pytest.skip(message)


def site_config(app_port: int, health_port: int, listen_port: int, logs: Path) -> str:
    """The shipped site file, pointed at this test's ports and directories."""
    text = (PROJECT / "deploy" / "nginx" / "payline.conf").read_text()
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    text = text.replace("server 127.0.0.1:8001;", f"server 127.0.0.1:{health_port};")
    text = re.sub(r"^(\s*)listen 8080;", rf"\1listen 127.0.0.1:{listen_port};", text, flags=re.M)
    return text.replace("/var/log/nginx/payline-error.log", str(logs / "nginx-site-error.log"))


def start_nginx(binary: str, directory: Path, site: str) -> subprocess.Popen:
    """A real nginx in the foreground, with `site` (the shipped file, adapted) as its only
    server, everything it writes kept under `directory`."""
    prefix = directory / "nginx"
    prefix.mkdir(exist_ok=True)
    (prefix / "payline.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {directory}/nginx-error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n"
        f"  include {prefix}/payline.conf;\n"
        "}\n"
    )
    args = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_nginx(nginx: subprocess.Popen) -> None:
    nginx.send_signal(signal.SIGQUIT)
    try:
        nginx.wait(timeout=15)
    except subprocess.TimeoutExpired:
        nginx.kill()
        nginx.wait(timeout=15)


@pytest.fixture
def proxied(tmp_path):
    binary = nginx_binary()
    health_port = free_port()
    server = serve(tmp_path, workers=2, HEALTH_PORT=str(health_port))
    listen = free_port()
    nginx = start_nginx(binary, tmp_path, site_config(server.port, health_port, listen, tmp_path))
    base = f"http://127.0.0.1:{listen}"
    try:
        _wait_for(base + "/healthz")
        yield base, server
    finally:
        stop_nginx(nginx)
        server.stop()


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


class Trickle:
    """SLOW_CLIENTS connections, each sending a request header one byte per round."""

    HEADER = b"POST /connector HTTP/1.1\r\nHost: payline\r\nX-Slow: "

    def __init__(self, port: int):
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(SLOW_CLIENTS)]
        self.rounds = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for index in range(TRICKLE_ROUNDS):
            for sock in self.sockets:
                try:
                    sock.sendall(self.HEADER[index : index + 1])
                except OSError:
                    pass
            self.rounds += 1
            if self.stop.wait(1.0):
                return

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def test_slow_clients_do_not_starve_healthz_or_the_connector_behind_the_proxy(proxied):
    base, server = proxied
    answered = []
    with Trickle(int(base.rsplit(":", 1)[1])) as trickle:
        while trickle.rounds < TRICKLE_ROUNDS - 1:
            health = requests.get(base + "/healthz", timeout=5)
            charge = requests.post(
                base + "/connector",
                json=card_charge(f"slow-{uuid.uuid4()}"),
                headers=basic_auth(),
                timeout=10,
            )
            assert health.status_code == 200 and health.json()["database"] is True
            assert charge.status_code == 200 and charge.json()["charge_id"], charge.text
            answered.append(trickle.rounds)
            time.sleep(0.3)

    assert len(answered) >= 3 and answered[-1] >= 3  # answers all along the trickle
    print(f"\nslow clients: {SLOW_CLIENTS} trickling, {len(answered)} health+charge pairs answered")


def test_healthz_has_a_listener_of_its_own(tmp_path):
    """HEALTH_PORT: each worker answers GET /healthz there, and nothing else."""
    health_port = free_port()
    server = serve(tmp_path, workers=2, HEALTH_PORT=str(health_port))
    try:
        health = requests.get(f"http://127.0.0.1:{health_port}/healthz", timeout=5)
        other = requests.get(f"http://127.0.0.1:{health_port}/admin/", timeout=5)
    finally:
        server.stop()

    assert health.status_code == 200 and health.json()["database"] is True
    assert other.status_code == 404
