"""Lost answers: the write is committed, then the client gets a 500 or a closed connection (faults.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from grid_emulator_client import EmulatorProcess, Grid
from grid_emulator_signing import Identity

from emulators.grid.faults import LOST_ANSWER


def _volume(grid: Grid, alice: Identity) -> tuple[int, dict[str, object], dict[str, object]]:
    nodes, _ = grid.farm_nodes(1)
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes], cus=1_000_000, sus=1_000_000)
    body = grid.workload_body(alice, nodes[0]["node_id"], pool_id, 2, size=1, type=1)
    return pool_id, nodes[0], body


def _mine(grid: Grid, who: Identity) -> list[dict[str, object]]:
    reply = grid.api("GET", f"/reservations/workloads?customer_tid={who.tid}&size=1000")
    assert reply.status == 200
    return list(reply.body)


def test_a_planned_500_comes_after_the_commit_for_each_kind(grid: Grid, alice: Identity) -> None:
    pool_id, _, body = _volume(grid, alice)
    assert grid.admin("POST", "/lose", {"kind": "workload"}).body["pending"]["workload"] == 1
    lost = grid.create(alice, body)
    assert (lost.status, lost.body) == (500, {"error": LOST_ANSWER})
    [stored] = _mine(grid, alice)
    assert stored["next_action"] == 3  # created and deploying, although the client was told 500
    assert grid.admin("GET", "/lose").body["pending"]["workload"] == 0
    assert grid.create(alice, body).status == 201  # only the planned one is lost

    grid.admin("POST", "/lose", {"kind": "delete", "count": 1})
    assert grid.sign_delete(alice, int(stored["id"])).status == 500
    assert grid.workload(int(stored["id"]))["next_action"] == 4  # the deletion was requested all the same

    nodes = [n["node_id"] for n in grid.farm_nodes(1)[0]]
    grid.admin("POST", "/lose", {"kind": "pool", "count": 2})
    assert grid.pool_request(alice, nodes, 10, 10).status == 500
    assert grid.pool_request(alice, nodes, 10, 10, pool_id=pool_id).status == 500
    pools = grid.api("GET", f"/reservations/pools/owner/{alice.tid}").body
    assert len(pools) == 2  # the paid pool, and the new one whose answer was lost
    assert grid.pool_request(alice, nodes, 10, 10).status == 201


def test_the_rate_loses_committed_writes_only(grid: Grid, alice: Identity) -> None:
    _, _, body = _volume(grid, alice)
    assert grid.admin("POST", "/config", {"lost_answer_rate": 1}).body["lost_answer_rate"] == 1.0
    assert grid.create(alice, body).status == 500
    assert grid.create(alice, {"workload_type": 99}).status == 400  # refused: nothing committed, nothing lost
    assert grid.api("GET", "/farms").status == 200  # reads are never lost
    assert len(_mine(grid, alice)) == 1
    grid.admin("POST", "/config", {"lost_answer_rate": 0})
    assert grid.create(alice, body).status == 201


def test_lost_answer_settings_are_validated(grid: Grid) -> None:
    for bad in ({"lost_answer_rate": 1.5}, {"lost_answer_mode": "timeout"}, {"lost_answer_mode": None}):
        assert grid.admin("POST", "/config", bad).status == 400, bad
    for bad in ({"kind": "user"}, {"kind": "pool", "count": -1}, {"kind": "pool", "mode": "slow"}, {}):
        assert grid.admin("POST", "/lose", bad).status == 400, bad
    assert grid.admin("POST", "/config", {"lost_answer_mode": "drop"}).body["lost_answer_mode"] == "drop"
    grid.admin("POST", "/lose", {"kind": "pool", "count": 3})
    assert grid.admin("POST", "/lose", {"kind": "pool", "count": 0}).body["pending"]["pool"] == 0


@pytest.mark.parametrize("how", ["flag", "env", "planned"])
def test_a_dropped_connection_after_the_commit(spawn: Callable[..., EmulatorProcess], how: str) -> None:
    args = ("--lost-answer-mode", "drop", "--lost-answer-rate", "1") if how == "flag" else ()
    env = {"GRID_EMULATOR_LOST_ANSWER_MODE": "drop", "GRID_EMULATOR_LOST_ANSWER_RATE": "1"} if how == "env" else {}
    emulator = spawn(*args, extra_env=env)
    grid = emulator.grid()
    alice = grid.register("alice.3bot")
    nodes = [n["node_id"] for n in grid.farm_nodes(1)[0]]
    if how == "planned":
        assert grid.admin("POST", "/lose", {"kind": "pool", "mode": "drop"}).status == 200
    with pytest.raises(requests.ConnectionError):
        grid.pool_request(alice, nodes, 10, 10)
    [pool] = grid.api("GET", f"/reservations/pools/owner/{alice.tid}").body
    assert pool["node_ids"] == nodes  # committed, although the client got no answer
    assert grid.admin("GET", "/config").body["lost_answer_mode"] == ("500" if how == "planned" else "drop")


def test_a_planned_refusal_fails_before_anything_is_done(grid: Grid, alice: Identity) -> None:
    _, node, body = _volume(grid, alice)
    assert grid.admin("POST", "/lose", {"kind": "workload", "count": 2, "mode": "refuse"}).status == 200
    for _ in range(2):
        refused = grid.create(alice, body)
        assert refused.status == 500 and refused.body != {"error": LOST_ANSWER}
    assert _mine(grid, alice) == []  # nothing reached the grid
    assert grid.api("GET", f"/nodes/{node['node_id']}").status == 200  # reads still work
    assert grid.create(alice, body).status == 201
    assert len(_mine(grid, alice)) == 1
    # A refusal waits its turn behind a planned lost answer (and the reverse): faults come in the order planned.
    grid.admin("POST", "/lose", {"kind": "workload", "count": 1, "mode": "500"})
    grid.admin("POST", "/lose", {"kind": "workload", "count": 1, "mode": "refuse"})
    assert grid.create(alice, body).body == {"error": LOST_ANSWER}
    assert grid.create(alice, body).status == 500
    assert len(_mine(grid, alice)) == 2
