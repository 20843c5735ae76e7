"""A pool runs dry (issue 11 item 3): what it paid for ends, a network that other pools still use goes on.

The network's access node B is paid by a big pool; a small pool pays for an Ubuntu on node A, which joins the
network there (its network resource on A is paid by the small pool too), and the big pool for an Ubuntu on node C
(B itself when it has room: the access node is the planner's pick among nodes other tests of the package fill).
The emulator's clock then jumps two days: the small pool is empty, the grid deletes what it paid for — the Ubuntu
on A and the network resource on A. The Ubuntu on A must end rolled back with the reason; the network must not be
torn down (that would delete its resource on B and take the Ubuntu on B with it).
"""

from __future__ import annotations

import time
import uuid

from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.tasks import send
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec

TWO_DAYS = 2 * 86400


def _small_pool(world: DeployerWorld, owner: str) -> int:
    """An active pool of ``owner`` with two hours of one CU and one SU: empty long before two days pass."""
    from services.pools import service as pools

    db = Database(TEST_DATABASE_URL, maxconn=2)
    explorer = Explorer(world.settings, world.identity)
    try:
        pool_id, _ = pools.create_pool(db, explorer, world.settings, owner, f"small-{uuid.uuid4().hex[:8]}", 1, "TFT",
                                       2 * 3600, 2 * 3600, 30)  # fmt: skip
    finally:
        db.close()
        explorer.close()
    grid_pool = world.sql_one("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool_id)["grid_pool_id"]
    assert world.admin("pay", {"reservation_id": grid_pool}).status_code == 200
    deadline = time.monotonic() + 30
    while world.sql_one("SELECT state FROM pools.pools WHERE id = %s", pool_id)["state"] != "active":
        assert time.monotonic() < deadline, "the small pool was never paid"
        send(world.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
        time.sleep(0.3)
    return pool_id


def _grid_state(world: DeployerWorld, grid_id: int) -> tuple[int, int | None]:
    workload = world.grid_workload(grid_id)
    return workload["next_action"], (workload.get("result") or {}).get("state")


def test_a_pool_running_dry_ends_its_solutions_and_spares_a_network_other_pools_use(world: DeployerWorld) -> None:
    world.healthy()
    owner = "drought.3bot"
    network_id = world.network(owner)
    net = world.solution(network_id)
    node_b = sql("SELECT node_id FROM deployer.network_subnets WHERE network_id = %s AND node_id IS NOT NULL",
                 net["network_id"])[0]["node_id"]  # fmt: skip
    node_c, node_a = (r["node_id"] for r in sql(
        "SELECT node_id FROM deployer.nodes WHERE farm_id = 1 AND free_cru >= 2 AND free_mru >= 4 AND free_sru >= 50 "
        "ORDER BY node_id = %s DESC, node_id LIMIT 2", node_b))  # fmt: skip
    small = _small_pool(world, owner)
    thirsty = world.deploy(owner, "ubuntu", {**ubuntu_spec(world, owner, "thirsty"),
                                             "where": {"pool_id": small, "node_id": node_a}})  # fmt: skip
    assert thirsty["status"] == "deployed", world.events(str(thirsty["id"]))
    spared = world.deploy(owner, "ubuntu", {**ubuntu_spec(world, owner, "spared"),
                                            "where": {"pool_id": world.pool(owner), "node_id": node_c}})  # fmt: skip
    assert spared["status"] == "deployed", world.events(str(spared["id"]))
    [container] = [w for w in world.workloads(str(spared["id"])) if w["kind"] == "container"]

    assert world.admin("clock", {"advance_seconds": TWO_DAYS}).status_code == 200
    deadline = time.monotonic() + 60
    while world.solution(str(thirsty["id"]))["status"] not in ("rolled_back", "cancelled"):
        assert time.monotonic() < deadline, world.events(str(thirsty["id"]))
        world.reconcile()
        time.sleep(1)
    ended = world.solution(str(thirsty["id"]))
    assert ended["status"] == "rolled_back" and "removed from the grid" in (ended["error"] or ""), ended["error"]

    # Time for any teardown of the network to reach the grid and take the Ubuntu on C with it (it must not).
    for _ in range(3):
        world.reconcile()
        time.sleep(2)
    assert world.solution(network_id)["status"] == "deployed", world.events(network_id)
    assert world.solution(str(spared["id"]))["status"] == "deployed", world.events(str(spared["id"]))
    assert _grid_state(world, int(container["grid_id"])) == (3, 1)  # DEPLOY, Ok: still running
    newest_b = sql(
        "SELECT grid_id FROM deployer.workloads WHERE network_id = %s AND kind = 'network_resource' "
        "AND node_id = %s AND grid_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        net["network_id"],
        node_b,
    )
    assert _grid_state(world, int(newest_b[0]["grid_id"]))[0] == 3  # the network still runs on B
    assert any("removed from the grid" in e for e in world.events(network_id))  # the owner is told
