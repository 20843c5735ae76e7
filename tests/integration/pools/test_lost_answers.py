"""A pool creation the explorer carries out but whose answer it loses is adopted, never bought a second time."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.integration.pools.conftest import PoolsWorld
from tests.integration.pools.test_pools import buy, sql

pytestmark = pytest.mark.usefixtures("healthy_explorer")


def grid_pools(world: PoolsWorld) -> list[dict[str, Any]]:
    api = f"{world.grid}/api/v1"
    tid = requests.get(f"{api}/users", params={"name": world.settings.identity_name}, timeout=10).json()[0]["id"]
    return list(requests.get(f"{api}/reservations/pools/owner/{tid}", timeout=10).json())


def lose(world: PoolsWorld, count: int, mode: str) -> None:
    assert world.admin("lose", {"kind": "pool", "count": count, "mode": mode}).status_code == 200


def pools_of(world: PoolsWorld, who: str) -> list[dict[str, Any]]:
    return list(world.client().get("/api/pools", headers=world.headers(who)).json["pools"])


def paid_and_active(world: PoolsWorld, who: str, pool: dict[str, Any], payment: dict[str, Any]) -> None:
    assert payment["memo"] == f"p-{payment['reservation_id']}"
    assert world.admin("pay", {"reservation_id": payment["reservation_id"]}).status_code == 200
    deadline = time.monotonic() + 20  # the emulator may credit a payment with a delay
    while True:
        world.watch()
        shown = world.client().get(f"/api/pools/{pool['id']}", headers=world.headers(who)).json["pool"]
        if shown["state"] == "active" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert shown["state"] == "active" and shown["cu_hours_left"] > 0


@pytest.mark.parametrize("mode", ["drop", "500"])
def test_a_lost_creation_answer_is_adopted_at_once(world: PoolsWorld, mode: str) -> None:
    who = f"lost-{mode}.3bot"
    before = {p["pool_id"] for p in grid_pools(world)}
    lose(world, 1, mode)
    response = buy(world, who)
    assert response.status_code == 201, response.json
    new = [p for p in grid_pools(world) if p["pool_id"] not in before]
    assert len(new) == 1  # the lost one, adopted: no second pool on the grid
    pool, payment = response.json["pool"], response.json["payment"]
    assert pool["grid_pool_id"] == new[0]["pool_id"]
    assert [p["id"] for p in pools_of(world, who)] == [pool["id"]]
    paid_and_active(world, who, pool, payment)


def test_a_retry_after_an_outage_finds_the_pool_made_before(world: PoolsWorld) -> None:
    who, key = "lost-retry.3bot", uuid.uuid4().hex
    before = {p["pool_id"] for p in grid_pools(world)}
    lose(world, 2, "500")  # the creation's answer and the answer of what buys the adopted pool's capacity
    first = buy(world, who, idempotency_key=key)
    assert first.status_code == 503, first.json
    assert sql("SELECT state FROM pools.pools WHERE idempotency_key = %s", key) == [("failed",)]
    retry = buy(world, who, idempotency_key=key)
    assert retry.status_code == 201, retry.json
    new = [p for p in grid_pools(world) if p["pool_id"] not in before]
    assert [p["pool_id"] for p in new] == [retry.json["pool"]["grid_pool_id"]]
    assert [p["id"] for p in pools_of(world, who)] == [retry.json["pool"]["id"]]
    paid_and_active(world, who, retry.json["pool"], retry.json["payment"])
    # A later creation in the same farm is not mistaken for the lost one, and vice versa.
    other = buy(world, who)
    assert other.status_code == 201 and other.json["pool"]["grid_pool_id"] not in before | {p["pool_id"] for p in new}


def test_an_unanswered_creation_that_made_nothing_is_sent_again(world: PoolsWorld) -> None:
    who, key = "lost-nothing.3bot", uuid.uuid4().hex
    before = {p["pool_id"] for p in grid_pools(world)}
    world.admin("config", {"error_rate": 1})  # a 500 *before* anything is done: nothing to find
    assert buy(world, who, idempotency_key=key).status_code == 503
    world.admin("config", {"error_rate": 0})
    retry = buy(world, who, idempotency_key=key)
    assert retry.status_code == 201, retry.json
    assert len([p for p in grid_pools(world) if p["pool_id"] not in before]) == 1
    assert retry.json["payment"]["reservation_id"] == retry.json["pool"]["grid_pool_id"]  # an ordinary creation
