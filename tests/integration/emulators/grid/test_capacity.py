"""Capacity accounting (§10): the corrected CU/SU formula, pool burn, `empty_at`, and pools running dry."""

from __future__ import annotations

import pytest
from grid_emulator_client import TEST_LATENCY, Grid
from grid_emulator_signing import Identity

from emulators.grid.capacity import Units, cloud_units

MAX_INT64 = 9223372036854775807


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (Units(cru=1, mru=1.0), (0.25, 0.0)),  # the original formula gave 0 CU here
        (Units(cru=2, mru=4.0), (1.0, 0.0)),
        (Units(sru=1.0), (0.0, 0.003)),
        (Units(sru=10.0), (0.0, 0.033)),
        (Units(hru=1200.0), (0.0, 1.0)),
        (Units(cru=4, mru=2.0), (0.5, 0.0)),  # memory-bound
    ],
)
def test_corrected_cu_su_formula(units: Units, expected: tuple[float, float]) -> None:
    assert cloud_units(units) == expected


def _deployed_container(grid: Grid, alice: Identity, cus: int, sus: int) -> tuple[int, int, dict[str, object]]:
    node = grid.farm_nodes(1)[0][0]
    pool_id = grid.paid_pool(alice, [node["node_id"]], cus=cus, sus=sus)
    grid.network(alice, node, pool_id, "net", "10.3.4.0/24")
    # 1 vCPU, 1 GiB, 256 MiB SSD: 0.25 CU and round3(0.25 / 300) = 0.001 SU per second.
    workload_id = grid.deploy(alice, grid.container(alice, node, pool_id, "net", "10.3.4.2"))
    assert grid.wait_result(workload_id)["result"]["state"] == 1
    return pool_id, workload_id, node


def test_pool_burns_while_workloads_run(grid: Grid, alice: Identity) -> None:
    pool_id, workload_id, _ = _deployed_container(grid, alice, cus=3600, sus=3600)
    pool = grid.pool(pool_id)
    assert (pool["active_cu"], pool["active_su"]) == (0.25, 0.001)
    assert workload_id in pool["active_workload_ids"]  # with the network resource (0 CU/SU)
    # empty_at = last_updated + min(cus / active_cu, sus / active_su): CU runs out first.
    assert pool["empty_at"] == pytest.approx(pool["last_updated"] + pool["cus"] / 0.25, abs=2)

    before = grid.pool(pool_id)
    grid.advance(1000)
    after = grid.pool(pool_id)
    assert after["cus"] == pytest.approx(before["cus"] - 250, abs=1)
    assert after["sus"] == pytest.approx(before["sus"] - 1, abs=0.01)
    assert after["last_updated"] >= before["last_updated"] + 1000


def test_pool_that_runs_dry_deletes_its_workloads(grid: Grid, alice: Identity) -> None:
    pool_id, workload_id, node = _deployed_container(grid, alice, cus=400, sus=3600)
    assert grid.node(str(node["node_id"]))["reserved_resources"]["cru"] == 1
    grid.advance(1700)  # 400 CU-seconds at 0.25 per second last 1600 s
    assert grid.workload(workload_id)["next_action"] in (4, 6)
    grid.advance(TEST_LATENCY + 0.1)
    gone = grid.workload(workload_id)
    assert gone["next_action"] == 6 and gone["result"]["state"] == 2
    pool = grid.pool(pool_id)
    assert pool["cus"] == 0 and pool["active_workload_ids"] == [] and pool["empty_at"] == MAX_INT64
    assert grid.node(str(node["node_id"]))["reserved_resources"]["cru"] == 0
    # Topping the pool up does not bring deleted workloads back.
    grid.admin(
        "POST",
        "/pay",
        {
            "reservation_id": grid.pool_request(alice, [str(node["node_id"])], 10, 10, pool_id=pool_id).body[
                "reservation_id"
            ]
        },
    )
    assert grid.workload(workload_id)["next_action"] == 6


def test_burn_is_replayed_at_event_times(grid: Grid, alice: Identity) -> None:
    """A workload deployed and deleted while nobody looked burns only for the time it ran."""
    node = grid.farm_nodes(1)[0][0]
    pool_id = grid.paid_pool(alice, [node["node_id"]], cus=100_000, sus=100_000)
    grid.network(alice, node, pool_id, "net", "10.3.5.0/24")
    workload_id = grid.deploy(alice, grid.container(alice, node, pool_id, "net", "10.3.5.2"))
    grid.wait_result(workload_id)
    assert grid.sign_delete(alice, workload_id).status == 201
    grid.advance(10_000)  # deletion confirmed after TEST_LATENCY; no burn after that
    pool = grid.pool(pool_id)
    assert pool["cus"] == pytest.approx(100_000, abs=1)
    assert pool["active_cu"] == 0 and pool["empty_at"] == MAX_INT64
