"""The SQL of the poller and of the reconciler's sweeps: what our index waits for on the grid, whom to wake.

Every function takes the cursor of the caller's transaction (like ``store``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.common.db import json_param
from services.deployer import states

# The only state writes of the poller and the reconciler: a result the listing showed, a deletion confirmed, a
# workload the grid removed by itself.
SETTLE_EDGES = {("sent", "deployed"), ("deleting", "deleted"), ("sent", "deleted"), ("deployed", "deleted")}

# A deploying solution the poller watches: its current stage has workloads on their way and none left to send
# (stage -1: some network resource of its network is on its way). A teardown it watches: only deletions pending.
# Any other solution in flight that nothing touched for a tick is woken by the tick itself.
_WATCHED = """
    (s.status = 'deploying' AND s.stage >= 0
      AND EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.solution_id = s.id AND w.stage = s.stage
                  AND w.state = 'sent' AND w.kind <> 'network_resource')
      AND NOT EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.solution_id = s.id AND w.stage = s.stage
                      AND w.state = 'recorded' AND w.kind <> 'network_resource'))
    OR (s.status = 'deploying' AND s.stage = -1
      AND EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.network_id = s.network_id
                  AND w.kind = 'network_resource' AND w.state = 'sent'))
    OR (s.status IN ('failed', 'cancelling')
      AND EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.solution_id = s.id AND w.state = 'deleting')
      AND NOT EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.solution_id = s.id
                      AND w.state IN ('recorded', 'sent', 'deployed', 'failed')))
"""

_TO_WAKE = f"""
    SELECT s.id FROM deployer.solutions s
    WHERE s.status = ANY(%(in_flight)s) AND (
      (s.status = ANY(%(deploying)s) AND s.deadline < now())
      OR (s.updated_at < now() - make_interval(secs => %(idle)s) AND NOT ({_WATCHED})))
    ORDER BY s.updated_at LIMIT %(limit)s
"""  # noqa: S608 — built once, from constants


def watched_workloads(cur: Any) -> list[dict[str, Any]]:
    """Rows the poller compares with the grid: ``deleting`` ones, and ``sent`` ones somebody waits for (a
    deployment on its way up, or a network resource a deployment waits for at stage -1)."""
    cur.execute(
        """
        SELECT w.id, w.grid_id, w.state, w.solution_id, w.network_id, w.kind, w.key, w.node_id, w.deadline
        FROM deployer.workloads w LEFT JOIN deployer.solutions s ON s.id = w.solution_id
        WHERE w.grid_id IS NOT NULL AND (
          w.state = 'deleting'
          OR (w.state = 'sent' AND (s.status = ANY(%(deploying)s)
              OR (w.kind = 'network_resource' AND EXISTS (
                  SELECT 1 FROM deployer.solutions d
                  WHERE d.network_id = w.network_id AND d.status = 'deploying' AND d.stage = -1)))))
        ORDER BY w.id
        """,
        {"deploying": list(states.DEPLOYING_STATES)},
    )
    return [dict(r) for r in cur.fetchall()]


def believed_live(cur: Any, limit: int = 100_000) -> list[dict[str, Any]]:
    """Workloads our index believes live on the grid (the reconciler's reverse direction)."""
    cur.execute(
        "SELECT id, grid_id, state, solution_id, network_id, kind, node_id FROM deployer.workloads "
        "WHERE state IN ('sent', 'deployed') AND grid_id IS NOT NULL ORDER BY id LIMIT %(limit)s",
        {"limit": limit},
    )
    return [dict(r) for r in cur.fetchall()]


def waiting_for_networks(cur: Any, network_ids: Iterable[int]) -> list[str]:
    """Deployments waiting at stage -1 for one of these networks."""
    ids = sorted(set(network_ids))
    if not ids:
        return []
    cur.execute(
        "SELECT id FROM deployer.solutions WHERE status = 'deploying' AND stage = -1 AND network_id = ANY(%(ids)s)",
        {"ids": ids},
    )
    return [str(r["id"]) for r in cur.fetchall()]


def solutions_to_wake(cur: Any, idle_seconds: float, limit: int = 1000) -> list[str]:
    """Solutions on their way up past their deadline, and solutions in flight that nothing touched for
    ``idle_seconds`` and that the poller does not watch."""
    cur.execute(_TO_WAKE, {"in_flight": list(states.IN_FLIGHT), "deploying": list(states.DEPLOYING_STATES),
                           "idle": idle_seconds, "limit": limit})  # fmt: skip
    return [str(r["id"]) for r in cur.fetchall()]


def settle_workload(cur: Any, workload_id: int, expected: str, new: str, result: dict[str, Any] | None = None,
                    error: str | None = None) -> bool:  # fmt: skip
    """Compare-and-set what the grid showed (``sent → deployed`` with its result, ``deleting → deleted``, a
    workload removed by the grid); False when the row had moved on (its pass got there first)."""
    if (expected, new) not in SETTLE_EDGES:
        raise ValueError(f"the poller and the reconciler never write {expected} → {new}")
    cur.execute(
        """
        UPDATE deployer.workloads SET state = %(new)s, result = COALESCE(%(result)s, result),
               error = COALESCE(%(error)s, error), updated_at = now()
        WHERE id = %(id)s AND state = %(expected)s
        """,
        {"id": workload_id, "new": new, "expected": expected, "error": error,
         "result": json_param(result) if result is not None else None},
    )  # fmt: skip
    return bool(cur.rowcount == 1)
