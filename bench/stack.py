"""PayLine against the ceilings of its own stack, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python -m bench.stack [--requests 600] [--concurrency 16] [--backends …]

Not a test: it asserts nothing about time. Every server runs on the same gunicorn settings
(gunicorn.conf.py: 2 workers × 16 threads unless WEB_CONCURRENCY / GUNICORN_THREADS say
otherwise), on loopback, each with its own fresh database. For each backend it measures:

- the ceilings (bench/ceiling.py): a bare Flask JSON echo, and a bare endpoint doing one durable
  insert through PayLine's connection layer (the storage ceiling);
- PayLine: connector charge with new ids, idempotent replay of one id, tokenize, and a signed
  `/voice/incoming`;
- for each: throughput at saturation (`--concurrency` clients, closed loop), p50 and p99, p99 at
  half the saturated rate (open loop, latency from each request's scheduled start), and server
  CPU time per request (user + system of gunicorn's master and workers);
- then charge p50 (one client) with the ledger at 1,000 and at 1,000,000 rows (bulk-seeded).

It prints a table of every figure as a ratio to the ceiling and writes it to bench/results.md
with a description of the machine. The PostgreSQL server is a temporary one of its own, with
fsync and synchronous_commit on, as in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import random
import signal
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

logging.getLogger("config").disabled = True  # tests.conftest builds a development app: no banner

from tests.backends import TemporaryPostgres, find_bindir  # noqa: E402
from tests.conftest import (  # noqa: E402
    AUTH_TOKEN,
    CONNECTOR_PASSWORD,
    CONNECTOR_USER,
    PUBLIC_BASE_URL,
    basic_auth,
    card_charge,
    signature,
    tokenize,
)
from tests.server import PROJECT, free_port  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.md"


@dataclass
class Figures:
    throughput: float
    p50: float
    p99: float
    p99_half: float
    cpu_ms: float


class Gunicorn:
    """One gunicorn server (same gunicorn.conf.py as PayLine), its CPU time readable."""

    def __init__(self, target: str, env: dict[str, str], log: Path):
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PAYLINE_", "GUNICORN"))},
            "PAYLINE_ENV": "production",
            "SECRET_KEY": "bench-secret",
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CONNECTOR_USERNAME": CONNECTOR_USER,
            "CONNECTOR_PASSWORD": CONNECTOR_PASSWORD,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --access-logfile /dev/null",
            **env,
        }
        self.target = target
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health: Callable[[], requests.Response]) -> Gunicorn:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", self.target],
                cwd=PROJECT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if health().ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.target} did not start: {self.log.read_text()[-2000:]}")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, IndexError, ValueError):
                continue
        return total

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _children(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return pids


Send = Callable[[requests.Session, int], requests.Response]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def saturate(server: Gunicorn, send: Send, count: int, concurrency: int) -> tuple[float, list]:
    local = threading.local()

    def one(i: int) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = send(session, i)
        assert response.status_code == 200, response.text[:200]
        return time.perf_counter() - started

    cpu = server.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    return count / elapsed, [latencies, (server.cpu_seconds() - cpu) / count]


def at_rate(send: Send, rate: float, count: int, offset: int) -> list[float]:
    """Open loop: request i is due at start + i / rate; its latency counts from then."""
    local = threading.local()
    start = time.perf_counter() + 0.05

    def one(i: int) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        response = send(session, offset + i)
        assert response.status_code == 200, response.text[:200]
        return time.perf_counter() - due

    with ThreadPoolExecutor(64) as pool:
        return list(pool.map(one, range(count)))


def measure(server: Gunicorn, send: Send, count: int, concurrency: int) -> Figures:
    send(requests.Session(), -1)  # for replay: the original
    saturate(server, lambda session, i: send(session, -2 - i), 50, concurrency)  # warm up
    throughput, (latencies, cpu) = saturate(server, send, count, concurrency)
    half = at_rate(send, throughput / 2, max(100, count // 2), offset=count)
    return Figures(
        throughput=throughput,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        p99_half=percentile(half, 0.99),
        cpu_ms=cpu * 1000,
    )


def run_id() -> str:
    """Letters only: ids must never look like a card number (the connector refuses those)."""
    return "".join(random.choices(string.ascii_lowercase, k=10))


def senders(base: str) -> dict[str, Send]:
    prefix = run_id()
    replay_id = f"replay-{prefix}"
    call = {"CallSid": "CA" + "0" * 32, "From": "+15005550006", "To": "+15005550001"}
    voice_signature = signature(PUBLIC_BASE_URL + "/voice/incoming", call)
    auth = basic_auth()

    def charge(session: requests.Session, i: int) -> requests.Response:
        body = card_charge(f"bench-{prefix}-n{i}")
        return session.post(base + "/connector", json=body, headers=auth, timeout=60)

    def replay(session: requests.Session, i: int) -> requests.Response:
        return session.post(base + "/connector", json=card_charge(replay_id), headers=auth)

    def tokenize_card(session: requests.Session, i: int) -> requests.Response:
        body = tokenize(card_charge(f"tok-{prefix}-n{i}"))
        return session.post(base + "/connector", json=body, headers=auth, timeout=60)

    def incoming(session: requests.Session, i: int) -> requests.Response:
        headers = {"X-Twilio-Signature": voice_signature}
        return session.post(base + "/voice/incoming", data=call, headers=headers, timeout=60)

    return {"charge": charge, "replay": replay, "tokenize": tokenize_card, "voice": incoming}


def ceiling_senders(base: str) -> dict[str, Send]:
    def echo(session: requests.Session, i: int) -> requests.Response:
        return session.post(base + "/echo", json={"transaction_id": i}, timeout=60)

    def insert(session: requests.Session, i: int) -> requests.Response:
        return session.post(base + "/insert", json={"transaction_id": i}, timeout=60)

    return {"echo": echo, "insert": insert}


def serial_p50(send: Send, count: int) -> float:
    session = requests.Session()
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        response = send(session, i)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies) * 1000


def seed_ledger(database_url: str, rows: int, start: int) -> float:
    """Bulk-insert finished ledger rows (one transaction; COPY on PostgreSQL)."""
    began = time.perf_counter()
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    response = '{"charge_id": "ch_seed", "error_code": null, "error_message": null}'

    def values(i: int) -> tuple:
        return (
            f"seed-{i:08d}",
            "charge",
            f"fp{i}",
            "done",
            "seed",
            0.0,
            1,
            1,
            response,
            "ch_seed",
            None,
            "card",
            "10.00",
            "USD",
            "visa",
            "1111",
            stamp,
            stamp,
        )

    columns = (
        "transaction_id, method, fingerprint, state, owner, lease_expires_at, claims,"
        " processor_calls, response, response_id, error_code, payment_method, amount,"
        " currency, card_brand, last4, created_at, updated_at"
    )
    if database_url.startswith("sqlite"):
        path = database_url[len("sqlite:///") :]
        lite = sqlite3.connect(path, timeout=60)
        with lite:
            lite.executemany(
                f"insert into connector_transactions ({columns}) values ({','.join('?' * 18)})",
                (values(i) for i in range(start, start + rows)),
            )
        lite.close()
    else:
        import psycopg

        with psycopg.connect(database_url) as pg, pg.cursor() as cursor:
            with cursor.copy(f"copy connector_transactions ({columns}) from stdin") as copy:
                for i in range(start, start + rows):
                    copy.write_row(values(i))
            cursor.execute("analyze connector_transactions")
    return time.perf_counter() - began


def create_insert_table(database_url: str) -> None:
    from storage.db import connect

    connection = connect(database_url)
    try:
        connection.execute(
            "create table if not exists bench_inserts (id text primary key, payload text,"
            " created_at text)"
        )
    finally:
        connection.close()


def median_figures(rounds: list[Figures]) -> Figures:
    return Figures(
        *(statistics.median(getattr(r, f) for r in rounds) for f in Figures.__dataclass_fields__)
    )


def bench_backend(name: str, database_url: str, workdir: Path, args) -> dict:
    env = {"DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "init-db"],
        cwd=PROJECT,
        env={**Gunicorn("app:app", env, workdir / "x.log").env},
        check=True,
        capture_output=True,
    )
    create_insert_table(database_url)
    results: dict = {}
    rounds: dict[str, list[Figures]] = {}
    ceiling = Gunicorn("bench.ceiling:app", env, workdir / f"ceiling-{name}.log")
    ceiling.start(lambda: requests.post(f"{ceiling.url}/echo", json={}, timeout=1))
    payline = Gunicorn("app:app", env, workdir / f"payline-{name}.log")
    payline.start(lambda: requests.get(f"{payline.url}/healthz", timeout=1))
    try:
        for round_number in range(args.rounds):  # interleaved, medians kept
            for server, endpoints in (
                (ceiling, ceiling_senders(ceiling.url)),
                (payline, senders(payline.url)),
            ):
                for label, send in endpoints.items():
                    figures = measure(server, send, args.requests, args.concurrency)
                    rounds.setdefault(label, []).append(figures)
                    print(
                        f"  {name:<10} round {round_number + 1} {label:<9}"
                        f" {figures.throughput:7.0f} req/s",
                        flush=True,
                    )
        results.update({label: median_figures(r) for label, r in rounds.items()})
        # the echo's p99 at the charge's half rate: the like-for-like tail comparison
        echo = ceiling_senders(ceiling.url)["echo"]
        half_rate = results["charge"].throughput / 2
        results["echo_p99_at_charge_half"] = percentile(
            at_rate(echo, half_rate, max(100, args.requests // 2), offset=0), 0.99
        )
        ceiling.stop()
        charge = senders(payline.url)["charge"]
        seed_ledger(database_url, 1_000, 0)
        serial_p50(charge, 30)  # warm up
        results["p50_1k"] = serial_p50(charge, args.serial)
        seeded = seed_ledger(database_url, args.rows - 1_000, 1_000)
        results["p50_1m"] = serial_p50(charge, args.serial)
        results["seed_seconds"] = seeded
        print(
            f"  {name:<10} charge p50 {results['p50_1k']:.1f} ms at 1k rows,"
            f" {results['p50_1m']:.1f} ms at {args.rows:,} (seeded in {seeded:.0f}s)",
            flush=True,
        )
    finally:
        ceiling.stop()
        payline.stop()
    return results


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    postgres = ""
    bindir = find_bindir()
    if bindir:
        postgres = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True
        ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores (shared), Linux {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {postgres}"
    )


def table(all_results: dict[str, dict], args) -> str:
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    threads = os.environ.get("GUNICORN_THREADS", "16")
    lines = [
        "| backend | endpoint | req/s | × echo | p50 ms | p99 ms | p99 @ ½ rate ms"
        " | × echo p99 @ ½ | CPU ms/req | × echo CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, results in all_results.items():
        echo = results["echo"]
        for label in ("echo", "insert", "charge", "replay", "tokenize", "voice"):
            f = results[label]
            lines.append(
                f"| {backend} | {label} | {f.throughput:.0f} | {f.throughput / echo.throughput:.2f}"
                f" | {f.p50:.1f} | {f.p99:.1f} | {f.p99_half:.1f}"
                f" | {f.p99_half / echo.p99_half:.1f} | {f.cpu_ms:.2f}"
                f" | {f.cpu_ms / echo.cpu_ms:.1f} |"
            )
    lines += [
        "",
        "| backend | charge ÷ storage ceiling (req/s) | charge CPU ÷ echo CPU"
        " | replay ÷ echo | voice ÷ echo | charge p99 @ ½ ÷ echo p99 at that rate"
        " | charge p50 1k rows | at 1M rows | 1M ÷ 1k |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, r in all_results.items():
        lines.append(
            f"| {backend} | {r['charge'].throughput / r['insert'].throughput:.2f}"
            f" | {r['charge'].cpu_ms / r['echo'].cpu_ms:.1f}"
            f" | {r['replay'].throughput / r['echo'].throughput:.2f}"
            f" | {r['voice'].throughput / r['echo'].throughput:.2f}"
            f" | {r['charge'].p99_half / r['echo_p99_at_charge_half']:.1f}"
            f" | {r['p50_1k']:.1f} ms | {r['p50_1m']:.1f} ms"
            f" | {r['p50_1m'] / r['p50_1k']:.2f} |"
        )
    header = (
        f"{workers} workers × {threads} threads (gunicorn.conf.py), {args.concurrency} clients,"
        f" {args.requests} requests per figure, median of {args.rounds} interleaved rounds,"
        f" ledger at 1,000 and {args.rows:,} rows;"
        " client and servers on the same machine."
    )
    return header + "\n\n" + "\n".join(lines)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on the way out
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serial", type=int, default=150, help="charges for each p50 at N rows")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (medians)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="payline-bench-"))
    all_results: dict[str, dict] = {}
    postgres = None
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{workdir / 'bench.sqlite3'}"
            else:
                bindir = find_bindir()
                if bindir is None:
                    print("  postgresql: skipped, no PostgreSQL binaries on this machine")
                    continue
                postgres = TemporaryPostgres(bindir, fsync=True, max_connections=200).start()
                url = postgres.create_database("bench")
            all_results[backend] = bench_backend(backend, url, workdir, args)
    finally:
        if postgres:
            postgres.stop()
    report = table(all_results, args)
    print("\n" + report)
    RESULTS.write_text(
        "# Benchmark results (`python -m bench.stack`)\n\n"
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()}.\n\n{report}\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(PROJECT)}")


if __name__ == "__main__":
    main()
