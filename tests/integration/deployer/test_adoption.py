"""A worker that dies between POSTing a workload and reading the answer: the workload is adopted, never sent twice.

The deployer records the attempt (``attempted_at``) before each POST; a later pass that finds an attempted row
still ``recorded`` looks for it on the grid by the row id in its metadata before sending again, and the reconciler
adopts a live workload of ours whose metadata names such a row. Here the window is made directly: the row is
recorded and attempted by a real worker while the grid refuses every workload POST (reads still work: planning
reads the pool), every deployer worker is killed, the
row's body is POSTed by the test (the request whose answer the dead worker never saw), and new workers run one pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.common import contracts
from services.common.explorer import Explorer
from services.common.tasks import send
from services.deployer.grid.client import GridClient
from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec


@pytest.fixture(autouse=True)
def healthy_grid(world: DeployerWorld) -> Iterator[None]:
    world.healthy()
    yield
    world.healthy()


def _posted_before_a_crash(world: DeployerWorld, owner: str, name: str) -> tuple[str, dict[str, Any], int]:
    """(solution id, its container row, the grid id of the POST whose answer the dead workers never read)."""
    world.network(owner)
    node = sql("SELECT s.node_id FROM deployer.network_subnets s JOIN deployer.networks n ON n.id = s.network_id "
               "WHERE n.name = %s AND s.node_id IS NOT NULL", f"{owner}_net")[0]["node_id"]  # fmt: skip
    where = {"pool_id": world.pool(owner), "node_id": node}
    # The same node just before: the network is already on it, so the first workload POST is the container's.
    warm = world.deploy(owner, "ubuntu", {**ubuntu_spec(world, owner, f"{name}-warm"), "where": where})
    assert warm["status"] == "deployed", world.events(str(warm["id"]))
    # Every workload POST fails before the grid does anything, until the workers are dead (count 0 clears).
    assert world.admin("lose", {"kind": "workload", "count": 1000, "mode": "refuse"}).status_code == 200
    solution_id = world.submit(owner, "ubuntu", {**ubuntu_spec(world, owner, name), "where": where})["solution_id"]
    deadline = time.monotonic() + 30
    while not sql("SELECT 1 FROM deployer.workloads WHERE solution_id = %s AND attempted_at IS NOT NULL", solution_id):
        assert time.monotonic() < deadline, ("no attempt recorded before the POST", world.events(solution_id))
        time.sleep(0.1)
    for proc in list(world.workers):  # they die: whatever they were doing, nothing more reaches the grid
        world.kill(proc)
        world.workers.remove(proc)
    world.admin("lose", {"kind": "workload", "count": 0})
    world.healthy()
    [row] = world.workloads(solution_id)
    assert (row["state"], row["grid_id"]) == ("recorded", None) and row["attempted_at"] is not None
    explorer = Explorer(world.settings, world.identity)
    try:
        grid_id = GridClient(explorer).create_workload(row["body"])  # the POST that "reached the grid"
    finally:
        explorer.close()
    return solution_id, row, grid_id


def _assert_adopted(world: DeployerWorld, solution_id: str, row: dict[str, Any], grid_id: int) -> None:
    sol = world.solution(solution_id)
    assert sol["status"] == "deployed", world.events(solution_id)
    [after] = world.workloads(solution_id)
    assert (after["id"], after["grid_id"], after["state"]) == (row["id"], grid_id, "deployed")
    live = [w for w in world.live_on_grid()
            if (world.identity.decrypt_metadata(w["metadata"]) or {}).get("wl") == row["id"]]  # fmt: skip
    assert [int(w["id"]) for w in live] == [grid_id]  # exactly one, the one sent before the crash


def test_a_pass_after_the_crash_adopts_the_workload_instead_of_sending_it_again(world: DeployerWorld) -> None:
    solution_id, row, grid_id = _posted_before_a_crash(world, "rosa.3bot", "adopted")
    world.start_worker("deployer-worker-after-crash-1")
    world.start_worker("deployer-worker-after-crash-2")
    # One pass, asked for directly (the reconciler would adopt the workload by itself and hide a resend).
    send(world.celery, contracts.DEPLOYER_ADVANCE, contracts.AdvanceSolution(solution_id=solution_id))
    world.wait(solution_id)
    _assert_adopted(world, solution_id, row, grid_id)
