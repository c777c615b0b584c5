"""Load on the real server (gunicorn from the Procfile, SQLite, loopback): figures and ratios.

    .venv/bin/python -m bench.connector_load [--workers 4] [--requests 400] [--concurrency 20]

Not a test: it asserts nothing about time; it prints what it measured.
1. throughput: distinct charges, N at a time;
2. storm: 50 concurrent copies of one slow charge; how long past the processor's delay the
   copies wait, and how often the processor was asked;
3. starvation: quick charges while copies of slow charges wait; their latency against (1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PAYLINE_ENV", "development")

import requests  # noqa: E402

from tests.conftest import basic_auth, card_charge  # noqa: E402
from tests.server import serve  # noqa: E402

SLOW_SECONDS = 2.0


def timed_charge(session: requests.Session, base: str, tid: str, amount: str = "10.00"):
    started = time.perf_counter()
    reply = session.post(
        base + "/connector", json=card_charge(tid, amount=amount), headers=basic_auth(), timeout=60
    )
    return time.perf_counter() - started, reply.json()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def throughput(base: str, count: int, concurrency: int) -> list[float]:
    session = requests.Session()
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        results = list(
            pool.map(lambda i: timed_charge(session, base, f"tp-{uuid.uuid4()}"), range(count))
        )
        elapsed = time.perf_counter() - started
    latencies = [latency for latency, _ in results]
    p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
    print(
        f"throughput: {count} charges, {concurrency} at a time: {count / elapsed:.0f} req/s, "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    return latencies


def storm(base: str, server) -> None:
    tid = f"storm-{uuid.uuid4()}"
    session = requests.Session()
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: timed_charge(session, base, tid, "10.53"), range(50)))
    latencies = [latency for latency, _ in results]
    ids = {answer["charge_id"] for _, answer in results}
    import json

    row = next(
        r for r in json.loads(server.flask("ledger", "--json").stdout) if r["transaction_id"] == tid
    )
    print(
        f"storm: 50 copies of one slow charge: {len(ids)} distinct answer(s), processor asked "
        f"{row['processor_requests']}x, charged {row['processor_charges']}x; slowest copy "
        f"{max(latencies):.2f} s = {max(latencies) / SLOW_SECONDS:.2f}x the processor's delay"
    )


def starvation(base: str, baseline: list[float], waiting: int) -> None:
    session = requests.Session()
    slow_ids = [f"slow-{uuid.uuid4()}" for _ in range(max(1, waiting // 6))]
    with ThreadPoolExecutor(waiting + 10) as pool:
        slow = [
            pool.submit(timed_charge, session, base, slow_ids[i % len(slow_ids)], "10.53")
            for i in range(waiting)
        ]
        time.sleep(0.3)
        quick = list(
            pool.map(lambda i: timed_charge(session, base, f"q-{uuid.uuid4()}")[0], range(100))
        )
        for future in slow:
            future.result()
    ratio = percentile(quick, 0.95) / percentile(baseline, 0.95)
    print(
        f"starvation: 100 quick charges while {waiting} copies of {len(slow_ids)} slow charges "
        f"wait: p95 {percentile(quick, 0.95) * 1000:.1f} ms = {ratio:.2f}x the unloaded p95; "
        f"median {statistics.median(quick) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        server = serve(
            Path(directory),
            workers=args.workers,
            SANDBOX_SLOW_SECONDS=str(SLOW_SECONDS),
            LOG_LEVEL="WARNING",
        )
        try:
            print(f"gunicorn: {args.workers} gthread workers x 16 threads, SQLite, loopback")
            baseline = throughput(server.base_url, args.requests, args.concurrency)
            storm(server.base_url, server)
            starvation(server.base_url, baseline, waiting=30)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
