"""Small helpers shared by the benchmarks: start processes, time loops, print a result table."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")


@dataclass
class Timing:
    name: str
    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000


def measure(name: str, count: int, step: Callable[[], object], warmup: int = 20) -> Timing:
    for _ in range(warmup):
        step()
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        step()
        latencies.append(time.perf_counter() - t0)
    return Timing(name, count, time.perf_counter() - start, latencies)


def report(title: str, subject: Timing, floor: Timing) -> str:
    ratio = subject.p50_ms / floor.p50_ms
    lines = [
        f"## {title}",
        "| measured | n | p50 ms | p99 ms | per s |",
        "|---|---|---|---|---|",
    ]
    for t in (subject, floor):
        lines.append(f"| {t.name} | {t.count} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | {t.per_second:.0f} |")
    lines.append(f"ratio (p50, ours / floor): {ratio:.1f}x")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(**overrides: str) -> dict[str, str]:
    tmp = Path(tempfile.mkdtemp(prefix="mkt-bench-"))
    env = {
        **os.environ,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "MARKETPLACE_DOMAIN": "localhost:8080",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "EXPLORER_URL": "http://127.0.0.1:9/api/v1",
        "THREEBOT_LOGIN_URL": "http://127.0.0.1:9",
        "OPENKYC_URL": "http://127.0.0.1:9",
        "IDENTITY_SEED_FILE": str(tmp / "identity.seed"),
        # The services verify assertions with the auth key: derived from this seed outside production.
        "AUTH_SIGNING_SEED_FILE": str(tmp / "auth.seed"),
        "LOCAL_DIR": str(tmp),
        # A benchmark drives many wizards per user as fast as it can: the per-user abuse limits stay out of its way.
        "CHATFLOW_OPEN_SESSIONS": "10000",
        "CHATFLOW_ANSWER_RATE_LIMIT": "1000000",
        "CHATFLOW_QUERY_RATE_LIMIT": "1000000",
    }
    env.update(overrides)
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], ready: Callable[[], bool], timeout: float = 60) -> Iterator[None]:
    # Appended to: the processes of one role (four deployer workers) share a file without overwriting each other.
    log = open(Path(env["LOCAL_DIR"]) / f"{args[-1]}.log", "ab")  # noqa: SIM115 — closed below
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    _sessions.append((env["LOCAL_DIR"], args[-1], proc.pid))
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"benchmark process did not start: {' '.join(args)} (log: {log.name})")
            time.sleep(0.2)
        yield
    finally:
        _sessions.remove((env["LOCAL_DIR"], args[-1], proc.pid))
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


# (LOCAL_DIR, last argument — the role —, pid) of every process started by `process`: a session of its own each.
_sessions: list[tuple[str, str, int]] = []


def pay_reservations(grid: str, reservation_ids: list[int], timeout: float = 60) -> None:
    """Pay capacity reservations on the grid emulator (it builds the correct memo/asset/amount payment) and wait
    until each is credited: the emulator credits payments after its payment delay, as the real explorer did."""
    for reservation_id in reservation_ids:
        requests.post(f"{grid}/_emulator/pay", json={"reservation_id": reservation_id}, timeout=10).raise_for_status()
    deadline = time.monotonic() + timeout
    for reservation_id in reservation_ids:
        while requests.get(f"{grid}/_emulator/reservations/{reservation_id}", timeout=10).json()["state"] != "paid":
            if time.monotonic() > deadline:
                raise SystemExit(f"reservation {reservation_id} was not credited within {timeout:g} s")
            time.sleep(0.2)


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


PYTHON = sys.executable


def scratch_name(name: str) -> str:
    """The scratch database ``name`` ends with the benchmark database's (idempotent)."""
    suffix = f"_{BENCH_DATABASE_URL.rsplit('/', 1)[1]}"
    return name if name.endswith(suffix) else name + suffix


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh database beside the benchmark one, dropped afterwards (benchmarks never touch the test database).
    Its name ends with the benchmark database's, so two people benchmarking on one server never share one."""
    import psycopg2
    from psycopg2 import sql

    def admin(statement: sql.Composable) -> None:
        conn = psycopg2.connect(BENCH_DATABASE_URL)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    name = scratch_name(name)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    admin(drop)
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield BENCH_DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin(drop)


def cpu_seconds(local_dir: str, role: str | None = None) -> float:
    """CPU time (user + system) so far of the live processes :func:`process` started with ``LOCAL_DIR=<local_dir>``
    (one benchmark world) and their children (a gunicorn master's workers, a Celery pool: the same session), of
    ``role`` only when given, read from /proc: what the work cost, whatever the machine's load did to the wall
    time. (By session, not by environment or command line: gunicorn and Celery rewrite both with setproctitle.)"""
    sessions = {pid for where, last, pid in _sessions if where == local_dir and role in (None, last)}
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) in sessions:  # session id (stat field 6)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")
