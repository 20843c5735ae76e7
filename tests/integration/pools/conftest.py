"""Pools against real parts: the grid emulator and a pools worker as processes, PostgreSQL, Redis."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient

from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send
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


@dataclass
class PoolsWorld:
    env: dict[str, str]
    settings: Settings
    grid: str  # emulator base (admin endpoints under /_emulator)
    app: Flask
    celery: Celery
    processes: Processes
    workers: int = 1

    def kill_worker(self) -> None:
        """SIGKILL the pools worker's whole process group (main process and children): a machine that dies, so
        no task is handed back to the queue."""
        proc = self.processes.procs[-1]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def start_worker(self) -> None:
        self.workers += 1
        self.processes.start(f"pools-worker-{self.workers}", [PYTHON, "-m", "deploy.role", "pools-worker"], self.env)
        self.watch()  # consuming

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def headers(self, username: str, terms: bool = True) -> dict[str, str]:
        return user_headers(self.settings, username, terms)

    def admin(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(f"{self.grid}/_emulator/{path}", json=body or {}, timeout=10)

    def pay(self, payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Send what a wallet sends for ``payment`` (our payment view: address, asset, amount in stroops, memo),
        altered by ``changes``; the grid's verdict (credited, partial, ignored) once it looked at the payment,
        which it does after its payment delay, as the real explorer checked escrows once a minute."""
        body = {"to": payment["address"], "asset": payment["asset"], "amount": payment["amount_stroops"],
                "memo": payment["memo"], **changes}  # fmt: skip
        sent = requests.post(f"{self.grid}/_emulator/pay", json=body, timeout=10)
        assert sent.status_code == 200, sent.text
        status: dict[str, Any] = sent.json()
        deadline = time.monotonic() + 30
        while status["state"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = requests.get(f"{self.grid}/_emulator/payments/{status['payment_id']}", timeout=10).json()
        return status

    def watch(self) -> dict[str, int]:
        """One pass of the payment watcher, run by the real pools worker."""
        from services.common import contracts

        return dict(send(self.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60))

    def query(self, task: str, payload: Any) -> dict[str, Any]:
        return dict(send(self.celery, task, payload).get(timeout=60))


def _wait_registered(grid: str, name: str, timeout: float = 30) -> None:
    """Wait until the worker has put our identity in the grid's phonebook: it does so in a thread once ready, so it
    can answer a first task before, and the tests find our pools on the grid by that identity's tid."""
    deadline = time.monotonic() + timeout
    while not requests.get(f"{grid}/api/v1/users", params={"name": name}, timeout=10).json():
        assert time.monotonic() < deadline, f"the pools worker did not register {name} on the grid"
        time.sleep(0.1)


def _other_workers(celery: Celery, ours: int) -> str | None:
    """Why this world is not alone on its broker, or None: more workers answer a broadcast ping on its Redis db
    than the ``ours`` it started.

    Another test run on the same servers (the ``test`` database and Redis dbs of the defaults) shares the
    ``pools`` queue and the pools tables: its worker takes this world's tasks and checks its own grid, and this
    world's payment watch sees the other run's payments — a pool ``active`` with nothing in it, a watch that
    reports ``paid == 0`` for a credited payment. Nothing in the code is wrong then; the runs must be kept apart.
    """
    answers = celery.control.ping(timeout=1.0) or []  # a busy worker may miss it: this only ever under-counts
    if len(answers) <= ours:
        return None
    return (
        f"{len(answers) - ours} other Celery worker(s) consume queues on {celery.conf.broker_url}: another test run "
        "shares these servers, so its pools worker takes this world's tasks and both share the pools tables. Give "
        "each run its own database and Redis db (TEST_DATABASE_URL, TEST_REDIS_URL, POOLS_TEST_REDIS_URL), or let "
        "`make test` start private servers"
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PoolsWorld]:
    tmp: Path = tmp_path_factory.mktemp("pools")
    (tmp / "logs").mkdir()
    grid_port = free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    env = base_env(
        tmp,
        EXPLORER_URL=f"{grid}/api/v1",
        # POOLS_TEST_REDIS_URL lets parallel runs on one machine keep their Celery queues apart.
        REDIS_URL=os.environ.get("POOLS_TEST_REDIS_URL", redis_db_url(8)),
        AUTH_PUBLIC_KEY=AUTH_SIGNER.verify_key_hex,
        HTTP_READ_TIMEOUT="3",
        WORKER_CONCURRENCY="2",
    )
    settings = load_settings(env)
    processes = Processes(tmp / "logs")
    celery = make_celery(settings)
    try:
        # Before anything is truncated: another run's tables are left alone.
        if (crowded := _other_workers(celery, 0)) is not None:
            pytest.fail(crowded, pytrace=False)
        migrate(TEST_DATABASE_URL, ("pools",))
        # Each run starts a fresh emulator whose reservation ids restart at 1: start from empty tables too.
        conn = psycopg2.connect(TEST_DATABASE_URL)
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE pools.pools, pools.reservations")
        conn.close()
        grid_args = ["--port", str(grid_port), "--state", str(tmp / "grid.sqlite3"), "--deploy-latency", "0.3"]
        proc = processes.start("grid", [PYTHON, "-m", "emulators.grid", *grid_args], {})
        wait_http(f"{grid}/_emulator/healthz", proc=proc)
        processes.start("pools-worker", [PYTHON, "-m", "deploy.role", "pools-worker"], env)
        from services.pools.app import create_app

        app = create_app(settings)
        world = PoolsWorld(env=env, settings=settings, grid=grid, app=app, celery=celery, processes=processes)
        world.watch()  # the worker is up and consuming
        _wait_registered(grid, settings.identity_name)
        yield world
        app.extensions["marketplace"].close()
        # A run that started next to this one meanwhile: say so, or its failures above look like races of ours.
        ours = sum(1 for proc in processes.procs[1:] if proc.poll() is None)  # every process but the grid is a worker
        if (crowded := _other_workers(celery, ours)) is not None:
            pytest.fail(crowded, pytrace=False)
    finally:
        gc.collect()
        close_celery(celery)
        processes.stop_all()


@pytest.fixture
def healthy_explorer(world: PoolsWorld) -> Iterator[None]:
    world.admin("config", {"error_rate": 0, "extra_latency": 0})
    yield
    world.admin("config", {"error_rate": 0, "extra_latency": 0})
