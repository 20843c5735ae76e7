"""Rollback and cancellation: every workload of the solution decommissioned, allocations freed, a final state.

``failed`` (rolling back) ends in ``rolled_back``; ``cancelling`` ends in ``cancelled``. A network solution takes
its whole network with it: every network-resource version ever sent, then the address plan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import network_store, networks, store
from services.deployer.context import Deployer, Transient
from services.deployer.grid import node_finder
from services.deployer.grid.kinds import NextAction

log = structlog.get_logger(__name__)
GONE = ("deleted", "superseded")


def fail(cur: Any, sol: dict[str, Any], reason: str) -> None:
    """Mark the solution failed with the reason the user reads; the next pass decommissions its workloads."""
    store.update_solution(cur, str(sol["id"]), status="failed", error=reason)
    store.add_event(cur, str(sol["id"]), f"failed: {reason}", level="error")
    store.add_event(cur, str(sol["id"]), "rolling back: every workload of this deployment is being removed")
    log.info("solution failed", solution=str(sol["id"]), reason=reason)


def step(dep: Deployer, sol: dict[str, Any]) -> str:
    """Sign the deletion of what is still live, confirm what was deleted; final state when nothing is left."""
    solution_id = str(sol["id"])
    if sol["type"] == "network_access" and sol["network_id"] is not None:
        _revoke_access(dep, sol)
    with dep.db.transaction() as cur:
        rows = store.workloads_of(cur, solution_id)
    for row in rows:
        try:
            _decommission(dep, row)
        except ExplorerUnavailable as exc:
            raise Transient(str(exc)) from None
    with dep.db.transaction() as cur:
        rows = store.workloads_of(cur, solution_id)
        if any(w["state"] not in GONE for w in rows):
            return "waiting"
        fresh = store.solution(cur, solution_id, lock=True)
        if fresh is None or fresh["status"] not in ("failed", "cancelling"):
            return "progress"
        final = "rolled_back" if fresh["status"] == "failed" else "cancelled"
        store.free_solution_ips(cur, solution_id)
        node_finder.release(cur, solution_id)  # nothing of it is left on its nodes
        if sol["type"] == "network" and sol["network_id"] is not None:
            net = network_store.network(cur, sol["network_id"])
            if net is not None and str(net["solution_id"]) == solution_id:
                store.end_access_points(cur, net["id"])
                network_store.delete_network(cur, net["id"])
        store.update_solution(cur, solution_id, status=final, finished_at=datetime.now(UTC))
        store.add_event(cur, solution_id, "rolled back: nothing is left on the grid" if final == "rolled_back"
                        else "cancelled: every workload was removed from the grid")  # fmt: skip
    return "done"


def _revoke_access(dep: Deployer, sol: dict[str, Any]) -> None:
    """Take the access point out of its network: its /24 is freed and every node's resource rewritten without it."""
    with dep.db.transaction() as cur:
        net = network_store.network(cur, sol["network_id"])
        if net is None:
            return
        network_store.lock_network(cur, net["id"])
        if network_store.delete_access_subnets(cur, net["id"], str(sol["id"])) == 0:
            return  # already revoked by an earlier pass
        owner_solution = store.solution(cur, str(net["solution_id"]))
        if owner_solution is not None:
            networks.record_rewrite(cur, dep, net, owner_solution)
    try:
        networks.flush(dep, net["id"])
    except ExplorerRejected as exc:
        log.warning("network update refused while revoking an access point", reason=exc.message)
    except ExplorerUnavailable as exc:
        raise Transient(str(exc)) from None


def _decommission(dep: Deployer, row: dict[str, Any]) -> None:
    state = row["state"]
    if state in GONE:
        return
    if state == "recorded":
        # Never answered by the grid. If it was attempted, the reconciler's metadata scan removes any copy that
        # reached the grid after all (it names this row, whose solution is over).
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "deleted")
        return
    grid_id = int(row["grid_id"])
    if state in ("sent", "deployed", "failed"):
        try:
            dep.grid.sign_delete(grid_id)
        except ExplorerRejected as exc:
            if exc.status != 404:
                raise ExplorerUnavailable(f"the grid refused to delete workload {grid_id}: {exc.message}") from None
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "deleting")
    try:
        workload = dep.grid.workload(grid_id)
    except ExplorerRejected:
        workload = {"next_action": NextAction.DELETED}
    if workload.get("next_action") in (NextAction.DELETED, NextAction.INVALID):
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "deleted")
