"""Random interleavings of submit / pass / cancel / reconcile / killed pass (hypothesis stateful testing).

Against real PostgreSQL and the real grid emulator, with the passes driven in this process (``lifecycle.advance``,
the reconciler's ``reconcile``): the world's deployer workers are stopped for the duration, so nothing else drives
these solutions. A "killed worker" is a pass abandoned at a random grid call: a ``BaseException`` (what a SIGKILL
is to the code: nothing of it is caught, no ``finally`` of ours runs past the advisory lock's release) thrown by
the grid client on its n-th call. Whatever the interleaving, once every solution is driven on: each reaches a
final state (deployed, rolled back or cancelled), the grid holds exactly the live workloads of the deployed ones,
and no workload is on the grid twice.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from redis import Redis

from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.deployer import lifecycle, reconcile, service, states
from services.deployer.context import Deployer
from services.deployer.grid.client import GridClient
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql, verified_pools

OWNER = "prop.3bot"


class Killed(BaseException):
    """The worker died here (nothing of ours catches a BaseException)."""


class DyingGrid:
    """The real grid client, until its ``after``-th call: that call dies before it reaches the grid."""

    def __init__(self, grid: GridClient, after: int) -> None:
        self._grid, self._left = grid, after

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._grid, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left < 0:
                raise Killed(name)
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def quiet_world(world: DeployerWorld) -> Iterator[DeployerWorld]:
    """The world without its deployer workers (started again afterwards)."""
    world.healthy()
    world.network(OWNER)
    for proc in list(world.workers):
        world.kill(proc)
        world.workers.remove(proc)
    try:
        yield world
    finally:
        world.start_worker("deployer-worker-p1")
        world.start_worker("deployer-worker-p2")


def test_random_interleavings_leave_no_solution_stranded_and_the_grid_exact(quiet_world: DeployerWorld) -> None:
    world = quiet_world
    explorer = Explorer(world.settings, world.identity)
    db = Database(TEST_DATABASE_URL, minconn=1, maxconn=4)
    redis = Redis.from_url(world.env["REDIS_URL"])
    dep = Deployer(db=db, grid=GridClient(explorer), identity=world.identity, settings=world.settings,
                   celery=world.celery, redis=redis)  # fmt: skip
    pool = world.pool(OWNER)

    class Interleavings(RuleBasedStateMachine):
        solutions = Bundle("solutions")

        @initialize()
        def start(self) -> None:
            self.ids: list[str] = []

        @rule(target=solutions)
        def submit(self) -> str:
            spec: dict[str, Any] = {"name": f"p{uuid.uuid4().hex[:8]}", "where": {"pool_id": pool}, "network": "net",
                    "ssh_key": SSH_KEY}  # fmt: skip
            payload = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=OWNER, type="ubuntu",
                                               spec=spec, secrets="", pools=verified_pools(OWNER))  # fmt: skip
            result, _ = service.submit(dep.db, dep.identity, dep.settings.workload_deadline, payload)
            assert result.ok and result.solution_id
            self.ids.append(result.solution_id)
            return result.solution_id

        @rule(solution_id=solutions)
        def run_pass(self, solution_id: str) -> None:
            lifecycle.advance(dep, solution_id)

        @rule(solution_id=solutions, after=st.integers(min_value=0, max_value=4))
        def killed_pass(self, solution_id: str, after: int) -> None:
            dying = Deployer(db=db, grid=DyingGrid(dep.grid, after), identity=dep.identity,  # type: ignore[arg-type]
                             settings=dep.settings, celery=dep.celery, redis=dep.redis)  # fmt: skip
            with contextlib.suppress(Killed):
                lifecycle.advance(dying, solution_id)

        @rule(solution_id=solutions)
        def cancel(self, solution_id: str) -> None:
            service.cancel(dep.db, OWNER, solution_id)

        @rule(seconds=st.sampled_from([0.0, 0.3]))
        def grid_time(self, seconds: float) -> None:
            time.sleep(seconds)  # the grid deploys and deletes after its latency

        @rule()
        def run_reconciler(self) -> None:
            reconcile.reconcile(dep)

        @invariant()
        def states_are_known(self) -> None:
            for row in sql("SELECT status FROM deployer.solutions WHERE owner = %s", OWNER):
                assert row["status"] in states.SOLUTION_STATES

        def teardown(self) -> None:
            """Drive everything on (passes and the reconciler, as the poller and beat would) and check."""
            deadline = time.monotonic() + 2 * world.settings.workload_deadline + 60
            while True:
                rows = sql("SELECT id::text, status FROM deployer.solutions WHERE id = ANY(%s::uuid[])", self.ids)
                status = {r["id"]: r["status"] for r in rows}
                busy = [i for i, s in status.items() if s not in states.SOLUTION_SETTLED]
                if not busy:
                    break
                assert time.monotonic() < deadline, {i: status[i] for i in busy}
                for solution_id in busy:
                    lifecycle.advance(dep, solution_id)
                time.sleep(0.3)
            _assert_grid_exact(world, dep, self.ids)
            for solution_id in self.ids:  # the next example starts from an empty grid for this owner
                service.cancel(dep.db, OWNER, solution_id)
            deadline = time.monotonic() + world.settings.workload_deadline + 60
            while sql("SELECT 1 FROM deployer.solutions WHERE id = ANY(%s::uuid[]) AND status <> 'cancelled'",
                      self.ids):  # fmt: skip
                assert time.monotonic() < deadline
                for solution_id in self.ids:
                    lifecycle.advance(dep, solution_id)
                time.sleep(0.3)

    Interleavings.TestCase.settings = settings(max_examples=10, stateful_step_count=15, deadline=None,
                                               suppress_health_check=list(HealthCheck))  # fmt: skip
    try:
        Interleavings.TestCase().runTest()
    finally:
        redis.close()
        db.close()
        explorer.close()


def _assert_grid_exact(world: DeployerWorld, dep: Deployer, ids: list[str]) -> None:
    """The grid holds exactly the live workloads of the deployed solutions, none twice (after the reconciler
    removed what a killed pass left behind: a POST whose answer died with it, a deletion not yet confirmed)."""
    deployed = {r["id"] for r in sql("SELECT id::text FROM deployer.solutions WHERE id = ANY(%s::uuid[]) "
                                     "AND status = 'deployed'", ids)}  # fmt: skip
    mine = {i.replace("-", "") for i in ids}
    deadline = time.monotonic() + 30
    while True:
        reconcile.reconcile(dep)
        live = []
        for w in world.live_on_grid():
            record = world.identity.decrypt_metadata(w["metadata"])
            if record and record["solution_uuid"] in mine:  # NRs carry the network solution's uuid
                live.append((record["solution_uuid"], record["wl"], int(w["id"])))
        expected = {(r["solution_id"].replace("-", ""), r["id"], int(r["grid_id"])) for r in sql(
            "SELECT solution_id::text, id, grid_id FROM deployer.workloads WHERE solution_id = ANY(%s::uuid[]) "
            "AND kind <> 'network_resource' AND state IN ('sent', 'deployed')", list(deployed))}  # fmt: skip
        twice = [k for k, n in Counter((s, wl) for s, wl, _ in live).items() if n > 1]
        if set(live) == expected and not twice:
            return
        if time.monotonic() > deadline:
            raise AssertionError({"on the grid only": set(live) - expected, "in the index only": expected - set(live),
                                  "twice": twice})  # fmt: skip
        time.sleep(0.5)
