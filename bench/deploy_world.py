"""The world the deployment benchmarks run in, and what they count in it.

A fresh grid emulator, scratch database and Redis db per measured run (the emulator's cost per request grows with
what it holds, so every run starts from the same empty grid), a paid pool and a network already attached to the
nodes the run uses. Counted per run: transactions committed in the scratch database (``pg_stat_database``) and
requests the emulator answered per route (``GET /_emulator/stats``).

Statistics of PostgreSQL backends are flushed at most once a second while busy, up to ten seconds later when
idle, and always when the backend exits: a reading is taken only when no process is connected to the database.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import redis
import requests

from bench.harness import (
    BENCH_DATABASE_URL,
    PYTHON,
    bench_env,
    free_port,
    http_ok,
    pay_reservations,
    process,
    scratch_database,
    scratch_name,
)
from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import load_identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNobWFyayBrZXkgZm9yIHRoZSBkZXBsb3llcg bench@host"
OWNER = "bench.3bot"
# Beside BENCH_DATABASE_URL's database, dropped afterwards; its own name so parallel users of one server differ.
DATABASE = scratch_name(os.environ.get("BENCH_DEPLOY_DATABASE", "bench_deploy"))
FINAL = ("deployed", "rolled_back", "cancelled")


@dataclass
class World:
    env: dict[str, str]
    settings: Settings
    celery: Any
    database_url: str
    grid: str  # the emulator's base URL
    state_path: str  # its SQLite state file (read-only here, after the fact)
    pool: int
    grid_pool: int
    nodes: list[str]  # attached to network "bench", each with its own /24


def ubuntu(world: World, name: str, node: str) -> contracts.SubmitSolution:
    spec: dict[str, object] = {"name": name, "where": {"pool_id": world.pool, "node_id": node}, "network": "bench",
                               "ssh_key": SSH_KEY}  # fmt: skip
    return contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=OWNER, type="ubuntu", spec=spec,
                                    secrets="", pools=verified(world))  # fmt: skip


def verified(world: World) -> list[contracts.VerifiedPool]:
    """What the chatflow hands the deployer with a submission: the user's pool and its grid pool."""
    return [contracts.VerifiedPool(pool_id=world.pool, grid_pool_id=world.grid_pool)]


def submit_all(world: World, payloads: list[contracts.SubmitSolution], timeout: float = 300) -> list[str]:
    """Submitted all at once, as many wizards finishing together would, then the solution ids read back."""
    pending = [send(world.celery, contracts.DEPLOYER_SUBMIT, payload) for payload in payloads]
    return [str(result.get(timeout=timeout)["solution_id"]) for result in pending]


class Watcher:
    """The benchmark's own look at the database: one connection, its transactions counted so that they can be
    taken out of the database's total."""

    def __init__(self, database_url: str) -> None:
        self.db = Database(database_url, maxconn=1)
        self.transactions = 0

    def rows(self, query: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            cur.execute(query, args)
            rows = list(cur.fetchall())
        self.transactions += 1
        return rows

    def wait_final(self, ids: list[str], timeout: float = 1800, step: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {r["status"]: r["n"] for r in self.rows(
                "SELECT status, count(*) AS n FROM deployer.solutions WHERE id = ANY(%s::uuid[]) GROUP BY status",
                (ids,))}  # fmt: skip
            if sum(n for s, n in states.items() if s in FINAL) == len(ids):
                if states.get("deployed") != len(ids):
                    raise SystemExit(f"benchmark deployments did not all succeed: {states}")
                return
            time.sleep(step)
        raise SystemExit("benchmark deployments did not finish in time")

    def close(self) -> None:
        self.db.close()


def committed_transactions(timeout: float = 60) -> int:
    """``xact_commit`` of the scratch database once every backend on it has exited (and flushed its counts)."""
    conn = psycopg2.connect(BENCH_DATABASE_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            deadline = time.monotonic() + timeout
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (DATABASE,))
                if cur.fetchone()[0] == 0:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"processes still connected to {DATABASE} after {timeout:g} s")
                time.sleep(0.1)
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (DATABASE,))
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def explorer_requests(world: World) -> dict[str, int]:
    """Requests the emulator answered so far on the explorer API (its own /_emulator/ routes left out)."""
    counts = requests.get(f"{world.grid}/_emulator/stats", timeout=10).json()["requests"]
    return {key: n for key, n in counts.items() if key.split(" ", 1)[1].startswith("/api/v1/")}


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: n - before.get(key, 0) for key, n in after.items() if n - before.get(key, 0)}


