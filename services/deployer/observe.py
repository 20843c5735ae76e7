"""What the grid says about one sent workload, and writing it down (compare-and-set from ``sent``).

Used by every pass that waits on the grid (``lifecycle``'s stages, ``network_stage``) and by the reconciler; the
grid poller records what its listing shows the same way (``poller.py``), so both writers agree on each row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import store
from services.deployer.context import Deployer, Transient
from services.deployer.grid.kinds import NextAction, ResultState


@dataclass(frozen=True)
class Seen:
    """What the grid says about one sent workload: the state it reached (None: still on its way), the node's
    result or error, and the user-facing failure (if it failed or ran out of time)."""

    state: str | None
    result: dict[str, Any] | None = None
    error: str | None = None
    failure: str | None = None
    event: str | None = None


def look(dep: Deployer, row: dict[str, Any]) -> Seen:
    """GET one sent workload (no database write).

    Raises:
        Transient: the grid did not answer.
    """
    try:
        workload = dep.grid.workload(int(row["grid_id"]))
    except ExplorerUnavailable as exc:
        raise Transient(str(exc)) from None
    except ExplorerRejected as exc:
        workload = {"next_action": NextAction.DELETED, "result": {"message": exc.message}}
    result = workload.get("result") or {}
    what = f"{label(row)} (workload {row['grid_id']} on node {row['node_id']})"
    if result.get("workload_id") and result.get("state") == ResultState.OK:
        data = result.get("data_json") or {}
        data = data if isinstance(data, dict) else {}
        return Seen("deployed", result=data, event=f"{label(row)} deployed{detail(row, data)}")
    if result.get("workload_id") and result.get("state") == ResultState.ERROR:
        message = result.get("message") or "no reason given"
        return Seen("failed", error=message, failure=f"{what} failed on the node: {message}")
    if workload.get("next_action") in (NextAction.DELETE, NextAction.DELETED, NextAction.INVALID):
        return Seen("failed", error="removed from the grid",
                    failure=f"{what} was removed from the grid before it was deployed")  # fmt: skip
    if past(row["deadline"]):
        minutes = max(1, round(dep.settings.workload_deadline / 60))
        return Seen("failed", error="deadline",
                    failure=f"{what} was not ready within {minutes} minute{'s' if minutes != 1 else ''}")  # fmt: skip
    return Seen(None)


def apply(cur: Any, row: dict[str, Any], seen: Seen, sol: dict[str, Any]) -> bool:
    """Write what ``look`` saw (compare-and-set from ``sent``); True when it applied.

    Refused when another writer moved the row first (the grid poller records results from its listing): the
    row's state is then read back, so the pass goes on with what is true.
    """
    assert seen.state is not None
    if not store.set_workload_state(cur, row["id"], seen.state, expected="sent", result=seen.result,
                                    error=seen.error):  # fmt: skip
        actual = store.workload_row(cur, row["id"])
        if actual is not None:
            row.update(state=actual["state"], result=actual["result"], error=actual["error"])
        return False
    # What the row now holds, result included: a later stage built in this same pass reads it (a ZDB's address).
    row.update(state=seen.state, **{k: v for k, v in (("result", seen.result), ("error", seen.error)) if v is not None})
    if seen.event and row["solution_id"] is not None and str(row["solution_id"]) == str(sol["id"]):
        store.add_event(cur, str(sol["id"]), seen.event)
    return True


def poll(dep: Deployer, row: dict[str, Any], sol: dict[str, Any]) -> str | None:
    """Look at one sent workload on the grid and record what it reached; returns the user-facing failure."""
    seen = look(dep, row)
    if seen.state is None:
        return None
    with dep.db.transaction() as cur:
        apply(cur, row, seen, sol)
    return seen.failure


def label(row: dict[str, Any]) -> str:
    kind = row["kind"].replace("_", " ")
    return kind if not row.get("key") or row["key"] == row["kind"] else f"{kind} {row['key']}"


def detail(row: dict[str, Any], data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    ip = data.get("ipv4") or data.get("ip")  # containers report "ipv4", Kubernetes VMs "ip"
    return f", IP {ip}" if ip else ""


def past(deadline: Any) -> bool:
    """True when ``deadline`` (a timestamp, or None: none) has passed."""
    return deadline is not None and deadline.timestamp() < time.time()
