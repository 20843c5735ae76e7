"""Capacity pools (§4.5): the checks in order, escrow information, payments, extensions, expiry."""

from __future__ import annotations

import json
from collections.abc import Callable

from grid_emulator_client import Grid
from grid_emulator_signing import Identity, identity

from emulators.grid.config import Knobs

TESTNET_TFT = "TFT:GA47YZA3PKFUZMPLQ3B5F2E3CJIB57TGGU7SPCQT2WAEYKN766PWIMB3"


def _farm_ids(grid: Grid, farm_id: int) -> list[str]:
    nodes, gateways = grid.farm_nodes(farm_id)
    return [n["node_id"] for n in nodes] + [g["node_id"] for g in gateways]


def test_new_pool_is_empty_until_paid_then_credited(grid: Grid, alice: Identity) -> None:
    node_ids = _farm_ids(grid, 1)
    reply = grid.pool_request(alice, node_ids, cus=3600, sus=7200)
    assert reply.status == 201, reply.body
    reservation_id = reply.body["reservation_id"]
    escrow = reply.body["escrow_information"]
    assert escrow["amount"] == 741 * 3600 + 556 * 7200
    assert escrow["asset"] == TESTNET_TFT
    assert escrow["address"].startswith("G") and len(escrow["address"]) == 56

    pool = grid.pool(reservation_id)  # a new pool takes the reservation's id
    assert (pool["cus"], pool["sus"], pool["customer_tid"]) == (0, 0, alice.tid)
    assert pool["node_ids"] == node_ids
    assert pool["empty_at"] == 9223372036854775807

    status = grid.admin("GET", f"/reservations/{reservation_id}").body
    assert status["state"] == "awaiting_payment" and status["paid_amount"] == 0
    assert grid.admin("POST", "/pay", {"reservation_id": reservation_id}).status == 200
    pool = grid.pool(reservation_id)
    assert (pool["cus"], pool["sus"]) == (3600, 7200)
    assert grid.admin("GET", f"/reservations/{reservation_id}").body["state"] == "paid"
    assert grid.admin("POST", "/pay", {"reservation_id": reservation_id}).status == 409

    owned = grid.api("GET", f"/reservations/pools/owner/{alice.tid}")
    assert [p["pool_id"] for p in owned.body] == [reservation_id]
    assert "Pages" not in owned.headers


def test_extension_adds_only_the_new_amounts_and_keeps_the_pool_id(grid: Grid, alice: Identity) -> None:
    node_ids = _farm_ids(grid, 1)
    pool_id = grid.paid_pool(alice, node_ids[:3], cus=1000, sus=2000)
    extension = grid.pool_request(alice, node_ids[:4], cus=500, sus=0, pool_id=pool_id)
    assert extension.status == 201, extension.body
    assert extension.body["reservation_id"] != pool_id
    assert extension.body["escrow_information"]["amount"] == 741 * 500
    # The same customer pays into the same escrow account.
    again = grid.pool_request(alice, node_ids[:1], cus=1, sus=1)
    assert again.body["escrow_information"]["address"] == extension.body["escrow_information"]["address"]
    bob = grid.register("bob.3bot")
    other = grid.pool_request(bob, node_ids[:1], cus=1, sus=1)
    assert other.body["escrow_information"]["address"] != again.body["escrow_information"]["address"]

    assert grid.pool(pool_id)["cus"] == 1000  # unpaid extension changes nothing yet
    # Partial payments add up; the pool is credited once the amount is reached.
    half = 741 * 250
    first = grid.admin("POST", "/pay", {"reservation_id": extension.body["reservation_id"], "amount": half})
    assert first.body["state"] == "partial" and first.body["reservation"]["paid_amount"] == half
    assert first.body["reservation"]["state"] == "awaiting_payment"
    assert grid.pool(pool_id)["cus"] == 1000
    second = grid.admin("POST", "/pay", {"reservation_id": extension.body["reservation_id"], "amount": half})
    assert second.body["state"] == "credited" and second.body["reservation"]["state"] == "paid"
    pool = grid.pool(pool_id)
    assert (pool["cus"], pool["sus"]) == (1500, 2000)
    assert pool["node_ids"] == node_ids[:4]


