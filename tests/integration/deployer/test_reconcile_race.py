"""The reconciler racing a pass that is saving a POST's answer never deletes the workload (issue 11 item 4).

A pass POSTs a workload, then commits its grid id (``mark_sent``). A reconciler that lists the grid after the POST
but reads our index before that commit sees a workload it does not know; when it then reads the row named by the
workload's metadata, the commit may have landed: that row now carries this very grid id, and the workload is ours.

Each iteration records a row the way a pass does, POSTs it (with two leftovers of an earlier crash posted first:
the reconciler deletes those, which is what it is for, and takes a few requests doing it), then lets a thread save
the answer at a random moment while the reconciler runs (both released by one barrier). The test holds the
solution's lock all along, as the pass would: no worker drives it meanwhile.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import psycopg2

from services.deployer import reconcile, store
from services.deployer.context import Deployer
from services.deployer.grid.kinds import Kind
from services.deployer.grid.render import render
from services.deployer.lifecycle import SOLUTION_LOCK
from services.deployer.solutions.base import Placed, WorkloadPlan
from tests.conftest import TEST_DATABASE_URL
from tests.integration.deployer.conftest import DeployerWorld, sql

ITERATIONS = 200
LEFTOVERS = 2


def _volume(dep: Deployer, owner: str, solution_id: str, row_id: int, node: str, pool: int) -> dict[str, Any]:
    metadata = {"owner": owner, "name": f"{owner}_race", "chatflow": "flist", "solution_uuid": solution_id,
                "wl": row_id}  # fmt: skip
    plan = WorkloadPlan(f"v{row_id}", Kind.VOLUME, "box", {"size": 1, "type": 1})
    return render(plan, Placed("box", node, pool), tid=dep.tid, identity=dep.identity, metadata=metadata, secrets={},
                  epoch=int(time.time()))  # fmt: skip


def test_a_reconciler_racing_a_pass_never_deletes_a_known_workload(world: DeployerWorld, dep: Deployer) -> None:
    world.healthy()
    owner = "racer.3bot"
    world.network(owner)
    node = sql("SELECT s.node_id FROM deployer.network_subnets s JOIN deployer.networks n ON n.id = s.network_id "
               "WHERE n.name = %s AND s.node_id IS NOT NULL", f"{owner}_net")[0]["node_id"]  # fmt: skip
    pool = int(world.sql_one("SELECT grid_pool_id FROM pools.pools WHERE id = %s", world.pool(owner))["grid_pool_id"])
    solution_id = str(uuid.uuid4())
    holder = psycopg2.connect(TEST_DATABASE_URL)
    holder.autocommit = True
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (SOLUTION_LOCK, solution_id))
    sql("INSERT INTO deployer.solutions (id, idempotency_key, owner, type, name, spec, deadline, status, stage) "
        "VALUES (%s, %s, %s, 'flist', 'race', '{}', now() + interval '1 hour', 'deploying', 0)",
        solution_id, uuid.uuid4().hex, owner)  # fmt: skip
    deleted: list[int] = []
    try:
        for i in range(ITERATIONS):
            with dep.db.transaction() as cur:
                row_id = store.record_workload(cur, solution_id=solution_id, key=f"v{i}", kind=Kind.VOLUME.value,
                                               role="box", stage=0, node_id=node, pool_id=pool, body={})  # fmt: skip
            for _ in range(LEFTOVERS):  # a workload of ours naming no row: a leftover the reconciler removes
                dep.grid.create_workload(_volume(dep, owner, solution_id, -1, node, pool))
            grid_id = dep.grid.create_workload(_volume(dep, owner, solution_id, row_id, node, pool))
            barrier = threading.Barrier(2)
            delay = random.uniform(0, 0.08)

            def save(barrier: threading.Barrier = barrier, row_id: int = row_id, grid_id: int = grid_id,
                     delay: float = delay) -> None:  # fmt: skip
                barrier.wait()
                time.sleep(delay)
                with dep.db.transaction() as cur:
                    store.mark_sent(cur, row_id, grid_id, 600)

            saver = threading.Thread(target=save)
            saver.start()
            barrier.wait()
            reconcile.reconcile(dep)
            saver.join()
            if dep.grid.workload(grid_id).get("signatures_delete"):
                deleted.append(grid_id)
            dep.grid.sign_delete(grid_id)  # done with it: the next iteration's listing stays short
            sql("UPDATE deployer.workloads SET state = 'deleted' WHERE id = %s", row_id)
    finally:
        sql("UPDATE deployer.solutions SET status = 'cancelled' WHERE id = %s", solution_id)
        holder.close()
    assert deleted == [], f"{len(deleted)} of {ITERATIONS} known workloads deleted by the reconciler"
