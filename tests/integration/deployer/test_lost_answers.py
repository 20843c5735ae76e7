"""Lost answers: the grid carries out a create or a deletion and the answer never arrives (a 500 after the
commit, or a dropped connection). The deployer must adopt what it created, never create it twice, and still bring
every solution to its final state.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.deployer.conftest import DeployerWorld
from tests.integration.deployer.test_lifecycle import ubuntu_spec
from tests.integration.deployer.test_reliability import assert_grid_matches_index, wait_all


@pytest.fixture(autouse=True)
def healthy_grid(world: DeployerWorld) -> Any:
    world.healthy()
    world.admin("config", {"lost_answer_rate": 0})
    world.admin("lose", {"kind": "workload", "count": 0})
    yield
    world.admin("config", {"lost_answer_rate": 0})
    world.admin("lose", {"kind": "workload", "count": 0})
    world.healthy()


def live_keys(world: DeployerWorld, solution_id: str) -> Counter[tuple[str, int]]:
    """How many live workloads on the grid carry each (solution, row) of ``solution_id`` in their metadata."""
    records = [world.identity.decrypt_metadata(w["metadata"]) for w in world.live_on_grid()]
    uuid = solution_id.replace("-", "")
    return Counter((r["solution_uuid"], r["wl"]) for r in records if r and r["solution_uuid"] == uuid)


@pytest.mark.parametrize("mode", ["drop", "500"])
def test_a_workload_whose_answer_is_lost_is_adopted_not_sent_twice(world: DeployerWorld, mode: str) -> None:
    owner = "lena.3bot"
    world.network(owner)
    assert world.admin("lose", {"kind": "workload", "count": 1, "mode": mode}).status_code == 200
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, f"lost-{mode}"))
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    assert world.admin("lose", {"kind": "workload", "count": 0}).json()["pending"]["workload"] == 0  # it was used
    [row] = world.workloads(str(sol["id"]))
    keys = live_keys(world, str(sol["id"]))
    assert keys == Counter({(str(sol["id"]).replace("-", ""), row["id"]): 1})  # exactly one live copy: adopted
    assert row["state"] == "deployed" and row["grid_id"] is not None
    assert_grid_matches_index(world)


def test_a_lost_network_resource_answer_is_adopted(world: DeployerWorld) -> None:
    owner = "mona.3bot"
    world.admin("lose", {"kind": "workload", "count": 1, "mode": "drop"})
    sol = world.deploy(owner, "network", {"name": "net", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    assert all(n == 1 for n in live_keys(world, str(sol["id"])).values())
    assert_grid_matches_index(world)


def test_a_lost_deletion_answer_still_ends_cancelled(world: DeployerWorld) -> None:
    owner = "lena.3bot"
    world.network(owner)
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "lost-delete"))
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    world.admin("lose", {"kind": "delete", "count": 1, "mode": "drop"})
    assert world.cancel(owner, str(sol["id"])).status_code == 202
    assert world.wait(str(sol["id"]), ("cancelled",))["status"] == "cancelled"
    assert world.admin("lose", {"kind": "delete", "count": 0}).json()["pending"]["delete"] == 0
    world.assert_gone_from_grid(str(sol["id"]))
    assert_grid_matches_index(world)


def test_many_lost_answers_still_converge_without_duplicates(world: DeployerWorld) -> None:
    owner = "nina.3bot"
    world.network(owner)
    world.admin("config", {"lost_answer_rate": 0.4, "lost_answer_mode": "500"})
    ids = [world.submit(owner, "ubuntu", ubuntu_spec(world, owner, f"chaos{i}"))["solution_id"] for i in range(5)]
    sols = wait_all(world, ids)
    assert [s["status"] for s in sols] == ["deployed"] * 5, [(s["status"], s["error"]) for s in sols]
    for sol in sols:
        assert all(n == 1 for n in live_keys(world, str(sol["id"])).values())
    world.admin("config", {"lost_answer_mode": "drop"})
    for sol in sols:
        assert world.cancel(owner, str(sol["id"])).status_code == 202
    for sol in sols:
        assert world.wait(str(sol["id"]), ("cancelled",))["status"] == "cancelled"
        world.assert_gone_from_grid(str(sol["id"]))
    world.admin("config", {"lost_answer_rate": 0})
    assert_grid_matches_index(world)


def test_a_lost_network_resource_answer_replaced_by_a_newer_version_is_not_forgotten(world: DeployerWorld) -> None:
    """Concurrent deployments rewrite one network while the first network-resource answers are lost: a version
    replaced before its retry may be on the grid all the same, and must be tracked, not superseded and leaked."""
    owner = "olga.3bot"
    world.network(owner, "mesh")
    specs = [{**ubuntu_spec(world, owner, f"mesh{i}"), "network": "mesh"} for i in range(6)]
    world.admin("lose", {"kind": "workload", "count": 3, "mode": "drop"})
    with ThreadPoolExecutor(6) as executor:
        answers = list(executor.map(lambda s: world.submit(owner, "ubuntu", s), specs))
    sols = wait_all(world, [a["solution_id"] for a in answers])
    assert [s["status"] for s in sols] == ["deployed"] * 6, [(s["status"], s["error"]) for s in sols]
    world.reconcile()  # confirms the versions nobody waits for; adopts nothing new
    assert_grid_matches_index(world)
