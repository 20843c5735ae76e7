"""No solution can be stranded (issue 11 items 1, 2 and 5), against the real stack.

* A POST the explorer refuses leaves a failed row without a grid id: the rollback and a cancel still end, the grid
  is clean and the IPs are freed.
* A node fails the network resource a deployment waits for: a new version is sent and the deployment goes on (or
  fails with a reason before its deadline) — never waits forever.
* A pass meeting anything but a transient error (undecryptable secrets, a spec or a node result the code cannot
  read, a secret missing at render time) fails the solution with the reason and rolls it back; no pass loops.

Where a step has to be interrupted at an exact point, the test drives the passes itself, in process
(``lifecycle._step`` with a loaded ``Pass``), while it holds the solution's lock as a pass does: the workers'
wakes answer "busy" meanwhile. Everything else is done by the real workers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2

from services.common import contracts
from services.deployer import lifecycle, passes, service, store
from services.deployer.context import Deployer
from services.deployer.lifecycle import SOLUTION_LOCK
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql, verified_pools


@contextmanager
def held(solution_id: str) -> Iterator[None]:
    """The solution's pass lock, held by the test: no worker drives the solution meanwhile."""
    conn = psycopg2.connect(TEST_DATABASE_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (SOLUTION_LOCK, solution_id))
        yield
    finally:
        conn.close()  # the session lock goes with the connection


def submit_quietly(dep: Deployer, owner: str, type: str, spec: dict[str, Any],
                   secrets: dict[str, str] | None = None) -> str:  # fmt: skip
    """The solution row as ``deployer.submit`` creates it, without the wake (the test decides when it runs)."""
    payload = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=owner, type=type, spec=spec,
                                       secrets=dep.identity.encrypt_secrets(secrets) if secrets else "",
                                       pools=verified_pools(owner))  # fmt: skip
    result, created = service.submit(dep.db, dep.identity, dep.settings.workload_deadline, payload)
    assert result.ok and created and result.solution_id, result
    return result.solution_id


def load(dep: Deployer, solution_id: str) -> passes.Pass:
    with dep.db.transaction() as cur:
        sol = store.solution(cur, solution_id)
        rows = store.workloads_of(cur, solution_id)
    assert sol is not None
    return passes.Pass(dep, sol, rows)


def step_until(world: DeployerWorld, p: passes.Pass, done: Any, timeout: float = 60) -> None:
    """Run steps of the pass in process until ``done(p)`` (sleeping a little whenever a step waits on the grid)."""
    deadline = time.monotonic() + timeout
    while not done(p):
        assert time.monotonic() < deadline and p.sol["status"] in ("submitted", "planning", "deploying"), (
            world.events(p.id))  # fmt: skip
        if lifecycle._step(p) == "waiting":
            time.sleep(0.3)


def live_of(world: DeployerWorld, solution_id: str) -> list[int]:
    """Grid ids of the live workloads on the grid whose metadata names this solution."""
    records = [(w, world.identity.decrypt_metadata(w["metadata"])) for w in world.live_on_grid()]
    return [int(w["id"]) for w, r in records if r and r["solution_uuid"] == solution_id.replace("-", "")]


def ubuntu(world: DeployerWorld, owner: str, name: str, **where: Any) -> dict[str, Any]:
    return {"name": name, "where": {"pool_id": world.pool(owner), **where}, "network": "net", "ssh_key": SSH_KEY}


def test_a_refused_post_then_cancel_ends_cancelled_with_the_grid_clean(world: DeployerWorld, dep: Deployer) -> None:
    world.healthy()
    owner = "refused.3bot"
    world.network(owner)
    solution_id = submit_quietly(dep, owner, "ubuntu", ubuntu(world, owner, "refused"))
    with held(solution_id):
        p = load(dep, solution_id)
        step_until(world, p, lambda p: p.workloads(0))  # planned, network on the node, the container recorded
        [row] = p.workloads(0)
        assert row["state"] == "recorded"
        # The explorer refuses the POST (400: the signature does not verify), as it refuses a 402/403/404.
        sql("UPDATE deployer.workloads SET body = jsonb_set(body, '{customer_signature}', '\"00\"') WHERE id = %s",
            row["id"])  # fmt: skip
        row["body"]["customer_signature"] = "00"
        assert lifecycle._step(p) == "progress"
    sol = world.solution(solution_id)
    assert sol["status"] == "failed" and "the grid refused the container" in sol["error"], sol["error"]
    assert [(w["state"], w["grid_id"]) for w in world.workloads(solution_id)] == [("failed", None)]
    assert sql("SELECT 1 FROM deployer.ip_allocations WHERE solution_id = %s", solution_id)  # still held
    started = time.monotonic()
    assert world.cancel(owner, solution_id).status_code == 202
    sol = world.wait(solution_id, ("cancelled",), timeout=world.settings.workload_deadline + 60)
    assert time.monotonic() - started < world.settings.workload_deadline + 60
    assert [w["state"] for w in world.workloads(solution_id)] == ["deleted"]
    assert not sql("SELECT 1 FROM deployer.ip_allocations WHERE solution_id = %s", solution_id)
    assert not live_of(world, solution_id)


