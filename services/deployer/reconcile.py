"""The reconciler (beat): re-drive stalled solutions and make our index and the grid agree, both directions.

Forward: a live workload on the grid signed by us that our index does not know is adopted when its metadata
names a row still waiting for its answer (the worker died between the POST and saving the answer), and deleted
otherwise (a leftover of a deployment that is over). Reverse: a workload our index believes live that the grid
removed (its pool ran out, a farmer removed it) is marked deleted, and its solution told.
"""

from __future__ import annotations

from typing import Any

import structlog

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import network_store, observe, states, store, teardown, watch_store
from services.deployer.context import Deployer
from services.deployer.grid.kinds import Kind, NextAction

log = structlog.get_logger(__name__)


def reconcile(dep: Deployer) -> dict[str, int]:
    """One reconciliation pass; returns counters (re-driven, adopted, orphans deleted, vanished)."""
    counts = {"redriven": 0, "confirmed": 0, "adopted": 0, "known_late": 0, "orphans_deleted": 0, "vanished": 0}
    idle = max(10.0, 10 * dep.settings.deploy_poll_interval)
    with dep.db.transaction() as cur:
        # The poller wakes these every tick; this is the safety net when its ticks do not run.
        stalled = watch_store.solutions_to_wake(cur, idle)
    for solution_id in stalled:
        dep.wake(solution_id)
        counts["redriven"] += 1
    counts["confirmed"] = _confirm_sent(dep, idle)
    try:
        live = list(dep.grid.live_workloads())
    except ExplorerUnavailable as exc:
        log.warning("reconciler cannot list the grid", reason=str(exc))
        return counts
    live_ids = {int(w["id"]) for w in live}
    with dep.db.transaction() as cur:
        known = store.workload_by_grid_ids(cur, sorted(live_ids))
    for workload in live:
        grid_id = int(workload["id"])
        row = known.get(grid_id)
        if row is None:
            counts[_unknown(dep, workload)] += 1
        else:
            _known(dep, grid_id, row)
    counts["vanished"] = _reverse(dep, live_ids)
    if any(counts.values()):
        log.info("reconciled", **counts)
    return counts


def _confirm_sent(dep: Deployer, idle: float) -> int:
    """Look at sent workloads nobody polls any more (network-resource versions of a finished rewrite)."""
    confirmed = 0
    with dep.db.transaction() as cur:
        rows = store.idle_sent_workloads(cur, idle)
    for row in rows:
        with dep.db.transaction() as cur:
            sol = store.solution(cur, str(row["solution_id"])) if row["solution_id"] else None
        if sol is None or sol["status"] in states.DEPLOYING_STATES:
            continue  # its own deployment is driving it
        try:
            failure = observe.poll(dep, row, sol)
        except Exception:  # noqa: BLE001 — one unreachable workload must not stop the pass
            log.warning("could not look at a workload", grid_id=row["grid_id"])
            continue
        if failure is not None:
            with dep.db.transaction() as cur:
                store.add_event(cur, str(sol["id"]), failure, level="warning")
        confirmed += 1
    return confirmed


def _known(dep: Deployer, grid_id: int, row: dict[str, Any]) -> None:
    if row["state"] in ("deleting", "deleted") or row["solution_status"] in ("rolled_back", "cancelled"):
        _delete(dep, grid_id)  # we asked for its deletion before; ask again (idempotent)


