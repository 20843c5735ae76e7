"""The deployer against real parts: a grid emulator, pools and deployer workers as processes, PostgreSQL, Redis.

One world per test package: a fresh emulator (its ids restart at 1, so our deployer/pools tables start empty),
a pools worker (capacity checks), two deployer workers, and the deployer web app in process for the API.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
import requests
from celery import Celery
from flask import Flask
from redis import Redis

from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import Identity, load_identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send
from services.deployer.context import Deployer
from services.deployer.grid.client import GridClient
from tests.conftest import (
    AUTH_SIGNER,
    PYTHON,
    TEST_DATABASE_URL,
    Processes,
    base_env,
    free_port,
    redis_db_url,
    user_headers,
    wait_http,
)
from tests.integration.threebot_double import make_certificate, ready_url

FINAL = ("deployed", "rolled_back", "cancelled")
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5b3JlbSBpcHN1bSBkb2xvciBzaXQgYW1ldA alice@laptop"


def sql(query: str, *args: Any) -> list[dict[str, Any]]:
    conn = psycopg2.connect(TEST_DATABASE_URL)
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(query, args)
            return [dict(r) for r in cur.fetchall()] if cur.description else []
    finally:
        conn.close()


def verified_pools(owner: str) -> list[contracts.VerifiedPool]:
    """What the chatflow hands the deployer with a submission: the owner's pools and their grid pools (and no
    one else's, whatever the spec names)."""
    rows = sql("SELECT id, grid_pool_id FROM pools.pools WHERE owner = %s AND grid_pool_id IS NOT NULL", owner)
    return [contracts.VerifiedPool(pool_id=r["id"], grid_pool_id=r["grid_pool_id"]) for r in rows]


