"""Pool capacity is summed per pool over a solution's new workloads and held against concurrent planners: a
pool that can pay for only some of what is asked refuses the rest at planning, with the reason — the grid never
answers a 402 (GRID_API §10.3: a pool must run what it runs plus the new workloads for MIN_POOL_RUNTIME)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.tasks import send
from services.deployer import pool_capacity
from services.deployer.context import Deployer, Transient
from services.deployer.solutions import PLANNERS
from services.pools import changes
from services.pools import service as pools
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql

UBUNTU_CU_SECONDS = 0.25 * 3600  # 1 vCPU, 1 GiB: min(1/4, 1/2) CU for an hour
K8S_CU_SECONDS = 0.5 * 3600  # size 1: 1 vCPU, 2 GiB


def small_pool(world: DeployerWorld, owner: str, cus: int, sus: int) -> tuple[int, int]:
    """(pool id, grid pool id) of an active pool holding exactly ``cus``/``sus`` CU-/SU-seconds."""
    db, explorer = Database(TEST_DATABASE_URL, maxconn=2), Explorer(world.settings, world.identity)
    try:
        pool_id, _ = pools.create_pool(db, explorer, world.settings, owner, uuid.uuid4().hex, 1, "TFT", cus, sus, 1)
    finally:
        db.close()
        explorer.close()
    grid_pool = int(sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool_id)[0]["grid_pool_id"])
    assert world.admin("pay", {"reservation_id": grid_pool}).status_code == 200
    deadline = time.monotonic() + 30
    while sql("SELECT state FROM pools.pools WHERE id = %s", pool_id)[0]["state"] != "active":
        assert time.monotonic() < deadline
        send(world.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
        time.sleep(0.3)
    return pool_id, grid_pool


def _refused_by_the_grid(world: DeployerWorld, solution_id: str) -> list[str]:
    return [e for e in world.events(solution_id) if "402" in e or "cannot pay" in e.lower()]


def test_a_burst_into_a_pool_that_pays_for_three_deploys_three_and_refuses_the_rest(world: DeployerWorld) -> None:
    owner = "burst.3bot"
    world.network(owner)
    pool, grid_pool = small_pool(world, owner, int(3 * UBUNTU_CU_SECONDS + 300), 20_000)
    specs = [{"name": f"b{i}", "where": {"pool_id": pool}, "network": "net", "ssh_key": SSH_KEY} for i in range(6)]
    ids = [world.submit(owner, "ubuntu", spec)["solution_id"] for spec in specs]  # all at once, 2 workers
    final = [world.wait(i, timeout=120) for i in ids]

    deployed = [s for s in final if s["status"] == "deployed"]
    refused = [s for s in final if s["status"] == "rolled_back"]
    assert len(deployed) == 3 and len(refused) == 3, [(s["status"], s["error"]) for s in final]
    for sol in refused:
        assert f"pool {grid_pool} has too little capacity left" in sol["error"], sol["error"]
        assert world.workloads(str(sol["id"])) == []  # refused at planning: nothing was sent
    assert all(_refused_by_the_grid(world, i) == [] for i in ids)
    containers = {
        int(w["grid_id"]) for s in deployed for w in world.workloads(str(s["id"])) if w["kind"] == "container"
    }
    on_pool = {int(w["id"]) for w in world.live_on_grid() if int(w["pool_id"]) == grid_pool}
    assert len(containers) == 3 and containers <= on_pool


def test_a_cluster_the_pool_cannot_run_whole_is_refused_before_anything_is_sent(world: DeployerWorld) -> None:
    # Master and two workers: each VM alone fits the pool, the three together do not.
    owner = "cluster.3bot"
    world.network(owner)
    pool, grid_pool = small_pool(world, owner, int(2 * K8S_CU_SECONDS + 300), 200_000)
    spec: dict[str, Any] = {"name": "k3s", "workers": 2, "pool_ids": [pool], "network": "net",
                            "ssh_keys": [SSH_KEY]}  # fmt: skip
    sol = world.deploy(owner, "kubernetes", spec, secrets={"cluster_secret": "s3cret-value"})
    assert sol["status"] == "rolled_back", world.events(str(sol["id"]))
    assert f"pool {grid_pool} has too little capacity left" in sol["error"], sol["error"]
    assert world.workloads(str(sol["id"])) == []
    assert _refused_by_the_grid(world, str(sol["id"])) == []
    # One worker fewer fits, and deploys.
    fits = world.deploy(owner, "kubernetes", {**spec, "name": "k3s-small", "workers": 1},
                        secrets={"cluster_secret": "s3cret-value"})  # fmt: skip
    assert fits["status"] == "deployed", world.events(str(fits["id"]))


def test_an_explorer_outage_while_reading_the_pool_is_retried_not_a_failure(world: DeployerWorld) -> None:
    owner = "outage.3bot"
    world.network(owner)
    spec = {"name": "later", "where": {"pool_id": world.pool(owner)}, "network": "net", "ssh_key": SSH_KEY}
    time.sleep(pool_capacity.SHARED_READ)  # the network's read of the pool is no longer shared: this plan reads it
    world.admin("config", {"error_rate": 1.0})
    try:
        solution_id = world.submit(owner, "ubuntu", spec)["solution_id"]
        time.sleep(3)  # passes meet the outage reading the pool: the solution waits, it does not fail
        assert world.solution(solution_id)["status"] in ("submitted", "planning"), world.events(solution_id)
    finally:
        world.healthy()
    assert world.wait(solution_id, timeout=120)["status"] == "deployed", world.events(solution_id)


def test_one_read_of_a_pool_serves_its_planners_for_a_moment_and_a_change_of_the_pools_is_read_at_once(
    world: DeployerWorld, dep: Deployer
) -> None:
    owner = "shared.3bot"  # no network: the workers' own pass over this solution ends at planning, rolled back
    pool = world.pool(owner)
    spec = {"name": "shared", "where": {"pool_id": pool}, "network": "net", "ssh_key": SSH_KEY}
    solution_id = world.submit(owner, "ubuntu", spec)["solution_id"]
    planner = PLANNERS["ubuntu"]
    placements = planner.placements(planner.spec_model.model_validate(spec))
    try:
        first = pool_capacity.read_pools(dep, solution_id, placements)
        world.admin("config", {"error_rate": 1.0})  # from here, a plan that reads the pool itself fails
        shared = pool_capacity.read_pools(dep, solution_id, placements)
        assert shared.live == first.live
        assert shared.read_at == first.read_at  # holds changed since the shared read was made still count
        changes.notifier(dep.redis)(owner)  # what the pools service does once a change of the owner's pools commits
        with pytest.raises(Transient):
            pool_capacity.read_pools(dep, solution_id, placements)
    finally:
        world.healthy()
    assert pool_capacity.read_pools(dep, solution_id, placements).live.keys() == first.live.keys()
    assert world.wait(solution_id)["status"] == "rolled_back"
