"""A pool purchase whose worker dies mid-way settles by itself; an extension nobody paid is never credited.

The worker is a real process killed with SIGKILL (its whole process group: nothing hands the task back); the
emulator's ``extra_latency`` holds each explorer call long enough to kill it at the chosen moment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import requests

from services.common import contracts
from services.common.tasks import send
from tests.conftest import TEST_DATABASE_URL
from tests.integration.pools.conftest import PoolsWorld
from tests.integration.pools.test_lost_answers import grid_pools
from tests.integration.pools.test_payments import active_pool, shown
from tests.integration.pools.test_pools import sql

pytestmark = pytest.mark.usefixtures("healthy_explorer")


def _grid_pool_ids(world: PoolsWorld) -> set[int]:
    """Our pools on the grid (none before our identity's first purchase registered it)."""
    users = requests.get(f"{world.grid}/api/v1/users", params={"name": world.settings.identity_name}, timeout=10)
    return {int(p["pool_id"]) for p in grid_pools(world)} if users.json() else set()


def _wait_for(query: str, *args: Any, timeout: float = 30) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(query, *args)
        if rows:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"nothing for {query} {args}")


def _settled(world: PoolsWorld, key: str, timeout: float = 60) -> tuple[Any, ...]:
    """Run the beat's payment watch (on the new worker) until the pool leaves ``submitting`` by itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        world.watch()
        [row] = sql("SELECT state, state_reason, grid_pool_id, id FROM pools.pools WHERE idempotency_key = %s", key)
        if row[0] != "submitting":
            return row
        time.sleep(0.5)
    raise AssertionError(f"pool {key} still submitting after {timeout}s")


@pytest.fixture
def slow_explorer(world: PoolsWorld, healthy_explorer: None) -> Iterator[None]:
    world.admin("config", {"extra_latency": 1.0})
    yield
    world.admin("config", {"extra_latency": 0})


def _buy_in_the_worker(world: PoolsWorld, owner: str, key: str) -> None:
    order = contracts.BuyCapacity(owner=owner, key=key, currency="TFT", cus=3600, sus=7200, days=1, farm_id=1)
    send(world.celery, contracts.POOLS_BUY, order)  # nobody will ever read the answer: its worker dies


@pytest.mark.usefixtures("slow_explorer")
def test_a_worker_killed_while_its_creation_is_at_the_explorer_leaves_a_pool_awaiting_payment(
    world: PoolsWorld,
) -> None:
    owner, key = "killed-mid-post.3bot", uuid.uuid4().hex
    before = _grid_pool_ids(world)
    _buy_in_the_worker(world, owner, key)
    # The floor is committed right before the POST: kill while the explorer holds the POST (its latency).
    _wait_for("SELECT 1 FROM pools.reservations r JOIN pools.pools p ON p.id = r.pool_id "
              "WHERE p.idempotency_key = %s AND r.grid_floor IS NOT NULL", key)  # fmt: skip
    time.sleep(0.3)
    world.kill_worker()
    world.admin("config", {"extra_latency": 0})
    time.sleep(1.5)  # the explorer carries the POST out; its answer goes nowhere
    made = [p for p in grid_pools(world) if p["pool_id"] not in before]
    assert len(made) == 1, made
    assert sql("SELECT state FROM pools.pools WHERE idempotency_key = %s", key) == [("submitting",)]
    world.start_worker()

    state, reason, grid_pool_id, pool_id = _settled(world, key)
    assert state == "awaiting_payment", reason
    assert grid_pool_id == made[0]["pool_id"]  # the pool the dead worker made, adopted: none bought twice
    assert [p["pool_id"] for p in grid_pools(world) if p["pool_id"] not in before] == [grid_pool_id]
    payment = shown(world, owner, pool_id)["payment"]
    assert payment["state"] == "awaiting_payment" and payment["memo"] == f"p-{payment['reservation_id']}"
    assert world.admin("pay", {"reservation_id": payment["reservation_id"]}).status_code == 200
    deadline = time.monotonic() + 20
    while shown(world, owner, pool_id)["pool"]["state"] != "active" and time.monotonic() < deadline:
        world.watch()
        time.sleep(0.3)
    assert shown(world, owner, pool_id)["pool"]["state"] == "active"


@pytest.mark.usefixtures("slow_explorer")
def test_a_worker_killed_before_anything_was_sent_leaves_a_failed_pool(world: PoolsWorld) -> None:
    owner, key = "killed-early.3bot", uuid.uuid4().hex
    before = _grid_pool_ids(world)
    _buy_in_the_worker(world, owner, key)
    # The reservation row exists and the worker is reading our pools on the grid (the floor is not noted yet).
    _wait_for("SELECT 1 FROM pools.reservations r JOIN pools.pools p ON p.id = r.pool_id "
              "WHERE p.idempotency_key = %s AND r.grid_floor IS NULL", key)  # fmt: skip
    world.kill_worker()
    world.admin("config", {"extra_latency": 0})
    world.start_worker()

    state, reason, grid_pool_id, _ = _settled(world, key)
    assert state == "failed" and grid_pool_id is None
    assert "interrupted" in reason and "nothing was charged" in reason
    assert [p for p in grid_pools(world) if p["pool_id"] not in before] == []


def _extend(world: PoolsWorld, who: str, pool_id: int, cu_hours: int) -> dict[str, Any]:
    body = {"currency": "TFT", "cu_hours": cu_hours, "su_hours": 0}
    response = world.client().post(f"/api/pools/{pool_id}/extend", json=body, headers=world.headers(who))
    assert response.status_code == 201, response.json
    return dict(response.json["payment"])


def _reservation_state(grid_reservation_id: int) -> str:
    [(state,)] = sql("SELECT state FROM pools.reservations WHERE grid_reservation_id = %s", grid_reservation_id)
    return str(state)


def test_an_extension_nobody_paid_is_never_credited(world: PoolsWorld) -> None:
    # Two extensions wait for payment; only the larger is paid. The pool's balance rises by more than half of
    # the smaller one, which an estimate "baseline − burn × elapsed" took for its payment.
    who = "unpaid-extension.3bot"
    pool = active_pool(world, who)
    small = _extend(world, who, pool["id"], 4)
    large = _extend(world, who, pool["id"], 10)
    assert world.pay(large)["state"] == "credited"
    for _ in range(3):
        world.watch()
    assert _reservation_state(large["reservation_id"]) == "paid"
    assert _reservation_state(small["reservation_id"]) == "awaiting_payment"
    after = shown(world, who, pool["id"])["pool"]
    assert after["cu_hours_bought"] == pool["cu_hours_bought"] + 10
    # Paid later, it is credited then, by itself.
    assert world.pay(small)["state"] == "credited"
    world.watch()
    assert _reservation_state(small["reservation_id"]) == "paid"
    assert shown(world, who, pool["id"])["pool"]["cu_hours_bought"] == pool["cu_hours_bought"] + 14


def _locked(reservation_ids: list[int]) -> int:
    """How many of these reservation rows another transaction holds right now."""
    conn = psycopg2.connect(TEST_DATABASE_URL)
    held = 0
    try:
        for rid in reservation_ids:
            with conn, conn.cursor() as cur:
                try:
                    cur.execute("SELECT 1 FROM pools.reservations WHERE id = %s FOR UPDATE NOWAIT", (rid,))
                except psycopg2.errors.LockNotAvailable:
                    held += 1
                conn.rollback()
    finally:
        conn.close()
    return held


def test_the_payment_watch_holds_one_pools_rows_at_a_time(world: PoolsWorld) -> None:
    # While the watcher waits for the explorer about one pool, the other pools' rows are free: an extension or
    # another watcher never waits for a whole pass of explorer reads.
    who = "watch-locks.3bot"
    first, second = active_pool(world, who), active_pool(world, who)
    ids = []
    for pool in (first, second):
        payment = _extend(world, who, pool["id"], 1)
        [(rid,)] = sql("SELECT id FROM pools.reservations WHERE grid_reservation_id = %s", payment["reservation_id"])
        ids.append(int(rid))
    world.admin("config", {"extra_latency": 0.5})
    try:
        pending = send(world.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments())
        most = 0
        while not pending.ready():
            most = max(most, _locked(ids))
            time.sleep(0.05)
        pending.get(timeout=60)
    finally:
        world.admin("config", {"extra_latency": 0})
    assert most <= 1
