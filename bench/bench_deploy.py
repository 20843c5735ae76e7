"""100 Ubuntu solutions end to end through the deployer, with 1 and 4 deployer workers, against the floor.

Ours: ``deployer.submit_solution`` × 100 into one network (each: a capacity check by the pools worker, planning,
IP allocation, a container recorded, signed, sent and awaited), timed until all 100 are ``deployed``. The floor: a
minimal script that signs the same kind of container workloads and posts them straight to the emulator, then
polls each until deployed. Zero emulator latency, so only our own overhead shows. ``OVER_PROVISIONING=true``
lets a hundred 1-vCPU containers share one node (the emulator still checks disk).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from bench.harness import PYTHON, bench_env, free_port, http_ok, pay_reservations, process, scratch_database
from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import load_identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send
from services.deployer.grid.client import GridClient
from services.deployer.grid.kinds import Kind
from services.deployer.grid.network_plan import Member, network_resource_fields, peers_for, wg_keypair
from services.deployer.grid.render import render
from services.deployer.solutions.base import Placed, WorkloadPlan, container_fields

N = 100
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNobWFyayBrZXkgZm9yIHRoZSBkZXBsb3llcg bench@host"
OWNER = "bench.3bot"


def _pool(settings: Settings, grid: str, celery: Any) -> int:
    from services.pools import service as pools

    db = Database(settings.database_url, maxconn=2)
    explorer = Explorer(settings, load_identity(settings.identity_seed_file, create=True))
    try:
        pool_id, _ = pools.create_pool(db, explorer, settings, OWNER, uuid.uuid4().hex, 1, "TFT",
                                       100 * 30 * 86400, 1000 * 30 * 86400, 30)  # fmt: skip
        with db.transaction() as cur:
            cur.execute("SELECT grid_pool_id FROM pools.pools WHERE id = %s", (pool_id,))
            grid_pool = cur.fetchone()["grid_pool_id"]
    finally:
        db.close()
        explorer.close()
    pay_reservations(grid, [grid_pool])
    send(celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
    return int(pool_id)


def _wait(db: Database, ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as cur:
            cur.execute("SELECT status, count(*) AS n FROM deployer.solutions WHERE id = ANY(%s::uuid[]) "
                        "GROUP BY status", (ids,))  # fmt: skip
            states = {r["status"]: r["n"] for r in cur.fetchall()}
        if sum(n for s, n in states.items() if s in ("deployed", "rolled_back", "cancelled")) == len(ids):
            if states.get("deployed") != len(ids):
                raise SystemExit(f"benchmark deployments did not all succeed: {states}")
            return
        time.sleep(0.05)
    raise SystemExit("benchmark deployments did not finish in time")


def _ours(env: dict[str, str], celery: Any, db: Database, pool: int, node: str, workers: int, tag: str) -> float:
    procs = [process([PYTHON, "-m", "deploy.role", "deployer-worker"], {**env, "LOCAL_DIR": env["LOCAL_DIR"]},
                     lambda: True) for _ in range(workers)]  # fmt: skip
    for p in procs:
        p.__enter__()
    try:
        for _ in range(workers * 3):  # every worker is consuming
            send(celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=60)
        start = time.perf_counter()
        pending = []
        for i in range(N):  # as a hundred wizards finishing at once would: submitted without waiting
            spec = {"name": f"{tag}{i}", "where": {"pool_id": pool, "node_id": node}, "network": "bench",
                    "ssh_key": SSH_KEY}  # fmt: skip
            payload = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=OWNER, type="ubuntu", spec=spec)
            pending.append(send(celery, contracts.DEPLOYER_SUBMIT, payload))
        ids = [result.get(timeout=60)["solution_id"] for result in pending]
        _wait(db, ids)
        return time.perf_counter() - start
    finally:
        for p in procs:
            p.__exit__(None, None, None)


def _floor(settings: Settings, grid_pool: int, node: dict[str, Any]) -> float:
    """The same work without us: sign N containers, post them, poll each until deployed."""
    identity = load_identity(settings.identity_seed_file)
    grid = GridClient(Explorer(settings, identity))
    private, public = wg_keypair()
    member = Member(node_id=node["node_id"], subnet="10.250.1.0/24", public_key=public, port=4321, ipv4=None,
                    ipv6=None)  # fmt: skip
    from services.common.identity import seal_to_node

    nr = network_resource_fields("bench_floor", "10.250.0.0/16", member, seal_to_node(node["node_id"], private),
                                 peers_for(member, [member], []))  # fmt: skip
    placed = Placed("c", node["node_id"], grid_pool)
    record = {"owner": OWNER, "name": "floor", "chatflow": "ubuntu", "solution_uuid": uuid.uuid4().hex}
    nr_plan = WorkloadPlan("nr", Kind.NETWORK_RESOURCE, "c", nr)
    nr_body = render(nr_plan, placed, tid=grid.tid, identity=identity, metadata=record, secrets={},
                     epoch=int(time.time()))  # fmt: skip
    nr_id = grid.create_workload(nr_body)
    while not grid.workload(nr_id)["result"].get("workload_id"):
        time.sleep(0.01)
    start = time.perf_counter()
    ids = []
    for i in range(N):
        fields = container_fields(flist="https://hub.grid.tf/tf-bootable/3bot-ubuntu-20.04.flist", cpu=1,
                                  memory=1024, disk=256, network="bench_floor", ip=f"10.250.1.{i + 2}",
                                  entrypoint="/bin/bash /start.sh", environment={"pub_key": SSH_KEY})  # fmt: skip
        body = render(WorkloadPlan("c", Kind.CONTAINER, "c", fields), placed, tid=grid.tid, identity=identity,
                      metadata=record, secrets={}, epoch=int(time.time()))  # fmt: skip
        ids.append(grid.create_workload(body))
    for grid_id in ids:
        while not grid.workload(grid_id)["result"].get("workload_id"):
            time.sleep(0.01)
    return time.perf_counter() - start


@contextmanager
def _world() -> Iterator[tuple[dict[str, str], Any, Database, int, str, int]]:
    """A fresh emulator, database and pools worker with a paid pool and a one-node network (the emulator's cost
    per request grows with what it holds, so every measured run starts from the same empty grid)."""
    grid_port = free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    with scratch_database("bench_deploy") as database_url:
        env = bench_env(LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"), DATABASE_URL=database_url,
                        EXPLORER_URL=f"{grid}/api/v1", OVER_PROVISIONING="true", WORKER_CONCURRENCY="1",
                        DEPLOY_POLL_INTERVAL="0.2", QUERY_TIMEOUT="30")  # fmt: skip
        migrate(database_url, ("pools", "deployer"))
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        settings = load_settings(env)
        celery = make_celery(settings)
        db = Database(database_url, maxconn=2)
        grid_args = ["--port", str(grid_port), "--state", f"{env['LOCAL_DIR']}/grid.sqlite3", "--nodes", "50",
                     "--deploy-latency", "0", "--delete-latency", "0"]  # fmt: skip
        try:
            with process([PYTHON, "-m", "emulators.grid", *grid_args], env, http_ok(f"{grid}/_emulator/healthz")), \
                 process([PYTHON, "-m", "deploy.role", "pools-worker"], {**env, "WORKER_CONCURRENCY": "4"},
                         lambda: True):  # fmt: skip
                pool = _pool(settings, grid, celery)
                with process([PYTHON, "-m", "deploy.role", "deployer-worker"], env, lambda: True):
                    net = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=OWNER, type="network",
                                                   spec={"name": "bench", "pool_ids": [pool]})  # fmt: skip
                    _wait(db, [send(celery, contracts.DEPLOYER_SUBMIT, net).get(timeout=60)["solution_id"]])
                with db.transaction() as cur:
                    cur.execute("SELECT node_id FROM deployer.network_subnets WHERE node_id IS NOT NULL")
                    node_id = cur.fetchone()["node_id"]
                    cur.execute("SELECT grid_pool_id FROM pools.pools WHERE id = %s", (pool,))
                    grid_pool = int(cur.fetchone()["grid_pool_id"])
                yield env, celery, db, pool, node_id, grid_pool
        finally:
            db.close()
            close_celery(celery)


def run() -> str:
    with _world() as (env, _celery, _db, _pool_id, node_id, grid_pool):
        floor = _floor(load_settings(env), grid_pool, {"node_id": node_id})
    rows = []
    for workers in (1, 4):
        with _world() as (env, celery, db, pool, node_id, _grid_pool):
            rows.append((workers, _ours(env, celery, db, pool, node_id, workers, f"w{workers}x")))
    lines = ["## 100 Ubuntu solutions end to end (zero grid latency)",
             "| measured | seconds | solutions/s | ratio to floor |", "|---|---|---|---|"]  # fmt: skip
    for workers, seconds in rows:
        lines.append(f"| deployer, {workers} worker{'s' if workers > 1 else ''} | {seconds:.1f} | {N / seconds:.1f} "
                     f"| {seconds / floor:.2f}x |")  # fmt: skip
    lines.append(f"| signed workloads posted straight to the emulator (floor) | {floor:.1f} | {N / floor:.1f} | 1x |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