def test_pool_request_checks(grid: Grid, alice: Identity) -> None:
    farm1, farm2 = _farm_ids(grid, 1), _farm_ids(grid, 2)
    data = {"pool_id": 0, "cus": 10, "sus": 10, "node_ids": farm1[:2], "currencies": ["TFT"]}
    text = json.dumps(data)
    signed = {
        "json": text,
        "data_reservation": data,
        "customer_tid": alice.tid,
        "customer_signature": alice.key.sign(text.encode()).signature.hex(),
    }

    def post(body: dict[str, object]) -> tuple[int, str]:
        reply = grid.api("POST", "/reservations/pools", body, signer=alice)
        return reply.status, (reply.body or {}).get("error", "")

    assert post(signed)[0] == 201
    assert post({**signed, "data_reservation": {**data, "cus": 11}}) == (400, "json does not match data_reservation")
    assert post({**signed, "customer_tid": 0})[0] == 400
    assert post({**signed, "customer_signature": ""})[0] == 400
    assert post({**signed, "customer_tid": 4242}) == (400, "customer 4242 not found")
    forged = identity("mallory.3bot").key.sign(text.encode()).signature.hex()
    assert post({**signed, "customer_signature": forged}) == (400, "failed to verify customer signature")
    assert post({**signed, "customer_signature": "not hex"}) == (400, "failed to verify customer signature")

    assert grid.pool_request(alice, [farm1[0], farm1[0]], 1, 1).status == 409
    two_farms = grid.pool_request(alice, [farm1[0], farm2[0]], 1, 1)
    assert (two_farms.status, two_farms.body["error"]) == (400, "all nodes of a pool must belong to the same farm")
    assert grid.pool_request(alice, [], 1, 1).status == 400
    assert grid.pool_request(alice, ["nope"], 1, 1).status == 400

    pool_id = grid.paid_pool(alice, farm1[:3], 10, 10)
    # A failed extension is a 500, as on the real explorer (test_payments.py: the 400 of the switch).
    removing = grid.pool_request(alice, farm1[:2], 1, 1, pool_id=pool_id)
    assert removing.status == 500 and "cannot be removed" in removing.body["error"]
    assert grid.pool_request(alice, farm1[:3], 1, 1, pool_id=999).status == 500


def test_currency_choice(grid: Grid, alice: Identity) -> None:
    free_farm, farm2 = _farm_ids(grid, 1), _farm_ids(grid, 2)
    nodes, gateways = grid.farm_nodes(1)
    free_nodes = [n["node_id"] for n in nodes + gateways if n["free_to_use"]]
    free = grid.pool_request(alice, free_nodes, 1, 1, currencies=["FreeTFT"])
    assert free.status == 201 and free.body["escrow_information"]["asset"].startswith("FreeTFT:")
    # The free farm also has paid nodes: FreeTFT is dropped for a pool that lists one of them.
    assert grid.pool_request(alice, free_farm, 1, 1, currencies=["FreeTFT"]).status == 400
    mixed = grid.pool_request(alice, free_farm, 1, 1, currencies=["FreeTFT", "TFT"])
    assert mixed.body["escrow_information"]["asset"] == TESTNET_TFT
    # farm 2 has no free_to_use node, and freefarm has no TFTA wallet.
    assert grid.pool_request(alice, farm2, 1, 1, currencies=["FreeTFT"]).status == 400
    assert grid.pool_request(alice, free_farm, 1, 1, currencies=["TFTA"]).status == 400
    fallback = grid.pool_request(alice, free_farm, 1, 1, currencies=["TFTA", "TFT"])
    assert fallback.body["escrow_information"]["asset"] == TESTNET_TFT


def test_unpaid_reservation_expires_after_an_hour(grid: Grid, alice: Identity) -> None:
    reply = grid.pool_request(alice, _farm_ids(grid, 1)[:1], 100, 100)
    reservation_id = reply.body["reservation_id"]
    grid.advance(3599)
    assert grid.admin("GET", f"/reservations/{reservation_id}").body["state"] == "awaiting_payment"
    grid.advance(2)
    assert grid.admin("GET", f"/reservations/{reservation_id}").body["state"] == "expired"
    late = grid.admin("POST", "/pay", {"reservation_id": reservation_id})
    assert late.status == 410
    assert grid.pool(reservation_id)["cus"] == 0


def test_auto_pay_after(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid(knobs=Knobs(auto_pay_after=30, payment_delay=0))
    alice = grid.register("alice.3bot")
    reply = grid.pool_request(alice, _farm_ids(grid, 1)[:1], 100, 200)
    pool_id = reply.body["reservation_id"]
    grid.advance(29)
    assert grid.pool(pool_id)["cus"] == 0
    grid.advance(2)
    assert (grid.pool(pool_id)["cus"], grid.pool(pool_id)["sus"]) == (100, 200)
    assert grid.admin("GET", f"/reservations/{pool_id}").body["state"] == "paid"


def test_unknown_pool_and_bad_ids(grid: Grid) -> None:
    assert grid.api("GET", "/reservations/pools/12345").body == {"error": "capacity pool not found"}
    assert grid.api("GET", "/reservations/pools/12345").status == 404
    assert grid.api("GET", "/reservations/pools/abc").status == 400
    assert grid.api("GET", "/reservations/pools/owner/abc").status == 400
    assert grid.admin("POST", "/pay", {"reservation_id": 777}).status == 404
