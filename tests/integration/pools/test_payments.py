"""Payments and extensions as the real grid does them (GRID_API §4.5): a pool is credited only by a payment with
the right memo, asset issuer and amount; an extension the explorer fails (500) is a final error; FreeTFT pools on
a farm that mixes free-to-use and paid nodes."""

from __future__ import annotations

import json
from typing import Any

import psycopg2
import pytest
import requests

from emulators.grid.pools import ISSUERS
from services.common.identity import Identity
from tests.conftest import TEST_DATABASE_URL
from tests.integration.pools.conftest import PoolsWorld

FREEFARM = 1
pytestmark = pytest.mark.usefixtures("healthy_explorer")


def sql(query: str, *args: Any) -> None:
    conn = psycopg2.connect(TEST_DATABASE_URL)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, args)
    finally:
        conn.close()


def buy(world: PoolsWorld, who: str, currency: str = "TFT") -> dict[str, Any]:
    payload = {"farm_id": FREEFARM, "currency": currency, "cu": 1, "su": 1, "days": 1}
    response = world.client().post("/api/pools", json=payload, headers=world.headers(who))
    assert response.status_code == 201, response.json
    return dict(response.json)


def shown(world: PoolsWorld, who: str, pool_id: int) -> dict[str, Any]:
    return dict(world.client().get(f"/api/pools/{pool_id}", headers=world.headers(who)).json)


def extend(world: PoolsWorld, who: str, pool_id: int, currency: str = "TFT") -> Any:
    body = {"currency": currency, "cu_hours": 1, "su_hours": 1}
    return world.client().post(f"/api/pools/{pool_id}/extend", json=body, headers=world.headers(who))


def active_pool(world: PoolsWorld, who: str, currency: str = "TFT") -> dict[str, Any]:
    bought = buy(world, who, currency)
    assert world.pay(bought["payment"])["state"] == "credited"
    world.watch()
    pool = shown(world, who, bought["pool"]["id"])["pool"]
    assert pool["state"] == "active"
    return dict(pool)


def test_a_pool_is_credited_only_by_the_right_memo_issuer_and_amount(world: PoolsWorld) -> None:
    bought = buy(world, "alice.3bot")
    pool, payment = bought["pool"], bought["payment"]
    code, issuer = payment["asset"].split(":")
    assert code == "TFT" and issuer == ISSUERS["testnet"]["TFT"]
    wrong = [
        world.pay(payment, memo=f"p-{payment['reservation_id'] + 1000}"),
        world.pay(payment, memo=str(payment["reservation_id"])),
        world.pay(payment, asset=f"TFT:{ISSUERS['mainnet']['TFT']}"),  # TFT of another issuer
        world.pay(payment, amount=payment["amount_stroops"] - 1),  # too small (it adds up with the next)
    ]
    assert [p["state"] for p in wrong] == ["ignored", "ignored", "ignored", "partial"]
    assert world.watch()["paid"] == 0
    assert shown(world, "alice.3bot", pool["id"])["pool"]["state"] == "awaiting_payment"

    assert world.pay(payment, amount=1)["state"] == "credited"  # the missing stroop completes it
    assert world.watch()["paid"] == 1
    view = shown(world, "alice.3bot", pool["id"])
    assert view["pool"]["state"] == "active" and view["payment"]["state"] == "paid"


def test_an_extension_is_paid_with_its_own_memo_not_the_pool_id(world: PoolsWorld) -> None:
    pool = active_pool(world, "bob.3bot")
    response = extend(world, "bob.3bot", pool["id"])
    assert response.status_code == 201, response.json
    payment = response.json["payment"]
    assert world.pay(payment, memo=f"p-{pool['grid_pool_id']}")["state"] == "ignored"  # the pool is paid already
    assert world.watch()["paid"] == 0
    assert world.pay(payment)["state"] == "credited"
    assert world.watch()["paid"] == 1
    assert shown(world, "bob.3bot", pool["id"])["pool"]["cu_hours_bought"] == pool["cu_hours_bought"] + 1


