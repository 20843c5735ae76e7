"""Wakes are never lost, and the grid poller's explorer calls do not grow with the deployments in flight.

Issue 11 item 6: a wake that arrives while another pass holds the solution's lock used to answer "busy" and vanish;
if that pass had already read the state the wake was about, nobody looked again. Here the holder is a pass on a
worker kept inside a slow grid GET; the owner cancels meanwhile and the cancel's wake, on another worker, finds the
lock taken. The holder must run again when it releases the lock and start the removal.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from redis import Redis

from services.common import contracts
from services.common.tasks import send
from services.deployer import poller
from tests.integration.deployer.conftest import FINAL, DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec


def _wait_sent(world: DeployerWorld, solution_id: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(sql("SELECT 1 FROM deployer.workloads WHERE solution_id = %s AND state = 'sent' "
                  "AND kind <> 'network_resource'", solution_id)) < count:  # fmt: skip
        assert time.monotonic() < deadline, world.events(solution_id)
        time.sleep(0.1)


def test_a_wake_that_finds_the_lock_taken_is_run_by_the_holder(world: DeployerWorld) -> None:
    owner = "wakeful.3bot"
    world.healthy()
    world.network(owner)
    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 60}})
    solution_id = world.submit(owner, "ubuntu", ubuntu_spec(world, owner, "sleepy"))["solution_id"]
    _wait_sent(world, solution_id)
    # The poller's idle sweep would wake the cancelled solution a tick later and hide a lost wake: mark it swept.
    redis = Redis.from_url(world.env["REDIS_URL"])
    redis.set(poller.sweep_key(solution_id), "1", ex=120)
    try:
        world.admin("config", {"extra_latency": 1.5})  # every grid call of the holder's pass takes 1.5 s
        # The holder: a pass on a worker, inside its GET of the container (which is not deployed for a minute).
        send(world.celery, contracts.DEPLOYER_ADVANCE, contracts.AdvanceSolution(solution_id=solution_id))
        time.sleep(0.6)
        assert world.cancel(owner, solution_id).status_code == 202  # its wake finds the holder's lock
        deadline = time.monotonic() + 15
        states: set[str] = set()
        while not states & {"deleting", "deleted"}:
            # The holder ran again for the cancel after releasing the lock: the removal was asked of the grid.
            assert time.monotonic() < deadline, (states, world.events(solution_id))
            time.sleep(0.2)
            states = {w["state"] for w in world.workloads(solution_id) if w["kind"] == "container"}
    finally:
        world.healthy()
        redis.delete(poller.sweep_key(solution_id))
        redis.close()
    assert world.wait(solution_id, timeout=60)["status"] == "cancelled"


def _explorer_calls(world: DeployerWorld) -> dict[str, int]:
    counts: dict[str, int] = requests.get(f"{world.grid}/_emulator/stats", timeout=10).json()["requests"]
    return counts


def _calls_while_waiting(world: DeployerWorld, seconds: float) -> tuple[float, float]:
    """(listings per tick, workload GETs per tick) over ``seconds`` of deployments waiting for the grid."""
    before = _explorer_calls(world)
    time.sleep(seconds)
    after = _explorer_calls(world)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    ticks = seconds / world.settings.deploy_poll_interval
    listings = sum(v for k, v in delta.items() if k.startswith("GET ") and k.endswith("/reservations/workloads"))
    gets = sum(v for k, v in delta.items() if k.startswith("GET ") and "/reservations/workloads/<" in k)
    return listings / ticks, gets / ticks


def test_the_pollers_explorer_calls_do_not_grow_with_the_deployments_waiting(world: DeployerWorld) -> None:
    owner = "patient.3bot"
    world.healthy()
    world.network(owner)
    pool = world.pool(owner)
    # Five nodes in the network first (each new node rewrites the network): the crowd then only sends containers.
    nodes = [r["node_id"] for r in sql("SELECT node_id FROM deployer.nodes WHERE farm_id = 1 AND free_cru >= 12 "
                                       "AND free_mru >= 12 AND free_sru >= 20 ORDER BY node_id LIMIT 5")]  # fmt: skip
    anchors = [str(world.deploy(owner, "ubuntu", {**ubuntu_spec(world, owner, f"anchor-{i}"),
                                                  "where": {"pool_id": pool, "node_id": node}})["id"])
               for i, node in enumerate(nodes)]  # fmt: skip

    def submit(name: str, node: str) -> str:
        spec = {**ubuntu_spec(world, owner, name), "where": {"pool_id": pool, "node_id": node}}
        return str(world.submit(owner, "ubuntu", spec)["solution_id"])

    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 15}})  # below WORKLOAD_DEADLINE (20 s)
    try:
        one = [submit("alone", nodes[0])]
        _wait_sent(world, one[0])
        alone = _calls_while_waiting(world, 3)
        many = [submit(f"crowd-{i}", nodes[i % len(nodes)]) for i in range(49)]
        for solution_id in many:
            _wait_sent(world, solution_id, timeout=8)
        crowd = _calls_while_waiting(world, 3)
    finally:
        world.healthy()
    print(f"explorer calls per tick, 1 waiting: {alone[0]:.2f} listings + {alone[1]:.2f} GETs; "
          f"50 waiting: {crowd[0]:.2f} listings + {crowd[1]:.2f} GETs")  # fmt: skip
    assert crowd[0] <= 1.2 and alone[0] <= 1.2  # one listing per tick at most (a busy tick is skipped)
    assert crowd[1] <= alone[1] + 0.5, (alone, crowd)  # no GET per waiting deployment
    ended: list[dict[str, Any]] = [world.wait(i, FINAL, timeout=90) for i in one + many]
    assert {s["status"] for s in ended} == {"deployed"}, {str(s["id"]): s["error"] for s in ended if s["error"]}
    for solution_id in [*one, *many, *anchors]:
        world.cancel(owner, solution_id)
    for solution_id in [*one, *many, *anchors]:
        world.wait(solution_id, ("cancelled",), timeout=90)
