"""What one deployment commits (issue 11: "one pass = one load, one write; one transaction per transition").

An Ubuntu in a network already on its node needs no network stage: its pass takes the solution's lock and loads it,
plans it and records its container in one transaction (rendered, signed, marked attempted), sends it, and on a grid
that deploys at once writes the grid id, the result and the end in one more; then it lets the lock go. Counted here
are the commits PostgreSQL sees from the pass's connections (a statement in autocommit mode is one), on a deployer
of the test's own whose connections count them; no worker or beat runs meanwhile.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg2.extensions
import psycopg2.pool
import pytest

from services.common.db import Database
from services.deployer import lifecycle
from services.deployer.context import Deployer
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec
from tests.integration.deployer.test_state_machine import submit_quietly

COMMITS: Counter[str] = Counter()


def _caller() -> str:
    """The deployer function that committed (the innermost frame of ours outside this module and the db layer)."""
    for frame in reversed(traceback.extract_stack()):
        if "/services/deployer/" in frame.filename:
            return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.name}"
    return "?"


class _CountingCursor(psycopg2.extensions.cursor):
    def execute(self, query: Any, vars: Any = None) -> Any:
        if self.connection.autocommit:
            COMMITS[_caller()] += 1  # a statement in autocommit mode is a transaction of its own
        return super().execute(query, vars)


class _CountingConnection(psycopg2.extensions.connection):
    def commit(self) -> None:
        COMMITS[_caller()] += 1
        super().commit()

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        factory = kwargs.pop("cursor_factory", None) or _CountingCursor
        counting = type("Counting" + factory.__name__, (factory, _CountingCursor), {}) \
            if not issubclass(factory, _CountingCursor) else factory  # fmt: skip
        return super().cursor(*args, cursor_factory=counting, **kwargs)


class _CountingDatabase(Database):
    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    1, 4, self._dsn, connection_factory=_CountingConnection
                )
            return self._pool


@pytest.fixture
def counting(dep: Deployer) -> Iterator[Deployer]:
    """The ``dep`` fixture's deployer on a database whose connections count their commits."""
    db = _CountingDatabase(TEST_DATABASE_URL)
    yield replace(dep, db=db)
    db.close()


def test_an_ubuntu_in_place_is_deployed_by_one_pass_of_four_commits(world: DeployerWorld, counting: Deployer) -> None:
    owner = "counted.3bot"
    network = world.network(owner)
    node = sql("SELECT node_id FROM deployer.workloads WHERE solution_id = %s AND kind = 'network_resource' "
               "AND state = 'deployed' ORDER BY id LIMIT 1", network)[0]["node_id"]  # fmt: skip
    spec = ubuntu_spec(world, owner, "counted")
    spec["where"]["node_id"] = node
    counting.tid  # noqa: B018 — read once beforehand, as a worker has done long before its passes
    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 0}})
    try:
        with world.stopped("counted"):
            solution_id = submit_quietly(counting, owner, "ubuntu", spec)
            COMMITS.clear()
            outcome = lifecycle.advance(counting, solution_id)
            counted = dict(COMMITS)
    finally:
        world.healthy()
    assert outcome == "done", world.events(solution_id)
    assert world.solution(solution_id)["status"] == "deployed"
    # The lock and its load, the plan with the record, the send's results with the end, the unlock.
    assert sum(counted.values()) <= 4, counted
    container = next(w for w in world.workloads(solution_id) if w["kind"] == "container")
    assert container["attempted_at"] is not None and container["state"] == "deployed"
    world.cancel(owner, solution_id)
    assert world.wait(solution_id, ("cancelled",), timeout=60)["status"] == "cancelled"