@dataclass
class DeployerWorld:
    env: dict[str, str]
    settings: Settings
    grid: str
    celery: Celery
    app: Flask
    identity: Identity
    processes: Processes
    tmp: Path
    pools: dict[str, int] = field(default_factory=dict)
    workers: list[Any] = field(default_factory=list)
    beat: Any = None

    # -- grid ------------------------------------------------------------------------------------------------
    def admin(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(f"{self.grid}/_emulator/{path}", json=body or {}, timeout=10)

    def grid_workload(self, grid_id: int) -> dict[str, Any]:
        return dict(requests.get(f"{self.grid}/api/v1/reservations/workloads/{grid_id}", timeout=10).json())

    def live_on_grid(self) -> list[dict[str, Any]]:
        """Every workload of ours in DEPLOY on the grid (all pages)."""
        tid = self.tid()
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            r = requests.get(
                f"{self.grid}/api/v1/reservations/workloads",
                params={"customer_tid": tid, "next_action": 3, "page": page, "size": 1000},
                timeout=10,
            )
            items.extend(r.json())
            if page >= int(r.headers.get("Pages", "1") or 1):
                return items
            page += 1

    def tid(self) -> int:
        users = requests.get(f"{self.grid}/api/v1/users", params={"name": self.settings.identity_name}, timeout=10)
        return int(users.json()[0]["id"])

    def healthy(self) -> None:
        """No fault of any kind: a test that fails half-way never leaves the next tests a broken grid."""
        self.admin("config", {"error_rate": 0, "extra_latency": 0, "deploy_latency": {"default": 0.2}})
        self.admin("lose", {"kind": "workload", "count": 0})  # count 0 cancels every planned fault, of every kind

    # -- pools -----------------------------------------------------------------------------------------------
    def pool(self, owner: str, farm_id: int = 1, key: str = "main") -> int:
        """An active pool of ``owner`` (bought through the pools service, paid through the emulator)."""
        name = f"{owner}/{farm_id}/{key}"
        if name in self.pools:
            return self.pools[name]
        from services.common.db import Database
        from services.pools import service as pools

        db = Database(TEST_DATABASE_URL, maxconn=2)
        explorer = Explorer(self.settings, self.identity)
        try:
            pool_id, _ = pools.create_pool(db, explorer, self.settings, owner, f"{name}-{uuid.uuid4().hex[:8]}",
                                           farm_id, "TFT", 40 * 30 * 86400, 400 * 30 * 86400, 30)  # fmt: skip
        finally:
            db.close()
            explorer.close()
        grid_pool = sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool_id)[0]["grid_pool_id"]
        assert self.admin("pay", {"reservation_id": grid_pool}).status_code == 200
        deadline = time.monotonic() + 30  # the grid credits a payment after its payment delay
        while True:
            send(self.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
            state = sql("SELECT state FROM pools.pools WHERE id = %s", pool_id)[0]["state"]
            if state == "active" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert state == "active"
        self.pools[name] = pool_id
        return pool_id

    # -- deployer --------------------------------------------------------------------------------------------
    def submit(self, owner: str, type: str, spec: dict[str, Any], secrets: dict[str, str] | None = None,
               key: str | None = None) -> dict[str, Any]:  # fmt: skip
        payload = contracts.SubmitSolution(
            idempotency_key=key or uuid.uuid4().hex, owner=owner, type=type, spec=spec,
            secrets=self.identity.encrypt_secrets(secrets) if secrets else "", pools=verified_pools(owner),
        )  # fmt: skip
        return dict(send(self.celery, contracts.DEPLOYER_SUBMIT, payload).get(timeout=30))

    def deploy(self, owner: str, type: str, spec: dict[str, Any], secrets: dict[str, str] | None = None,
               timeout: float = 90) -> dict[str, Any]:  # fmt: skip
        answer = self.submit(owner, type, spec, secrets)
        assert answer["ok"], answer
        return self.wait(answer["solution_id"], timeout=timeout)

    def solution(self, solution_id: str) -> dict[str, Any]:
        return sql("SELECT * FROM deployer.solutions WHERE id = %s", solution_id)[0]

    def wait(self, solution_id: str, states: tuple[str, ...] = FINAL, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sol = self.solution(solution_id)
            if sol["status"] in states:
                return sol
            time.sleep(0.2)
        events = sql("SELECT message FROM deployer.solution_events WHERE solution_id = %s ORDER BY id", solution_id)
        raise AssertionError(f"solution {solution_id} is {sol['status']} after {timeout}s: {events}")

    def workloads(self, solution_id: str) -> list[dict[str, Any]]:
        return sql("SELECT * FROM deployer.workloads WHERE solution_id = %s ORDER BY id", solution_id)

    def network(self, owner: str, name: str = "net") -> str:
        """A deployed network of ``owner`` (created once per name)."""
        found = sql("SELECT id FROM deployer.solutions WHERE owner = %s AND type = 'network' AND name = %s "
                    "AND status = 'deployed'", owner, name)  # fmt: skip
        if found:
            return str(found[0]["id"])
        sol = self.deploy(owner, "network", {"name": name, "pool_ids": [self.pool(owner)]})
        assert sol["status"] == "deployed", self.events(str(sol["id"]))
        return str(sol["id"])

    @contextmanager
    def holding(self, cores: dict[str, float]) -> Iterator[None]:
        """Those CPU cores of each node taken by another deployment (reserved and held, as a concurrent plan
        would), given back on exit."""
        reserve = "UPDATE deployer.nodes SET reserved_cru = reserved_cru + %s WHERE node_id = %s"
        for node_id, cru in cores.items():
            sql("INSERT INTO deployer.node_holds (node_id, holder, cru, mru, sru, hru, expires_at) "
                "VALUES (%s, 'another-deployment', %s, 0, 0, 0, now() + interval '1 hour')", node_id, cru)  # fmt: skip
            sql(reserve, cru, node_id)
        try:
            yield
        finally:
            sql("DELETE FROM deployer.node_holds WHERE holder = 'another-deployment'")
            for node_id, cru in cores.items():
                sql(reserve, -cru, node_id)

    def events(self, solution_id: str) -> list[str]:
        rows = sql("SELECT message FROM deployer.solution_events WHERE solution_id = %s ORDER BY id", solution_id)
        return [r["message"] for r in rows]

    def reconcile(self) -> dict[str, int]:
        return dict(send(self.celery, contracts.DEPLOYER_RECONCILE, contracts.Reconcile()).get(timeout=120))

    def cancel(self, owner: str, solution_id: str) -> Any:
        return self.client().delete(f"/api/solutions/{solution_id}", headers=self.headers(owner))

    def assert_gone_from_grid(self, solution_id: str, timeout: float = 30) -> None:
        """Every workload the solution ever sent is DELETED on the grid."""
        deadline = time.monotonic() + timeout
        ids = [w["grid_id"] for w in self.workloads(solution_id) if w["grid_id"] is not None]
        while time.monotonic() < deadline:
            actions = [self.grid_workload(i)["next_action"] for i in ids]
            if all(a in (5, 6) for a in actions):
                return
            time.sleep(0.3)
        raise AssertionError(f"still on the grid: {list(zip(ids, actions, strict=True))}")

    @staticmethod
    def sql_one(query: str, *args: Any) -> dict[str, Any]:
        return sql(query, *args)[0]

    # -- HTTP ------------------------------------------------------------------------------------------------
    def client(self) -> Any:
        return self.app.test_client()

    def headers(self, username: str, terms: bool = True) -> dict[str, str]:
        return user_headers(self.settings, username, terms)

    # -- processes -------------------------------------------------------------------------------------------
    def start_worker(self, name: str, **env: str) -> Any:
        proc = self.processes.start(name, [PYTHON, "-m", "deploy.role", "deployer-worker"], {**self.env, **env})
        self.workers.append(proc)
        return proc

    def kill(self, proc: Any) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    @contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        """The package's deployer workers and beat stopped for the block (passes and ticks are the test's own),
        then started again (``name`` tells the new processes apart in the logs)."""
        count = len(self.workers)
        for proc in [*self.workers, self.beat]:
            self.kill(proc)
        self.workers.clear()
        try:
            yield
        finally:
            for index in range(count):
                self.start_worker(f"deployer-worker-after-{name}-{index + 1}")
            self.start_beat(f"beat-after-{name}")
            send(self.celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=60)

    def start_beat(self, name: str = "beat", **env: str) -> Any:
        """Beat sends the grid poller every DEPLOY_POLL_INTERVAL (what wakes a waiting deployment); the tests run
        the reconciler, the node refresh and the payment watch themselves, so beat leaves those alone."""
        self.beat = self.processes.start(name, [PYTHON, "-m", "deploy.role", "beat"],
                                         {**self.env, "RECONCILE_INTERVAL": "3600", "NODE_INDEX_REFRESH": "3600",
                                          "PAYMENT_WATCH_INTERVAL": "600", "CHATFLOW_EXPIRY_INTERVAL": "86400",
                                          **env})  # fmt: skip
        return self.beat


@contextmanager
def build_world(tmp: Path, redis_url: str, **overrides: str) -> Iterator[DeployerWorld]:
    """A fresh emulator, a pools worker and two deployer workers on ``redis_url``, empty deployer/pools tables."""
    (tmp / "logs").mkdir(exist_ok=True)
    grid_port, dns_port = free_port(), free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    # The emulator's DNS and CT log stand in for the public resolver and crt.sh (SOLUTIONS §1.9).
    defaults = {"HTTP_READ_TIMEOUT": "5", "WORKER_CONCURRENCY": "4", "WORKLOAD_DEADLINE": "20",
                "DEPLOY_POLL_INTERVAL": "0.3", "QUERY_TIMEOUT": "10", "DNS_RESOLVER": f"127.0.0.1:{dns_port}",
                "CT_LOG_URL": f"{grid}/_emulator/ct",
                # Hosted 3Bots' /admin: a loopback double over TLS (tests.integration.threebot_double), short wait.
                "THREEBOT_READY_URL": ready_url(free_port()), "THREEBOT_READY_WAIT": "10",
                "THREEBOT_READY_INTERVAL": "0.5",
                "THREEBOT_READY_CA": str(make_certificate(tmp / "threebot-double")[0])}  # fmt: skip
    env = base_env(tmp, EXPLORER_URL=f"{grid}/api/v1", REDIS_URL=redis_url, AUTH_PUBLIC_KEY=AUTH_SIGNER.verify_key_hex,
                   **{**defaults, **overrides})  # fmt: skip
    migrate(TEST_DATABASE_URL, ("pools", "deployer", "chatflow"))
    # A fresh emulator restarts its ids at 1: start from empty tables too.
    sql("TRUNCATE pools.pools, pools.reservations, deployer.solutions, deployer.networks, deployer.workloads, "
        "deployer.nodes, deployer.node_index, deployer.node_holds, deployer.port_allocations, chatflow.sessions "
        "CASCADE")  # fmt: skip
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    settings = load_settings(env)
    processes = Processes(tmp / "logs")
    celery = make_celery(settings)
    try:
        args = ["--port", str(grid_port), "--state", str(tmp / "grid.sqlite3"), "--deploy-latency", "0.2",
                "--nodes", "40", "--delete-latency", "0.2", "--dns-port", str(dns_port)]  # fmt: skip
        proc = processes.start("grid", [PYTHON, "-m", "emulators.grid", *args], {})
        wait_http(f"{grid}/_emulator/healthz", proc=proc)
        processes.start("pools-worker", [PYTHON, "-m", "deploy.role", "pools-worker"], env)
        from services.deployer.app import create_app

        identity = load_identity(settings.identity_seed_file, create=True)
        app = create_app(settings)
        world = DeployerWorld(env=env, settings=settings, grid=grid, celery=celery, app=app, identity=identity,
                              processes=processes, tmp=tmp)  # fmt: skip
        world.start_worker("deployer-worker-1")
        world.start_worker("deployer-worker-2")
        world.start_beat()
        send(celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=60)
        yield world
        app.extensions["marketplace"].close()
    finally:
        gc.collect()
        close_celery(celery)
        processes.stop_all()


@pytest.fixture
def dep(world: DeployerWorld) -> Iterator[Deployer]:
    """A deployer in the test process (one side of a race, or passes driven by the test), on the world's database,
    grid, identity and broker."""
    explorer = Explorer(world.settings, world.identity)
    db = Database(TEST_DATABASE_URL, minconn=1, maxconn=4)
    redis = Redis.from_url(world.env["REDIS_URL"])
    yield Deployer(db=db, grid=GridClient(explorer), identity=world.identity, settings=world.settings,
                   celery=world.celery, redis=redis)  # fmt: skip
    redis.close()
    db.close()
    explorer.close()


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployerWorld]:
    # DEPLOYER_TEST_REDIS_URL lets parallel runs of this package on one machine keep their Celery queues apart.
    redis_url = os.environ.get("DEPLOYER_TEST_REDIS_URL", redis_db_url(10))
    with build_world(tmp_path_factory.mktemp("deployer"), redis_url) as built:
        yield built
