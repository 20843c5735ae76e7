"""Capacity pools end to end: buy, pay, watch, extend, expire, ownership, bad input, explorer trouble."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg2
import pytest

from services.common import contracts
from services.pools.app import create_app
from tests.conftest import TEST_DATABASE_URL
from tests.integration.pools.conftest import PoolsWorld

FREEFARM, GREENEDGE, BLUEBOX = 1, 2, 3
# Every test here starts (and ends) with the explorer healthy, whatever faults a test injected.
pytestmark = pytest.mark.usefixtures("healthy_explorer")


def buy(world: PoolsWorld, who: str, **body: Any) -> Any:
    payload = {"farm_id": FREEFARM, "currency": "TFT", "cu": 1, "su": 2, "days": 1, **body}
    return world.client().post("/api/pools", json=payload, headers=world.headers(who))


def sql(query: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(TEST_DATABASE_URL)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_create_pay_and_become_active(world: PoolsWorld) -> None:
    response = buy(world, "alice.3bot", cu=1, su=2, days=1)
    assert response.status_code == 201, response.json
    pool, pay = response.json["pool"], response.json["payment"]
    assert pool["state"] == "awaiting_payment" and pool["farm"] == "freefarm" and pool["node_count"] > 0
    cus, sus = 1 * 86400, 2 * 86400  # CU/SU per second × days × 86400 (not the original's raw numbers)
    assert pay["amount_stroops"] == 741 * cus + 556 * sus
    assert pay["memo"] == f"p-{pool['grid_pool_id']}"
    assert pay["currency"] == "TFT"
    assert pay["qr_text"] == f"TFT:{pay['address']}?amount={pay['amount']}&message=p-{pool['grid_pool_id']}&sender=me"
    assert pay["wait_over"] is False and pay["state"] == "awaiting_payment"

    png = world.client().get(f"/api/pools/{pool['id']}/payment.png", headers=world.headers("alice.3bot"))
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = world.client().get(f"/api/pools/{pool['id']}/payment.svg", headers=world.headers("alice.3bot"))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data

    assert world.watch()["paid"] == 0  # not paid yet: still waiting
    assert world.pay(pay)["state"] == "credited"
    assert world.watch()["paid"] >= 1
    active = world.client().get(f"/api/pools/{pool['id']}", headers=world.headers("alice.3bot")).json
    assert active["pool"]["state"] == "active"
    assert active["pool"]["cu_hours_bought"] == 24.0 and active["pool"]["su_hours_bought"] == 48.0
    assert active["pool"]["cu_hours_left"] == pytest.approx(24.0, abs=0.1)
    assert active["pool"]["empty_at"] is None  # nothing burns yet
    assert active["payment"]["state"] == "paid"


def _active_pool(world: PoolsWorld, owner: str) -> dict[str, Any]:
    bought = buy(world, owner).json
    pool = bought["pool"]
    assert world.pay(bought["payment"])["state"] == "credited"
    world.watch()
    return dict(world.client().get(f"/api/pools/{pool['id']}", headers=world.headers(owner)).json["pool"])


def test_extend_sends_only_the_capacity_to_add_and_is_credited(world: PoolsWorld) -> None:
    pool = _active_pool(world, "alice.3bot")
    response = world.client().post(
        f"/api/pools/{pool['id']}/extend", json={"currency": "TFT", "cu_hours": 10, "su_hours": 0},
        headers=world.headers("alice.3bot"),
    )  # fmt: skip
    assert response.status_code == 201, response.json
    pay = response.json["payment"]
    assert pay["kind"] == "extend"
    assert pay["reservation_id"] != pool["grid_pool_id"]  # an extension is a new reservation…
    assert pay["memo"] == f"p-{pay['reservation_id']}"  # …and its memo names it, not the pool
    assert pay["amount_stroops"] == 741 * 36000  # only what is added is charged
    # The emulator's view of the reservation: the 36000 CU-seconds to add, nothing more.
    import requests

    seen = requests.get(f"{world.grid}/_emulator/reservations/{pay['reservation_id']}", timeout=5).json()
    assert seen["cus"] == 36000 and seen["sus"] == 0
    assert world.pay(pay)["state"] == "credited"
    assert world.watch()["paid"] >= 1
    after = world.client().get(f"/api/pools/{pool['id']}", headers=world.headers("alice.3bot")).json["pool"]
    assert after["cu_hours_bought"] == pool["cu_hours_bought"] + 10
    assert after["cu_hours_left"] == pytest.approx(pool["cu_hours_left"] + 10, abs=0.1)


def test_unpaid_past_the_escrow_expiry_becomes_expired_with_a_reason(world: PoolsWorld) -> None:
    pool = buy(world, "carol.3bot").json["pool"]
    # An hour passes: on the grid (the emulator's clock) and in our records.
    world.admin("clock", {"advance_seconds": 3700})
    sql("UPDATE pools.reservations SET expires_at = now() - interval '1 second' WHERE pool_id = %s", pool["id"])
    assert world.watch()["expired"] >= 1
    view = world.client().get(f"/api/pools/{pool['id']}", headers=world.headers("carol.3bot")).json
    assert view["pool"]["state"] == "expired"
    assert (
        "did not arrive within" in view["pool"]["state_reason"]
        and "nothing was charged" in view["pool"]["state_reason"]
    )
    assert view["payment"]["state"] == "expired"
    assert world.admin("pay", {"reservation_id": pool["grid_pool_id"]}).status_code == 410  # the grid agrees


def test_the_wizard_stops_waiting_after_payment_wait(world: PoolsWorld) -> None:
    pool = buy(world, "carol.3bot").json["pool"]
    sql("UPDATE pools.reservations SET created_at = now() - interval '10 minutes' WHERE pool_id = %s", pool["id"])
    pay = world.client().get(f"/api/pools/{pool['id']}/payment", headers=world.headers("carol.3bot")).json
    assert pay["wait_over"] is True
    assert pay["message"].startswith("payment not seen yet")


def test_two_concurrent_creates_with_one_key_make_one_pool(world: PoolsWorld) -> None:
    key = uuid.uuid4().hex
    results: list[Any] = []

    def create() -> None:
        results.append(buy(world, "bob.3bot", idempotency_key=key))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 201]
    assert len({r.json["pool"]["id"] for r in results}) == 1
    assert sql("SELECT count(*) FROM pools.pools WHERE idempotency_key = %s", key) == [(1,)]
    header = world.client().post("/api/pools", json={"farm_id": FREEFARM, "currency": "TFT", "cu": 1, "days": 1},
                                 headers={**world.headers("bob.3bot"), "Idempotency-Key": key})  # fmt: skip
    assert header.status_code == 200 and header.json["pool"]["id"] == results[0].json["pool"]["id"]


def test_two_marketplace_instances_see_the_same_pools(world: PoolsWorld) -> None:
    pool = buy(world, "bob.3bot").json["pool"]
    other = create_app(world.settings)
    try:
        listed = other.test_client().get("/api/pools", headers=world.headers("bob.3bot")).json["pools"]
        assert pool["id"] in [p["id"] for p in listed]
    finally:
        other.extensions["marketplace"].close()


def test_another_users_pool_is_404(world: PoolsWorld) -> None:
    pool = buy(world, "alice.3bot").json["pool"]
    bob = world.headers("bob.3bot")
    client = world.client()
    for path in ("", "/payment", "/payment.png", "/payment.svg"):
        assert client.get(f"/api/pools/{pool['id']}{path}", headers=bob).status_code == 404
    extend = client.post(f"/api/pools/{pool['id']}/extend", json={"currency": "TFT", "cu_hours": 1}, headers=bob)
    assert extend.status_code == 404
    assert pool["id"] not in [p["id"] for p in client.get("/api/pools", headers=bob).json["pools"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"cu": 0, "su": 0}, {"cu", "su"}),
        ({"cu": -1}, {"cu"}),
        ({"su": 1.5}, {"su"}),
        ({"cu": "2"}, {"cu"}),
        ({"cu": 10**12}, {"cu"}),
        ({"days": 0}, {"days"}),
        ({"days": None}, {"days"}),
        ({"currency": "BTC"}, {"currency"}),
        ({"farm_id": "one"}, {"farm_id"}),
        ({"farm_id": 999}, {"farm_id"}),
        ({"farm_id": BLUEBOX, "currency": "TFT"}, {"farm_id"}),  # bluebox has no TFT wallet
        ({"farm_id": GREENEDGE, "currency": "FreeTFT"}, {"farm_id"}),  # no free-to-use node there
        ({"cu_hours": 5}, {"cu_hours"}),  # both shapes at once
        ({"owner": "mallory.3bot"}, {"owner"}),  # identity never comes from the body
    ],
)
def test_bad_input_is_422_with_field_messages(world: PoolsWorld, body: dict[str, Any], fields: set[str]) -> None:
    response = buy(world, "alice.3bot", **body)
    assert response.status_code == 422, response.json
    assert set(response.json) == {"message", "errors", "request_id"}
    assert {e["field"] for e in response.json["errors"]} == fields
    assert all(e["description"] for e in response.json["errors"])


def test_non_json_body_is_422(world: PoolsWorld) -> None:
    response = world.client().post("/api/pools", data="nope", content_type="application/json",
                                   headers=world.headers("alice.3bot"))  # fmt: skip
    assert response.status_code == 422


def test_terms_gate_and_assertion_are_enforced(world: PoolsWorld) -> None:
    no_terms = world.client().post("/api/pools", json={"farm_id": 1, "currency": "TFT", "cu": 1, "days": 1},
                                   headers=world.headers("alice.3bot", terms=False))  # fmt: skip
    assert no_terms.status_code == 403
    assert world.client().get("/api/pools").status_code == 401


def test_explorer_down_is_503_and_nothing_is_half_made(world: PoolsWorld) -> None:
    key = uuid.uuid4().hex
    world.admin("config", {"error_rate": 1})
    response = buy(world, "alice.3bot", idempotency_key=key)
    assert response.status_code == 503
    assert "explorer" in response.json["message"]
    world.admin("config", {"error_rate": 0})
    rows = sql("SELECT state FROM pools.pools WHERE idempotency_key = %s", key)
    assert rows in ([], [("failed",)])
    retry = buy(world, "alice.3bot", idempotency_key=key)  # the same request, once the explorer is back
    assert retry.status_code == 201 and retry.json["pool"]["state"] == "awaiting_payment"
    assert sql("SELECT count(*) FROM pools.pools WHERE idempotency_key = %s", key) == [(1,)]


def test_explorer_slow_is_503(world: PoolsWorld) -> None:
    world.admin("config", {"extra_latency": 4})
    assert buy(world, "alice.3bot").status_code == 503


def test_signature_rejected_by_the_explorer_is_a_clear_error_recorded_on_the_row(world: PoolsWorld) -> None:
    explorer = world.app.extensions["pools_explorer"]
    real_tid = explorer.tid
    key = uuid.uuid4().hex
    try:
        explorer._tid = 1  # as if our identity's key no longer matched the phonebook entry we sign as
        response = buy(world, "alice.3bot", idempotency_key=key)
    finally:
        explorer._tid = real_tid
    assert response.status_code == 502
    assert response.json["message"].startswith("the grid explorer refused the re")
    assert "signature" in response.json["message"]
    # Refused while reading the farm (the emulator checks signatures on GETs too) or at the reservation itself:
    # either nothing was recorded or the row says why it failed — never a pool awaiting a payment.
    rows = sql("SELECT state, state_reason IS NOT NULL FROM pools.pools WHERE idempotency_key = %s", key)
    assert rows in ([], [("failed", True)])
    assert buy(world, "alice.3bot", idempotency_key=key).status_code == 201  # fixed, the same key goes through


def test_farms_offered_per_currency(world: PoolsWorld) -> None:
    client, h = world.client(), world.headers("alice.3bot")

    def names(currency: str) -> set[str]:
        farms = client.get(f"/api/pools/farms?currency={currency}", headers=h).json["farms"]
        return {f["name"] for f in farms}

    assert names("TFT") == {"freefarm", "greenedge"}
    assert names("TFTA") == {"greenedge", "bluebox"}
    assert names("FreeTFT") == {"freefarm"}
    farm = client.get("/api/pools/farms?currency=TFT", headers=h).json["farms"][0]
    assert farm["up_nodes"] > 0 and set(farm["free"]) == {"cru", "mru", "sru", "hru"} and farm["location"]
    assert client.get("/api/pools/farms?currency=DOGE", headers=h).status_code == 422


def test_capacity_queries_for_other_services(world: PoolsWorld) -> None:
    pool = _active_pool(world, "carol.3bot")
    small = {"owner": "carol.3bot", "cru": 1, "mru": 1, "sru": 1, "hru": 0, "seconds": 3600}
    listed = world.query(contracts.POOLS_LIST_CAPABLE, contracts.CapacityQuery(**small))["pools"]
    mine = [p for p in listed if p["pool_id"] == pool["id"]]
    assert mine and mine[0]["label"].startswith(f"Pool {pool['grid_pool_id']} — CU ")
    assert mine[0]["node_ids"]
    ok = world.query(contracts.POOLS_CHECK_CAPACITY, contracts.CheckCapacity(pool_id=pool["id"], **small))
    assert ok["ok"] is True and ok["grid_pool_id"] == pool["grid_pool_id"]
    # 24 CU-hours cannot run 4 CU (8 cores, 16 GiB) for a day; nor can another user use this pool.
    big = {**small, "cru": 8, "mru": 16, "seconds": 86400}
    assert (
        world.query(contracts.POOLS_CHECK_CAPACITY, contracts.CheckCapacity(pool_id=pool["id"], **big))["ok"] is False
    )
    theirs = {**small, "owner": "bob.3bot"}
    verdict = world.query(contracts.POOLS_CHECK_CAPACITY, contracts.CheckCapacity(pool_id=pool["id"], **theirs))
    assert verdict["ok"] is False and "cannot carry" in verdict["reason"]


ODD_VALUES: list[Any] = [None, True, -1, 0, 2**63, 1e308, "", "x" * 5000, [], {}, [1], {"a": 1}, "1; DROP TABLE x"]


@pytest.mark.parametrize(
    "field", ["farm_id", "currency", "cu", "su", "days", "cu_hours", "su_hours", "idempotency_key"]
)
def test_no_odd_value_in_any_field_causes_a_500(world: PoolsWorld, field: str) -> None:
    client, headers = world.client(), world.headers("alice.3bot")
    for value in ODD_VALUES:
        body = {"farm_id": FREEFARM, "currency": "TFT", "cu": 1, "su": 1, "days": 1, field: value}
        for path in ("/api/pools", "/api/pools/1/extend"):
            response = client.post(path, json=body, headers=headers)
            assert response.status_code < 500 or response.status_code == 503, (path, field, value, response.json)
            assert set(response.json) >= {"message"} or response.status_code in (200, 201)
    for raw in ("/api/pools/abc", "/api/pools/-1", "/api/pools/99999999999999999999", "/api/pools/1/payment.gif"):
        assert client.get(raw, headers=headers).status_code == 404
