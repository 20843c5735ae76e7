"""``OVER_PROVISIONING``: off, CPU and memory count; on, only disks do — in the pools check and the node finder.

A second set of workers (pools + deployer + beat) runs with ``OVER_PROVISIONING=true`` on its own Redis database,
against the same grid and PostgreSQL. The package's deployer workers and beat (off) are stopped meanwhile: the grid
poller wakes every solution in flight in the database, so with both sets running a pass of the other setting could
pick up a solution (in production the setting is one for the whole deployment).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from celery import Celery

from services.common import contracts
from services.common.settings import load_settings
from services.common.tasks import close_celery, make_celery, send
from tests.conftest import PYTHON, redis_db_url
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql, verified_pools

# OVER_PROVISIONING_TEST_REDIS_URL lets parallel runs on one machine keep their Celery queues apart.
OVER_REDIS = os.environ.get("OVER_PROVISIONING_TEST_REDIS_URL", redis_db_url(11))


@pytest.fixture(scope="module")
def over(world: DeployerWorld) -> Iterator[Celery]:
    redis.Redis.from_url(OVER_REDIS).flushdb()
    env = {**world.env, "REDIS_URL": OVER_REDIS, "OVER_PROVISIONING": "true"}
    procs = [world.processes.start(f"over-{role}", [PYTHON, "-m", "deploy.role", role], env)
             for role in ("pools-worker", "deployer-worker")]  # fmt: skip
    celery = make_celery(load_settings(env))
    send(celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=60)
    yield celery
    close_celery(celery)
    for proc in procs:
        world.kill(proc)


@contextmanager
def only_over_provisioning_deploys(world: DeployerWorld) -> Iterator[None]:
    """While deployments run with the setting on, the package's deployer workers and beat (off) are stopped and a
    beat on the over-provisioning workers' Redis wakes them."""
    with world.stopped("over"):
        beat = world.start_beat("over-beat", REDIS_URL=OVER_REDIS, OVER_PROVISIONING="true")
        try:
            yield
        finally:
            world.kill(beat)


def _small_node(world: DeployerWorld, farm: int) -> tuple[str, dict[str, int]]:
    """The up node of ``farm`` with the fewest free cores, and container resources one core too big for it."""
    row = sql("SELECT node_id, free_cru FROM deployer.nodes WHERE farm_id = %s AND updated > now() - interval "
              "'10 minutes' AND free_sru > 10 ORDER BY free_cru, node_id LIMIT 1", farm)[0]  # fmt: skip
    return row["node_id"], {"cpu": int(row["free_cru"]) + 1, "memory": 1024}


def _spec(world: DeployerWorld, owner: str, name: str, node: str, resources: dict[str, Any]) -> dict[str, Any]:
    where = {"pool_id": world.pool(owner), "node_id": node}
    return {"name": name, "where": where, "network": "net", "ssh_key": SSH_KEY, "resources": resources}


def test_cpu_and_memory_count_only_without_over_provisioning(world: DeployerWorld, over: Celery) -> None:
    owner = "ivan.3bot"
    world.network(owner)
    node, resources = _small_node(world, farm=1)
    refused = world.deploy(owner, "ubuntu", _spec(world, owner, "big-off", node, resources))
    assert refused["status"] == "rolled_back"
    assert "CPU" in refused["error"], refused["error"]
    assert world.workloads(str(refused["id"])) == []

    on_spec = _spec(world, owner, "big-on", node, resources)
    disk = {"cpu": 1, "memory": 1024, "disk": 1024 * 1024}
    disk_spec = _spec(world, owner, "big-disk", node, disk)
    with only_over_provisioning_deploys(world):
        payload = contracts.SubmitSolution(idempotency_key="over-provisioning-on-1", owner=owner, type="ubuntu",
                                           spec=on_spec, pools=verified_pools(owner))  # fmt: skip
        answer = send(over, contracts.DEPLOYER_SUBMIT, payload).get(timeout=30)
        assert answer["ok"], answer
        sol = world.wait(answer["solution_id"])
        assert sol["status"] == "deployed", world.events(answer["solution_id"])

        # Disk still counts with over-provisioning on.
        answer = send(over, contracts.DEPLOYER_SUBMIT, contracts.SubmitSolution(
            idempotency_key="over-provisioning-disk", owner=owner, type="ubuntu", spec=disk_spec,
            pools=verified_pools(owner))).get(timeout=30)  # fmt: skip
        disk_sol = world.wait(answer["solution_id"])
    assert disk_sol["status"] == "rolled_back" and "SSD" in disk_sol["error"], disk_sol["error"]


def test_the_wizards_node_choices_follow_over_provisioning(world: DeployerWorld, over: Celery) -> None:
    # deployer.node_choices answered by real deployer workers: the package's (off) and the second set (on). The
    # query asks more cores and memory than the node has at all, and a little of the SSD it has free.
    send(world.celery, contracts.DEPLOYER_REFRESH_NODES, contracts.RefreshNodes()).get(timeout=120)  # beat's job
    row = sql("SELECT node_id, total_cru, total_mru, free_sru FROM deployer.nodes WHERE updated > now() - "
              "interval '10 minutes' AND free_sru > 10 ORDER BY node_id LIMIT 1")[0]  # fmt: skip
    node = row["node_id"]

    def choices(celery: Celery, cru: float, mru: float, sru: float) -> list[str]:
        query = contracts.NodeChoicesQuery(node_ids=[node], cru=cru, mru=mru, sru=sru, hru=0)
        return list(send(celery, contracts.DEPLOYER_NODE_CHOICES, query).get(timeout=30)["node_ids"])

    no_cpu_nor_memory = (row["total_cru"] + 1, row["total_mru"] + 1, 1)
    assert choices(world.celery, *no_cpu_nor_memory) == []
    assert choices(over, *no_cpu_nor_memory) == [node]
    # Disk still counts with over-provisioning on.
    assert choices(over, 1, 1, row["free_sru"] + 1) == []