def _foreign_pool(world: PoolsWorld, node_ids: list[str]) -> int:
    """A pool of another grid customer (mallory, registered and signing with her own key)."""
    mallory = Identity(b"m" * 32)
    user = {"name": "mallory.3bot", "email": "m@example.org", "pubkey": mallory.verify_key_hex}
    registered = requests.post(f"{world.grid}/api/v1/users", json=user, timeout=10)
    assert registered.status_code == 201, registered.text
    tid = int(registered.json()["id"])
    data = {"pool_id": 0, "cus": 0, "sus": 0, "node_ids": node_ids, "currencies": ["TFT"]}
    text = json.dumps(data)
    body = {"json": text, "data_reservation": data, "customer_tid": tid,
            "customer_signature": mallory.sign(text.encode()).hex()}  # fmt: skip
    created = requests.post(f"{world.grid}/api/v1/reservations/pools", json=body,
                            headers=mallory.http_signature_headers(tid), timeout=10)  # fmt: skip
    assert created.status_code == 201, created.text
    return int(created.json()["reservation_id"])


def test_an_extension_the_explorer_fails_is_a_final_error(world: PoolsWorld) -> None:
    """The real explorer answered 500 to an extension it could not make; retrying the same never helps."""
    pool = active_pool(world, "carol.3bot")
    # Our record now points at a pool the explorer will not extend for us (another customer's): it answers 500.
    foreign = _foreign_pool(world, pool_node_ids(world, pool["grid_pool_id"]))
    sql("UPDATE pools.pools SET grid_pool_id = %s WHERE id = %s", foreign, pool["id"])
    response = extend(world, "carol.3bot", pool["id"])
    assert response.status_code == 502, response.json
    message = response.json["errors"][0]["description"]
    assert f"could not extend pool {foreign}" in message and "nothing was reserved or charged" in message
    assert "try again" not in message
    view = shown(world, "carol.3bot", pool["id"])
    assert view["pool"]["state"] == "active"
    assert view["payment"]["kind"] == "create" and view["payment"]["state"] == "paid"  # no pending extension
    assert world.watch()["waiting"] == 0


def test_an_extension_of_a_pool_gone_from_the_grid_says_so(world: PoolsWorld) -> None:
    pool = active_pool(world, "dave.3bot")
    sql("UPDATE pools.pools SET grid_pool_id = 987654 WHERE id = %s", pool["id"])
    response = extend(world, "dave.3bot", pool["id"])
    assert response.status_code == 409, response.json
    error = response.json["errors"][0]
    assert error["code"] == "pool_gone" and "no longer exists on the grid" in error["description"]


def pool_node_ids(world: PoolsWorld, grid_pool_id: int) -> list[str]:
    live = requests.get(f"{world.grid}/api/v1/reservations/pools/{grid_pool_id}", timeout=10).json()
    return list(live["node_ids"])


def test_freetft_pools_on_the_mixed_farm_stay_on_its_free_nodes(world: PoolsWorld) -> None:
    nodes = requests.get(f"{world.grid}/api/v1/nodes", params={"farm": FREEFARM, "size": 500}, timeout=10).json()
    paid = {n["node_id"] for n in nodes if not n["free_to_use"]}
    assert paid and len(paid) < len(nodes)  # the free farm mixes free-to-use and paid nodes

    free_pool = active_pool(world, "erin.3bot", "FreeTFT")
    assert not paid & set(pool_node_ids(world, free_pool["grid_pool_id"]))
    # Extending it with TFT does not bring paid nodes into a pool bought with FreeTFT.
    response = extend(world, "erin.3bot", free_pool["id"], "TFT")
    assert response.status_code == 201, response.json
    assert world.pay(response.json["payment"])["state"] == "credited"
    assert not paid & set(pool_node_ids(world, free_pool["grid_pool_id"]))

    tft_pool = active_pool(world, "erin.3bot", "TFT")
    assert paid <= set(pool_node_ids(world, tft_pool["grid_pool_id"]))
    refused = extend(world, "erin.3bot", tft_pool["id"], "FreeTFT")
    assert refused.status_code == 422
    assert "not free to use" in refused.json["errors"][0]["description"]