def grid_rows(world: World, query: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the emulator's state file directly (read-only): what the grid knows, without an API call counted."""
    conn = sqlite3.connect(f"file:{world.state_path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(query, args))
    finally:
        conn.close()


def grid_clock_offset(world: World) -> float:
    return float(requests.get(f"{world.grid}/_emulator/clock", timeout=10).json()["offset"])


@contextmanager
def running(world: World, workers: int, beat: bool = True) -> Iterator[None]:
    """The measured processes: the pools worker, ``workers`` deployer workers (one task at a time each) and beat
    (the reconciler, and whatever else the deployer schedules by tick); every worker is consuming on return."""
    with ExitStack() as stack:
        stack.enter_context(process([PYTHON, "-m", "deploy.role", "pools-worker"],
                                    {**world.env, "WORKER_CONCURRENCY": "4"}, lambda: True))  # fmt: skip
        for _ in range(workers):
            stack.enter_context(process([PYTHON, "-m", "deploy.role", "deployer-worker"], world.env, lambda: True))
        if beat:
            stack.enter_context(process([PYTHON, "-m", "deploy.role", "beat"], world.env, lambda: True))
        for _ in range(workers * 3):
            send(world.celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=120)
        send(world.celery, contracts.POOLS_PING, contracts.Ping()).get(timeout=120)
        yield


def _pool(settings: Settings, grid: str, celery: Any) -> int:
    from services.pools import service as pools

    db = Database(settings.database_url, maxconn=2)
    explorer = Explorer(settings, load_identity(settings.identity_seed_file, create=True))
    try:
        pool_id, _ = pools.create_pool(db, explorer, settings, OWNER, uuid.uuid4().hex, 1, "TFT",
                                       2000 * 30 * 86400, 20000 * 30 * 86400, 30)  # fmt: skip
        with db.transaction() as cur:
            cur.execute("SELECT grid_pool_id FROM pools.pools WHERE id = %s", (pool_id,))
            grid_pool = cur.fetchone()["grid_pool_id"]
    finally:
        db.close()
        explorer.close()
    pay_reservations(grid, [grid_pool])
    send(celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
    return int(pool_id)


def _attach(world: World, count: int) -> list[str]:
    """The network "bench", then one Ubuntu on each further node so that the network reaches ``count`` nodes
    before anything is measured (a /24 per node: at most ~250 containers each)."""
    watcher = Watcher(world.database_url)
    try:
        net = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=OWNER, type="network",
                                       spec={"name": "bench", "pool_ids": [world.pool]}, secrets="",
                                       pools=verified(world))  # fmt: skip
        watcher.wait_final(submit_all(world, [net]))
        first = watcher.rows("SELECT node_id FROM deployer.network_subnets WHERE node_id IS NOT NULL")[0]["node_id"]
        pool = requests.get(f"{world.grid}/api/v1/reservations/pools/{world.grid_pool}", timeout=10).json()
        others = [n for n in pool["node_ids"] if n != first]
        nodes = [first, *others[: count - 1]]
        if len(nodes) < count:
            raise SystemExit(f"the pool has {len(nodes)} nodes, {count} needed")
        if count > 1:
            watcher.wait_final(submit_all(world, [ubuntu(world, f"attach{i}", n) for i, n in enumerate(nodes[1:])]))
        return nodes
    finally:
        watcher.close()


@contextmanager
def world(nodes: int = 1, deploy_latency: float = 0.0, **settings: str) -> Iterator[World]:
    """Set up with no grid latency and no measured process running; ``deploy_latency`` applies from the yield."""
    grid_port = free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    with scratch_database(DATABASE) as database_url:
        env = bench_env(LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"), DATABASE_URL=database_url,
                        EXPLORER_URL=f"{grid}/api/v1", OVER_PROVISIONING="true", WORKER_CONCURRENCY="1",
                        QUERY_TIMEOUT="30", **settings)  # fmt: skip
        migrate(database_url, ("pools", "deployer"))
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        loaded = load_settings(env)
        celery = make_celery(loaded)
        state_path = f"{env['LOCAL_DIR']}/grid.sqlite3"
        # Made once before any process starts: workers starting together would each create it, and one could
        # read another's half-written file.
        load_identity(loaded.identity_seed_file, create=True)
        grid_args = ["--port", str(grid_port), "--state", state_path, "--nodes", "50",
                     "--deploy-latency", "0", "--delete-latency", "0"]  # fmt: skip
        try:
            with process([PYTHON, "-m", "emulators.grid", *grid_args], env, http_ok(f"{grid}/_emulator/healthz")):
                the_world = World(env, loaded, celery, database_url, grid, state_path, 0, 0, [])
                with running(the_world, workers=1, beat=False):
                    the_world.pool = _pool(loaded, grid, celery)
                    watcher = Watcher(database_url)
                    grid_pool = watcher.rows("SELECT grid_pool_id FROM pools.pools WHERE id = %s",
                                             (the_world.pool,))[0]["grid_pool_id"]  # fmt: skip
                    watcher.close()
                    the_world.grid_pool = int(grid_pool)
                    the_world.nodes = _attach(the_world, nodes)
                if deploy_latency:
                    requests.post(f"{grid}/_emulator/config", json={"deploy_latency": deploy_latency},
                                  timeout=10).raise_for_status()  # fmt: skip
                yield the_world
        finally:
            close_celery(celery)