def _unknown(dep: Deployer, workload: dict[str, Any]) -> str:
    """A live workload of ours that ``known`` did not list: the row its metadata names decides, read now.

    ``known`` was read after the listing, but a pass may have POSTed this workload before the listing and saved
    the answer (``mark_sent``) after ``known`` was read: the row then carries this very grid id, and the workload
    is known, whatever the row's state. Only a workload whose row does not claim it is an orphan.
    """
    record = dep.identity.decrypt_metadata(workload.get("metadata") or "")
    grid_id = int(workload["id"])
    row = None
    if record is not None and isinstance(record.get("wl"), int):
        with dep.db.transaction() as cur:
            row = store.workload_row(cur, record["wl"])
    if row is not None and row["grid_id"] is not None and int(row["grid_id"]) == grid_id:
        _known(dep, grid_id, row)
        return "known_late"
    if row is not None and row["grid_id"] is None and row["state"] == "recorded" \
            and row["solution_status"] in ("planning", "deploying"):  # fmt: skip
        with dep.db.transaction() as cur:
            store.mark_sent(cur, row["id"], grid_id, dep.settings.workload_deadline)
        log.info("adopted a workload sent before a crash", workload=row["id"], grid_id=grid_id)
        return "adopted"
    live = row is not None and row["solution_status"] in states.LIVE_SOLUTION
    if row is not None and live and row["kind"] == Kind.NETWORK_RESOURCE.value:
        # Deleting any network resource tears its network down on that node: a duplicate version of a live
        # network is harmless (the node runs the newest) and goes with the network.
        return "adopted"
    log.warning("deleting a workload no deployment owns", grid_id=grid_id, known_row=row is not None)
    _delete(dep, grid_id)
    return "orphans_deleted"


def _delete(dep: Deployer, grid_id: int) -> None:
    try:
        dep.grid.sign_delete(grid_id)
    except (ExplorerUnavailable, ExplorerRejected) as exc:
        log.warning("could not delete a workload", grid_id=grid_id, reason=str(exc))


def _reverse(dep: Deployer, live_ids: set[int]) -> int:
    vanished = 0
    with dep.db.transaction() as cur:
        believed = [w for w in watch_store.believed_live(cur) if int(w["grid_id"]) not in live_ids]
    for row in believed:
        try:
            workload = dep.grid.workload(int(row["grid_id"]))
        except ExplorerUnavailable:
            return vanished
        except ExplorerRejected:
            workload = {"next_action": NextAction.DELETED}
        if workload.get("next_action") not in (NextAction.DELETED, NextAction.DELETE, NextAction.INVALID):
            continue  # sent after the listing was taken
        vanished += 1
        if row["kind"] == Kind.NETWORK_RESOURCE.value:
            _network_resource_removed(dep, row)
            continue
        reason = f"workload {row['grid_id']} was removed from the grid (its capacity pool may have run out)"
        with dep.db.transaction() as cur:
            state = "sent" if row["state"] == "sent" else "deployed"
            if not watch_store.settle_workload(cur, row["id"], state, "deleted", error="removed from the grid"):
                continue  # its pass or teardown got there first
            sol = store.solution(cur, str(row["solution_id"]), lock=True) if row["solution_id"] else None
            if sol is None:
                continue
            store.add_event(cur, str(sol["id"]), f"workload {row['grid_id']} on node {row['node_id']} was removed "
                            "from the grid (its capacity pool may have run out)", level="warning")  # fmt: skip
            if sol["status"] in ("deployed", "deploying"):
                teardown.fail(cur, sol, reason)
        dep.wake(str(row["solution_id"]))
    return vanished


def _network_resource_removed(dep: Deployer, row: dict[str, Any]) -> None:
    """A network resource the grid removed (its pool ran dry, its node failed it) never fails the network: the
    network goes on serving its other nodes and the deployments there (issue 11 item 3). What ran on that node lost
    its network with it and is failed by its own removed workloads; a deployment that needs the node again sends a
    new version of the network first (stage -1), so the network is re-provisioned when it is used there again.
    """
    with dep.db.transaction() as cur:
        state = "sent" if row["state"] == "sent" else "deployed"
        if not watch_store.settle_workload(cur, row["id"], state, "deleted", error="removed from the grid"):
            return
        newest = {r["node_id"]: r for r in network_store.latest_resources(cur, row["network_id"])}
        if row["solution_id"] is not None and newest.get(row["node_id"], {}).get("id") == row["id"]:
            store.add_event(cur, str(row["solution_id"]), f"the network resource on node {row['node_id']} (workload "
                            f"{row['grid_id']}) was removed from the grid (its capacity pool may have run out): the "
                            "network goes on serving its other nodes, and is sent to this node again when a "
                            "deployment needs it there", level="warning")  # fmt: skip
        waiting = watch_store.waiting_for_networks(cur, [int(row["network_id"])])
    for solution_id in waiting:
        dep.wake(solution_id)