def test_a_refused_post_rolls_back_by_itself(world: DeployerWorld, dep: Deployer) -> None:
    world.healthy()
    owner = "refused.3bot"
    world.network(owner)
    solution_id = submit_quietly(dep, owner, "ubuntu", ubuntu(world, owner, "refused2"))
    with held(solution_id):
        p = load(dep, solution_id)
        step_until(world, p, lambda p: p.workloads(0))
        [row] = p.workloads(0)
        sql("UPDATE deployer.workloads SET body = jsonb_set(body, '{customer_signature}', '\"00\"') WHERE id = %s",
            row["id"])  # fmt: skip
        row["body"]["customer_signature"] = "00"
        assert lifecycle._step(p) == "progress"
        assert lifecycle._step(p) == "done"  # the rollback: nothing reached the grid, nothing to delete
    assert world.solution(solution_id)["status"] == "rolled_back"
    assert not sql("SELECT 1 FROM deployer.ip_allocations WHERE solution_id = %s", solution_id)


def test_a_network_resource_failed_by_its_node_is_sent_again(world: DeployerWorld) -> None:
    """The node fails the next workload it picks up: the new network resource of a deployment joining it. The
    deployment (and the next one on that node) re-sends a version and deploys, or fails in time with a reason."""
    world.healthy()
    owner = "nrfail.3bot"
    world.network(owner)
    pool = world.pool(owner)
    in_net = {r["node_id"] for r in sql("SELECT s.node_id FROM deployer.network_subnets s JOIN deployer.networks n "
                                        "ON n.id = s.network_id WHERE n.name = %s", f"{owner}_net")}  # fmt: skip
    node_ids = sql("SELECT node_ids FROM pools.pools WHERE id = %s", pool)[0]["node_ids"]
    up = {r["node_id"] for r in sql("SELECT node_id FROM deployer.nodes WHERE node_id = ANY(%s)", node_ids)}
    node = sorted((set(node_ids) & up) - in_net)[0]
    assert world.admin("fail", {"node_id": node, "message": "wireguard: interface failed"}).status_code == 200
    limit = world.settings.workload_deadline + 60  # one deadline (and the poller's tick)
    outcomes = []
    for name in ("first", "second"):
        started = time.monotonic()
        answer = world.submit(owner, "ubuntu", ubuntu(world, owner, name, node_id=node))
        assert answer["ok"], answer
        sol = world.wait(answer["solution_id"], ("deployed", "rolled_back"), timeout=limit + 30)
        assert time.monotonic() - started < limit + 30
        assert sol["status"] == "deployed" or sol["error"], world.events(answer["solution_id"])
        outcomes.append(sol["status"])
    assert outcomes[-1] == "deployed", outcomes
    nr = sql("SELECT w.state FROM deployer.workloads w JOIN deployer.networks n ON n.id = w.network_id "
             "WHERE w.kind = 'network_resource' AND w.node_id = %s AND n.name = %s ORDER BY w.id", node,
             f"{owner}_net")  # fmt: skip
    assert nr[0]["state"] in ("failed", "deleted") and nr[-1]["state"] == "deployed", nr


def _rolled_back_with(world: DeployerWorld, solution_id: str, words: str) -> None:
    sol = world.wait(solution_id, ("rolled_back",), timeout=world.settings.workload_deadline + 60)
    assert words in (sol["error"] or ""), sol["error"]
    assert sol["error"].startswith("the deployment stopped on an unexpected error"), sol["error"]
    assert all(w["state"] in ("deleted", "superseded") for w in world.workloads(solution_id))
    assert not live_of(world, solution_id)
    assert not sql("SELECT 1 FROM deployer.ip_allocations WHERE solution_id = %s", solution_id)


def test_undecryptable_secrets_fail_the_solution(world: DeployerWorld, dep: Deployer) -> None:
    world.healthy()
    owner = "broken.3bot"
    world.network(owner)
    spec = {"name": "secretless", "workers": 1, "pool_ids": [world.pool(owner)], "network": "net",
            "ssh_keys": [SSH_KEY]}  # fmt: skip
    solution_id = submit_quietly(dep, owner, "kubernetes", spec, {"cluster_secret": "s3cret"})
    sql("UPDATE deployer.solutions SET secrets = 'not a sealed box' WHERE id = %s", solution_id)
    dep.wake(solution_id)
    _rolled_back_with(world, solution_id, "IdentityError")


def test_a_spec_the_code_cannot_read_fails_the_solution(world: DeployerWorld, dep: Deployer) -> None:
    world.healthy()
    owner = "broken.3bot"
    world.network(owner)
    solution_id = submit_quietly(dep, owner, "ubuntu", ubuntu(world, owner, "garbled"))
    sql("UPDATE deployer.solutions SET spec = '{\"bogus\": 1}' WHERE id = %s", solution_id)
    dep.wake(solution_id)
    _rolled_back_with(world, solution_id, "ValidationError")


def test_a_node_result_the_code_cannot_read_fails_the_solution(world: DeployerWorld, dep: Deployer) -> None:
    """MinIO's second stage reads the ZDBs' namespaces from their results: one without Namespace/IP/Port."""
    world.healthy()
    owner = "broken.3bot"
    world.network(owner)
    pool = world.pool(owner)
    spec = {"name": "bucket", "setup": "single", "data": 1, "parity": 1, "zdb_pool_ids": [pool],
            "primary": {"pool_id": pool}, "network": "net", "access_key": "broken"}  # fmt: skip
    solution_id = submit_quietly(dep, owner, "minio", spec, {"secret_key": "minio-secret-key"})
    with held(solution_id):
        p = load(dep, solution_id)
        step_until(world, p, lambda p: p.sol["stage"] >= 1)  # the step that saw the ZDBs deployed moved on
        assert not p.workloads(1)  # stage 1 not built yet: it reads the ZDB results next
        sql("UPDATE deployer.workloads SET result = '{}' WHERE solution_id = %s AND kind = 'zdb'", solution_id)
    dep.wake(solution_id)
    _rolled_back_with(world, solution_id, "stopped on an unexpected error")
