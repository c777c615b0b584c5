"""Slow clients against each front of PayLine: figures, not a test.

    .venv/bin/python -m bench.slow_clients [--clients 96] [--seconds 10]

CLIENTS connections trickle a request header (one byte per second) at one front while /healthz
is probed through it every half second (5 s timeout): gunicorn directly, each worker's
HEALTH_PORT listener, and nginx with deploy/nginx/payline.conf. Prints, per front, how many
probes were answered and the slowest answer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PAYLINE_ENV", "development")

import requests  # noqa: E402

import tests.test_slow_clients as slow  # noqa: E402
from tests.server import free_port, serve  # noqa: E402


def probe(url: str, trickle_port: int, clients: int, seconds: float) -> str:
    slow.SLOW_CLIENTS, slow.TRICKLE_ROUNDS = clients, int(seconds) + 1
    answered, failed, slowest = 0, 0, 0.0
    with slow.Trickle(trickle_port) as trickle:
        time.sleep(1.5)  # every connection has sent its first byte
        while trickle.rounds < slow.TRICKLE_ROUNDS - 1:
            started = time.monotonic()
            try:
                ok = requests.get(url, timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            slowest = max(slowest, time.monotonic() - started)
            answered, failed = answered + ok, failed + (not ok)
            time.sleep(0.5)
    return f"{answered} answered, {failed} failed or timed out, slowest {slowest:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="payline-slow-"))
    health_port = free_port()
    server = serve(directory, workers=2, HEALTH_PORT=str(health_port))
    nginx = None
    try:
        print(f"{args.clients} slow clients, 2 workers x 16 threads, {args.seconds:.0f} s each")
        direct = probe(server.base_url + "/healthz", server.port, args.clients, args.seconds)
        print(f"gunicorn directly:        {direct}")
        health = f"http://127.0.0.1:{health_port}/healthz"
        print(
            f"HEALTH_PORT (trickle on the main port): "
            f"{probe(health, server.port, args.clients, args.seconds)}"
        )
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if Path(binary).exists():
            listen = free_port()
            site = slow.site_config(server.port, health_port, listen, directory)
            nginx = slow.start_nginx(binary, directory, site)
            slow._wait_for(f"http://127.0.0.1:{listen}/healthz")
            proxied = probe(
                f"http://127.0.0.1:{listen}/healthz", listen, args.clients, args.seconds
            )
            print(f"nginx (deploy/nginx):     {proxied}")
        else:
            print("nginx: not installed (apt-get install -y nginx)")
    finally:
        if nginx is not None:
            slow.stop_nginx(nginx)
        server.stop()


if __name__ == "__main__":
    main()
