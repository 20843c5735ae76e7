"""Payments as on the real grid (§4.5): matched by memo, address, asset (code and issuer) and amount, credited after
a delay; a failed extension is a 500; FreeTFT on a farm that mixes free-to-use and paid nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from grid_emulator_client import Grid
from grid_emulator_signing import Identity

from emulators.grid.__main__ import parse_args
from emulators.grid.config import Knobs
from emulators.grid.pools import ISSUERS

MAINNET_TFT = f"TFT:{ISSUERS['mainnet']['TFT']}"


def _farm1(grid: Grid) -> list[str]:
    nodes, gateways = grid.farm_nodes(1)
    return [n["node_id"] for n in nodes + gateways]


def _reservation(grid: Grid, who: Identity, cus: int = 100, sus: int = 100, pool_id: int = 0) -> dict[str, Any]:
    reply = grid.pool_request(who, _farm1(grid)[:2], cus, sus, pool_id=pool_id)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def _pay(grid: Grid, escrow: dict[str, Any], memo: str, **changes: Any) -> dict[str, Any]:
    body = {"to": escrow["address"], "asset": escrow["asset"], "amount": escrow["amount"], "memo": memo, **changes}
    reply = grid.admin("POST", "/pay", body)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def test_only_the_right_memo_address_and_asset_credit_a_pool(grid: Grid, alice: Identity) -> None:
    created = _reservation(grid, alice)
    pool_id, escrow = created["reservation_id"], created["escrow_information"]
    other = _reservation(grid, grid.register("bob.3bot"))["escrow_information"]

    wrong = [
        _pay(grid, escrow, f"p-{pool_id + 100}"),  # names no reservation
        _pay(grid, escrow, f"{pool_id}"),  # not the p-<id> form
        _pay(grid, escrow, f"p-{pool_id}", asset=MAINNET_TFT),  # TFT, but of another issuer
        _pay(grid, escrow, f"p-{pool_id}", to=other["address"]),  # another customer's escrow account
    ]
    assert [p["state"] for p in wrong] == ["ignored"] * 4
    assert escrow["asset"] in wrong[2]["reason"]
    assert grid.pool(pool_id)["cus"] == 0
    assert grid.admin("GET", f"/reservations/{pool_id}").body["paid_amount"] == 0

    right = _pay(grid, escrow, f"p-{pool_id}")
    assert right["state"] == "credited" and right["reservation"]["state"] == "paid"
    assert grid.pool(pool_id)["cus"] == 100
    # Paying again does not credit twice.
    assert _pay(grid, escrow, f"p-{pool_id}")["state"] == "ignored"
    assert grid.pool(pool_id)["cus"] == 100
    assert grid.admin("GET", f"/payments/{right['payment_id']}").body["state"] == "credited"


def test_too_small_payments_add_up_until_the_amount_is_reached(grid: Grid, alice: Identity) -> None:
    created = _reservation(grid, alice)
    pool_id, escrow = created["reservation_id"], created["escrow_information"]
    short = _pay(grid, escrow, f"p-{pool_id}", amount=escrow["amount"] - 1)
    assert short["state"] == "partial" and short["reservation"]["state"] == "awaiting_payment"
    assert grid.pool(pool_id)["cus"] == 0
    assert _pay(grid, escrow, f"p-{pool_id}", amount=1)["state"] == "credited"
    assert grid.pool(pool_id)["cus"] == 100


def test_crediting_takes_the_payment_delay(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid(knobs=Knobs(payment_delay=90))
    alice = grid.register("alice.3bot")
    created = _reservation(grid, alice)
    pool_id, escrow = created["reservation_id"], created["escrow_information"]
    sent = _pay(grid, escrow, f"p-{pool_id}")
    assert sent["state"] == "pending" and sent["credit_at"] - sent["received"] == 90
    grid.advance(89)
    assert grid.pool(pool_id)["cus"] == 0
    assert grid.admin("GET", f"/payments/{sent['payment_id']}").body["state"] == "pending"
    grid.advance(2)
    assert grid.pool(pool_id)["cus"] == 100
    assert grid.admin("GET", f"/payments/{sent['payment_id']}").body["state"] == "credited"


def test_auto_pay_sends_a_correct_payment_credited_after_the_delay(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid(knobs=Knobs(auto_pay_after=30, payment_delay=60))
    alice = grid.register("alice.3bot")
    pool_id = _reservation(grid, alice)["reservation_id"]
    grid.advance(89)
    assert grid.pool(pool_id)["cus"] == 0
    grid.advance(2)
    assert grid.pool(pool_id)["cus"] == 100


def test_a_payment_after_the_expiry_is_ignored(grid: Grid, alice: Identity) -> None:
    created = _reservation(grid, alice)
    grid.advance(3601)
    late = _pay(grid, created["escrow_information"], f"p-{created['reservation_id']}")
    assert late["state"] == "ignored" and "expired" in late["reason"]
    assert grid.pool(created["reservation_id"])["cus"] == 0


def test_the_reservation_shorthand_builds_the_correct_payment(grid: Grid, alice: Identity) -> None:
    created = _reservation(grid, alice)
    paid = grid.admin("POST", "/pay", {"reservation_id": created["reservation_id"]}).body
    escrow = created["escrow_information"]
    assert (paid["to"], paid["asset"], paid["amount"]) == (escrow["address"], escrow["asset"], escrow["amount"])
    assert paid["memo"] == f"p-{created['reservation_id']}" and paid["state"] == "credited"


@pytest.mark.parametrize(
    "change",
    [
        {"to": "not-an-address"},
        {"asset": "TFT"},
        {"asset": "TFT:nope"},
        {"amount": 0},
        {"amount": "5"},
        {"memo": "p-" + "1" * 30},  # longer than a Stellar text memo
        {"memo": None},
        {"extra": 1},
    ],
)
def test_a_payment_no_wallet_could_send_is_a_400(grid: Grid, alice: Identity, change: dict[str, Any]) -> None:
    escrow = _reservation(grid, alice)["escrow_information"]
    body = {"to": escrow["address"], "asset": escrow["asset"], "amount": 5, "memo": "p-1", **change}
    reply = grid.admin("POST", "/pay", body)
    assert reply.status == 400 and reply.body["error"], change


def test_a_failed_extension_answers_500_or_400_with_the_switch_off(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid()
    alice = grid.register("alice.3bot")
    farm = _farm1(grid)
    pool_id = grid.paid_pool(alice, farm[:3], 10, 10)
    missing = grid.pool_request(alice, farm[:3], 1, 1, pool_id=pool_id + 50)
    assert (missing.status, missing.body) == (500, {"error": f"pool {pool_id + 50} does not exist"})
    assert grid.pool_request(alice, farm[:2], 1, 1, pool_id=pool_id).status == 500
    assert grid.admin("POST", "/config", {"extension_error_500": False}).status == 200
    assert grid.pool_request(alice, farm[:2], 1, 1, pool_id=pool_id).status == 400
    assert grid.admin("POST", "/config", {"extension_error_500": "maybe"}).status == 400


def test_freetft_on_the_mixed_farm_only_over_its_free_nodes(grid: Grid, alice: Identity) -> None:
    nodes, gateways = grid.farm_nodes(1)
    free = [n["node_id"] for n in nodes + gateways if n["free_to_use"]]
    paid = [n["node_id"] for n in nodes if not n["free_to_use"]]
    assert free and paid
    whole = grid.pool_request(alice, free + paid[:1], 1, 1, currencies=["FreeTFT"])
    assert whole.status == 400 and "currencies" in whole.body["error"]
    only_free = grid.pool_request(alice, free, 1, 1, currencies=["FreeTFT"])
    assert only_free.body["escrow_information"]["asset"].startswith("FreeTFT:")
    # Extending that pool with a paid node drops FreeTFT again.
    pool_id = only_free.body["reservation_id"]
    assert grid.pool_request(alice, free + paid[:1], 1, 1, pool_id=pool_id, currencies=["FreeTFT"]).status == 400


def test_the_switches_from_flags_and_variables() -> None:
    defaults = parse_args([], {}).knobs
    assert (defaults.payment_delay, defaults.extension_error_500, defaults.wire_variety) == (1.0, True, True)
    knobs = parse_args(
        ["--payment-delay", "90", "--wire-variety", "off"], {"GRID_EMULATOR_EXTENSION_ERROR_500": "false"}
    ).knobs
    assert (knobs.payment_delay, knobs.extension_error_500, knobs.wire_variety) == (90.0, False, False)
    for bad in (["--wire-variety", "maybe"], ["--payment-delay", "-1"], ["--payment-delay", "7200"]):
        with pytest.raises(SystemExit):
            parse_args(bad, {})
