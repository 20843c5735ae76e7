"""Rollback and cancellation: every workload of the solution decommissioned, allocations freed, a final state.

``failed`` (rolling back) ends in ``rolled_back``; ``cancelling`` ends in ``cancelled``. What happens to a network
is the planner's network hooks' call (``solutions/network_use.py``): a network solution takes its whole network
with it (every network-resource version ever sent, then the address plan); an access point takes its peer out.

A teardown has a deadline too (set when it starts: one workload deadline). Before it, a grid that does not answer
or refuses a deletion is retried. Past it, the teardown ends all the same: what the grid has not confirmed deleted
is marked ``deleted`` with the reason, the solution reaches its final state, and the reconciler's scan deletes any
copy still live on the grid (a live workload whose row is deleted, or whose solution is over, is deleted there).
So no solution stays ``failed`` or ``cancelling`` forever, whatever the grid does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import metrics, states, store
from services.deployer.context import Deployer, Moved, Transient
from services.deployer.grid import node_finder
from services.deployer.grid.kinds import NextAction
from services.deployer.network_ops import SolutionNetwork
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.network_use import network_hooks

log = structlog.get_logger(__name__)
GONE = states.WORKLOAD_GONE
TEARDOWN_SECONDS = 660  # when the caller has no settings at hand (the reconciler): one default workload deadline


def fail(cur: Any, sol: dict[str, Any], reason: str, *, teardown_seconds: int = TEARDOWN_SECONDS) -> bool:
    """Mark the solution failed with the reason the user reads (compare-and-set from the status in ``sol``, which
    is updated); the next pass decommissions its workloads. False when its status had moved (nothing written)."""
    solution_id = str(sol["id"])
    deadline = datetime.now(UTC) + timedelta(seconds=teardown_seconds)
    if not store.set_status(cur, solution_id, states.FAILED, expected=sol["status"], error=reason, deadline=deadline):
        return False
    sol.update(status=states.FAILED, error=reason, deadline=deadline)
    store.add_event(cur, solution_id, f"failed: {reason}", level="error")
    metrics.failed(reason)
    store.add_event(cur, solution_id, "rolling back: every workload of this deployment is being removed")
    log.info("solution failed", solution=solution_id, reason=reason)
    return True


def step(dep: Deployer, sol: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> str:
    """Sign the deletion of what is still live, confirm what was deleted; final state when nothing is left.

    ``rows`` are the solution's workloads as the pass loaded them (read here when not given); their states are
    updated in place. Every change of one call commits in one transaction with the final transition.

    Raises:
        Transient: the grid did not answer (before the teardown's deadline).
        Moved: the status changed under the pass (e.g. a failed solution was cancelled meanwhile).
    """
    solution_id = str(sol["id"])
    hooks = network_hooks(PLANNERS.get(sol["type"]))
    hooks.leave_network(SolutionNetwork(dep, sol))  # e.g. an access point's peer taken out of its network
    if rows is None:
        with dep.db.transaction() as cur:
            rows = store.workloads_of(cur, solution_id)
    past = sol["deadline"] is not None and sol["deadline"].timestamp() < time.time()
    changes: list[tuple[dict[str, Any], str, str | None]] = []
    unavailable: Exception | None = None
    for row in rows:
        if row["state"] in GONE:
            continue
        try:
            change = _decommission(dep, row)
        except ExplorerUnavailable as exc:
            if not past:
                unavailable = exc
                break
            change = ("deleted", f"deletion not confirmed by the grid in time ({exc}); the reconciler removes it")
        if change is None and past:
            change = ("deleted", "deletion not confirmed by the grid in time; the reconciler removes it")
        if change is not None:
            changes.append((row, *change))
    with dep.db.transaction() as cur:
        for row, new, error in changes:
            if store.set_workload_state(cur, row["id"], new, expected=row["state"], error=error):
                row["state"] = new
        if unavailable is not None or any(w["state"] not in GONE for w in rows):
            if unavailable is not None:
                raise Transient(str(unavailable))
            return "waiting"
        final = states.ROLLED_BACK if sol["status"] == states.FAILED else states.CANCELLED
        if not store.set_status(cur, solution_id, final, expected=sol["status"], finished_at=datetime.now(UTC)):
            moved = True
        else:
            moved = False
            sol["status"] = final
            store.free_solution_ips(cur, solution_id)
            node_finder.release(cur, solution_id)  # nothing of it is left on its nodes
            hooks.end_network(SolutionNetwork(dep, sol, cur))  # e.g. a network's solution deletes the network
            abandoned = sum(1 for _, _, error in changes if error is not None)
            if abandoned:
                store.add_event(cur, solution_id, f"{abandoned} deletion(s) not confirmed by the grid in time; "
                                "the reconciler removes what is left", level="warning")  # fmt: skip
            store.add_event(cur, solution_id, "rolled back: nothing is left on the grid" if final == "rolled_back"
                            else "cancelled: every workload was removed from the grid")  # fmt: skip
    if moved:
        raise Moved(solution_id)  # the row changes above are kept; the next pass sees the new status
    return "done"


def abandon(dep: Deployer, sol: dict[str, Any], reason: str) -> str:
    """End a teardown that cannot go on (an unexpected error past its deadline): every row not gone is marked
    deleted with ``reason`` and the final state is reached; the reconciler deletes what is still on the grid."""
    with dep.db.transaction() as cur:
        rows = store.workloads_of(cur, str(sol["id"]))
        for row in rows:
            if row["state"] not in GONE:
                store.set_workload_state(cur, row["id"], "deleted", expected=row["state"], error=reason)
    sol["deadline"] = datetime.fromtimestamp(0, UTC)
    return step(dep, sol, [{**r, "state": "deleted"} for r in rows])


def _decommission(dep: Deployer, row: dict[str, Any]) -> tuple[str, str | None] | None:
    """Sign the deletion of one workload and look at it; the state it reaches now (None: no change yet).

    Raises:
        ExplorerUnavailable: the grid did not answer, or refused the deletion (retried until the deadline).
    """
    state = row["state"]
    if state == "recorded" or row["grid_id"] is None:
        # Never answered by the grid (a refused POST has no grid id either): nothing to delete. If a POST was
        # attempted, the reconciler's metadata scan removes any copy that reached the grid after all (it names
        # this row, whose solution is over).
        return ("deleted", None)
    grid_id = int(row["grid_id"])
    new: str | None = None
    if state in ("sent", "deployed", "failed"):
        try:
            dep.grid.sign_delete(grid_id)
        except ExplorerRejected as exc:
            if exc.status != 404:
                raise ExplorerUnavailable(f"the grid refused to delete workload {grid_id}: {exc.message}") from None
        new = "deleting"
    try:
        workload = dep.grid.workload(grid_id)
    except ExplorerRejected:
        workload = {"next_action": NextAction.DELETED}
    if workload.get("next_action") in (NextAction.DELETED, NextAction.INVALID):
        new = "deleted"
    return (new, None) if new is not None else None
