"""The deployer's SQL for workloads: the rows a solution records, sends and watches.

Split from ``store`` (solutions, events, locks), which re-exports these names, so callers keep ``store.<name>``.
Every function takes the cursor of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from services.common.db import json_param
from services.deployer import states

log = structlog.get_logger(__name__)
Row = dict[str, Any]


def record_workload(cur: Any, *, solution_id: str, key: str | None, kind: str, role: str | None, stage: int,
                    node_id: str, pool_id: int, body: Row, network_id: int | None = None) -> int:  # fmt: skip
    """Record a workload before it is sent; idempotent on (solution, key). Returns the row id."""
    cur.execute(
        """
        INSERT INTO deployer.workloads (solution_id, network_id, key, kind, role, stage, node_id, pool_id, body)
        VALUES (%(sol)s, %(net)s, %(key)s, %(kind)s, %(role)s, %(stage)s, %(node)s, %(pool)s, %(body)s)
        ON CONFLICT (solution_id, key) WHERE key IS NOT NULL DO NOTHING
        RETURNING id
        """,
        {"sol": solution_id, "net": network_id, "key": key, "kind": kind, "role": role, "stage": stage,
         "node": node_id, "pool": pool_id, "body": json_param(body)},
    )  # fmt: skip
    row = cur.fetchone()
    if row is not None:
        return int(row["id"])
    cur.execute(
        "SELECT id FROM deployer.workloads WHERE solution_id = %(sol)s AND key = %(key)s",
        {"sol": solution_id, "key": key},
    )
    return int(cur.fetchone()["id"])


def set_body(cur: Any, workload_id: int, body: dict[str, Any], *, attempted: bool = False) -> dict[str, Any]:
    """Write the rendered body (and, with ``attempted``, mark the row attempted: it may be sent from now on);
    returns the row."""
    cur.execute(
        "UPDATE deployer.workloads SET body = %(body)s, updated_at = now()"
        + (", attempted_at = now()" if attempted else "")
        + " WHERE id = %(id)s RETURNING *",
        {"id": workload_id, "body": json_param(body)},
    )
    return dict(cur.fetchone())


def workloads_of(cur: Any, solution_id: str) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM deployer.workloads WHERE solution_id = %(id)s ORDER BY id", {"id": solution_id})
    return [dict(r) for r in cur.fetchall()]


def workloads_by_solution(cur: Any, solution_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    cur.execute(
        "SELECT * FROM deployer.workloads WHERE solution_id = ANY(%(ids)s::uuid[]) ORDER BY id",
        {"ids": [str(i) for i in solution_ids]},
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in cur.fetchall():
        grouped.setdefault(str(row["solution_id"]), []).append(dict(row))
    return grouped


def mark_attempt(cur: Any, workload_id: int) -> None:
    cur.execute(
        "UPDATE deployer.workloads SET attempted_at = now(), updated_at = now() WHERE id = %(id)s",
        {"id": workload_id},
    )


def mark_sent(cur: Any, workload_id: int, grid_id: int, deadline_seconds: int) -> bool:
    """``recorded`` → ``sent`` with the grid's id; False when the row left ``recorded`` meanwhile (e.g. a rollback
    marked it deleted: the copy on the grid is then an orphan the reconciler deletes)."""
    cur.execute(
        """
        UPDATE deployer.workloads SET grid_id = %(grid)s, state = 'sent', updated_at = now(),
               deadline = now() + make_interval(secs => %(deadline)s)
        WHERE id = %(id)s AND state = 'recorded'
        """,
        {"id": workload_id, "grid": grid_id, "deadline": deadline_seconds},
    )
    if cur.rowcount == 1:
        return True
    log.info("workload not marked sent: it left 'recorded'", workload=workload_id, grid_id=grid_id)
    return False


def set_workload_state(cur: Any, workload_id: int, state: str, *, expected: str | Iterable[str] | None = None,
                       result: dict[str, Any] | None = None, error: str | None = None) -> bool:  # fmt: skip
    """Compare-and-set a workload's state; True when it applied.

    ``expected`` defaults to every state :data:`states.WORKLOAD_EDGES` allows ``state`` from. Refused — logged,
    False — when an expected → new edge is not in the table or the row is no longer in an expected state.
    """
    if expected is None:
        wanted = list(states.sources(states.WORKLOAD_EDGES, state))
    else:
        wanted = [expected] if isinstance(expected, str) else list(expected)
    if not wanted or states.illegal(states.WORKLOAD_EDGES, wanted, state):
        log.error("illegal workload transition refused", workload=workload_id, expected=wanted, new=state)
        return False
    cur.execute(
        """
        UPDATE deployer.workloads
        SET state = %(state)s, result = COALESCE(%(result)s, result), error = COALESCE(%(error)s, error),
            updated_at = now()
        WHERE id = %(id)s AND state = ANY(%(expected)s)
        """,
        {"id": workload_id, "state": state, "result": json_param(result) if result is not None else None,
         "error": error, "expected": wanted},
    )  # fmt: skip
    if cur.rowcount == 1:
        return True
    log.info("workload transition not applied: its state moved", workload=workload_id, expected=wanted, new=state)
    return False


def workload_by_grid_ids(cur: Any, grid_ids: list[int]) -> dict[int, dict[str, Any]]:
    cur.execute(
        "SELECT w.*, s.status AS solution_status FROM deployer.workloads w "
        "LEFT JOIN deployer.solutions s ON s.id = w.solution_id WHERE w.grid_id = ANY(%(ids)s)",
        {"ids": grid_ids},
    )
    return {int(r["grid_id"]): dict(r) for r in cur.fetchall()}


def workload_row(cur: Any, workload_id: int) -> dict[str, Any] | None:
    cur.execute(
        "SELECT w.*, s.status AS solution_status FROM deployer.workloads w "
        "LEFT JOIN deployer.solutions s ON s.id = w.solution_id WHERE w.id = %(id)s",
        {"id": workload_id},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def deployed_workloads(cur: Any, limit: int = 100_000) -> list[dict[str, Any]]:
    """Workloads we believe are live on the grid (for the reverse reconciliation)."""
    cur.execute(
        "SELECT id, grid_id, solution_id, kind, node_id, created_at FROM deployer.workloads "
        "WHERE state IN ('sent', 'deployed') AND grid_id IS NOT NULL ORDER BY id LIMIT %(limit)s",
        {"limit": limit},
    )
    return [dict(r) for r in cur.fetchall()]


def idle_sent_workloads(cur: Any, idle_seconds: float, limit: int = 1000) -> list[dict[str, Any]]:
    """Workloads sent but not looked at for a while (e.g. network-resource versions nobody waits for)."""
    cur.execute(
        """
        SELECT * FROM deployer.workloads
        WHERE state = 'sent' AND updated_at < now() - make_interval(secs => %(idle)s) ORDER BY id LIMIT %(limit)s
        """,
        {"idle": idle_seconds, "limit": limit},
    )
    return [dict(r) for r in cur.fetchall()]
