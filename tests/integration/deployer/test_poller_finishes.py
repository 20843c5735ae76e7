"""The grid poller finishes, in its own tick, the solutions whose last stage its listing shows deployed.

Issue 11: from "grid deployed" to "solution deployed" within one tick. With hundreds in flight, a pass per finished
solution queued behind the workers for seconds; the tick that records the results now writes the end too (one
transaction for all), and wakes a pass only for what it cannot finish. Here no worker runs: the passes and the
ticks are the test's own, so whatever finished the solution was a tick.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg2.extensions import connection
from psycopg2.extras import RealDictCursor

from services.deployer import lifecycle, poller, store
from services.deployer.context import Deployer
from services.deployer.passes import SOLUTION_LOCK
from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec
from tests.integration.deployer.test_state_machine import submit_quietly


def _sent(dep: Deployer, world: DeployerWorld, solution_id: str) -> None:
    """Passes of the test's own until the container is sent (the grid takes seconds to deploy it)."""
    deadline = time.monotonic() + 60
    while not sql("SELECT 1 FROM deployer.workloads WHERE solution_id = %s AND kind = 'container' "
                  "AND state = 'sent'", solution_id):  # fmt: skip
        assert time.monotonic() < deadline, world.events(solution_id)
        lifecycle.advance(dep, solution_id)


def _ticks_until_settled(dep: Deployer, world: DeployerWorld, solution_id: str) -> dict[str, int]:
    """Ticks until one records the container deployed; that tick's counters."""
    deadline = time.monotonic() + 60
    while True:
        counts = poller.poll_grid(dep)
        if counts.get("deployed"):
            return counts
        assert time.monotonic() < deadline, world.events(solution_id)
        time.sleep(0.2)


def _slow_ubuntu(world: DeployerWorld, owner: str) -> dict[str, Any]:
    """The spec of an Ubuntu in ``owner``'s network, on a grid that takes 2 s to deploy a container."""
    world.healthy()
    world.network(owner)
    spec = ubuntu_spec(world, owner, owner.split(".")[0])
    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 2}})
    return spec


def test_the_tick_that_sees_the_last_workload_deployed_finishes_the_solution(world: DeployerWorld,
                                                                             dep: Deployer) -> None:  # fmt: skip
    owner = "ticked.3bot"
    spec = _slow_ubuntu(world, owner)
    try:
        with world.stopped("poller-finishes"):
            solution_id = submit_quietly(dep, owner, "ubuntu", spec)
            _sent(dep, world, solution_id)
            assert world.solution(solution_id)["status"] == "deploying"
            counts = _ticks_until_settled(dep, world, solution_id)
            sol = world.solution(solution_id)
    finally:
        world.healthy()
    assert counts.get("finished") == 1 and sol["status"] == "deployed", (counts, world.events(solution_id))
    container = next(w for w in world.workloads(solution_id) if w["kind"] == "container")
    assert sol["outputs"]["IPv4 Address"] == container["body"]["network_connection"][0]["ipaddress"]
    assert sol["finished_at"] is not None and world.events(solution_id)[-1] == "deployed"
    world.cancel(owner, solution_id)
    assert world.wait(solution_id, ("cancelled",), timeout=60)["status"] == "cancelled"


def test_a_solution_whose_pass_holds_its_lock_is_left_to_that_pass(world: DeployerWorld, dep: Deployer) -> None:
    owner = "locked.3bot"
    spec = _slow_ubuntu(world, owner)
    try:
        with world.stopped("poller-leaves"), dep.db.connection() as conn:
            solution_id = submit_quietly(dep, owner, "ubuntu", spec)
            _sent(dep, world, solution_id)
            _hold(conn, solution_id)  # as a pass does, on a connection of its own
            counts = _ticks_until_settled(dep, world, solution_id)
            assert counts.get("finished") == 0 and world.solution(solution_id)["status"] == "deploying"
            _release(conn, solution_id)
            assert lifecycle.advance(dep, solution_id) == "done"  # the pass the tick woke
    finally:
        world.healthy()
    assert world.solution(solution_id)["status"] == "deployed", world.events(solution_id)
    world.cancel(owner, solution_id)
    assert world.wait(solution_id, ("cancelled",), timeout=60)["status"] == "cancelled"


def _hold(conn: connection, solution_id: str) -> None:
    conn.autocommit = True
    with conn.cursor(cursor_factory=RealDictCursor) as cur:
        assert store.try_lock(cur, SOLUTION_LOCK, solution_id)


def _release(conn: connection, solution_id: str) -> None:
    with conn.cursor() as cur:
        store.unlock(cur, SOLUTION_LOCK, solution_id)
    conn.autocommit = False
