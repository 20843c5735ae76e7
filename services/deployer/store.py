"""The deployer's SQL for solutions, events and locks; the workloads' is in ``workload_store`` (re-exported here).

Every function takes the cursor of the caller's transaction, so a service function decides what commits together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.common.db import json_param
from services.deployer import states
from services.deployer.workload_store import (
    deployed_workloads,
    idle_sent_workloads,
    mark_attempt,
    mark_sent,
    record_workload,
    set_body,
    set_workload_state,
    workload_by_grid_ids,
    workload_row,
    workloads_by_solution,
    workloads_of,
)

log = structlog.get_logger(__name__)
# The workload queries live in workload_store; callers keep using store.<name>.
__all__ = [
    "deployed_workloads",
    "idle_sent_workloads",
    "mark_attempt",
    "mark_sent",
    "record_workload",
    "set_body",
    "set_workload_state",
    "workload_by_grid_ids",
    "workload_row",
    "workloads_by_solution",
    "workloads_of",
]


# -- solutions ------------------------------------------------------------------------------------------------


Row = dict[str, Any]


def insert_solution(cur: Any, *, key: str, owner: str, type: str, name: str, spec: dict[str, Any],
                    secrets: str | None, deadline_seconds: int, listed: bool = True) -> tuple[Row, bool]:  # fmt: skip
    """Create the solution for ``key`` unless it exists; returns (row, created).

    Raises:
        psycopg2.errors.UniqueViolation: a live solution of this owner and type already has this name.
    """
    cur.execute(
        """
        INSERT INTO deployer.solutions (id, idempotency_key, owner, type, name, spec, secrets, deadline, listed)
        VALUES (%(id)s, %(key)s, %(owner)s, %(type)s, %(name)s, %(spec)s, %(secrets)s,
                now() + make_interval(secs => %(deadline)s), %(listed)s)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING *
        """,
        {"id": uuid.uuid4().hex, "key": key, "owner": owner, "type": type, "name": name, "spec": json_param(spec),
         "secrets": secrets, "deadline": deadline_seconds, "listed": listed},
    )  # fmt: skip
    row = cur.fetchone()
    if row is not None:
        return dict(row), True
    cur.execute("SELECT * FROM deployer.solutions WHERE idempotency_key = %(key)s", {"key": key})
    return dict(cur.fetchone()), False


def solution(cur: Any, solution_id: str, *, owner: str | None = None, lock: bool = False) -> dict[str, Any] | None:
    """One solution (of ``owner`` when given: another owner's id reads as missing)."""
    cur.execute(
        "SELECT * FROM deployer.solutions WHERE id = %(id)s AND (%(owner)s::text IS NULL OR owner = %(owner)s)"
        + (" FOR UPDATE" if lock else ""),
        {"id": solution_id, "owner": owner},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def solutions_by_ids(cur: Any, solution_ids: Iterable[str]) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM deployer.solutions WHERE id = ANY(%(ids)s::uuid[]) ORDER BY id",
                {"ids": [str(i) for i in solution_ids]})  # fmt: skip
    return [dict(r) for r in cur.fetchall()]


def solutions_of(cur: Any, owner: str, type: str | None = None) -> list[dict[str, Any]]:
    """The owner's listed solutions (all but cancelled), newest first."""
    cur.execute(
        """
        SELECT * FROM deployer.solutions
        WHERE owner = %(owner)s AND listed AND status <> 'cancelled' AND (%(type)s::text IS NULL OR type = %(type)s)
        ORDER BY created_at DESC
        """,
        {"owner": owner, "type": type},
    )
    return [dict(r) for r in cur.fetchall()]


def live_name_taken(cur: Any, owner: str, type: str, name: str) -> bool:
    cur.execute(
        """
        SELECT 1 FROM deployer.solutions WHERE owner = %(owner)s AND type = %(type)s AND name = %(name)s
          AND status NOT IN ('failed', 'rolled_back', 'cancelled')
        """,
        {"owner": owner, "type": type, "name": name},
    )
    return cur.fetchone() is not None


def count_by_type(cur: Any, owner: str) -> dict[str, int]:
    cur.execute(
        """
        SELECT type, count(*) AS n FROM deployer.solutions
        WHERE owner = %(owner)s AND listed AND status <> 'cancelled' GROUP BY type
        """,
        {"owner": owner},
    )
    return {r["type"]: r["n"] for r in cur.fetchall()}


_UPDATABLE = {"error", "placed", "stage", "network_id", "outputs", "secret_outputs", "wake_token", "deadline",
              "finished_at"}  # fmt: skip


def _assignments(values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)} (a status changes through set_status only)")
    params = {k: json_param(v) if k in ("placed", "outputs") else v for k, v in values.items()}
    return "".join(f"{k} = %({k})s, " for k in values), params


def update_solution(cur: Any, solution_id: str, **values: Any) -> None:
    """Set columns of a solution other than its status (names are code, never user input); ``updated_at`` moves."""
    assignments, params = _assignments(values)
    cur.execute(
        f"UPDATE deployer.solutions SET {assignments}updated_at = now() WHERE id = %(_id)s",
        {**params, "_id": solution_id},
    )


def set_status(cur: Any, solution_id: str, new: str, *, expected: str | Iterable[str], **values: Any) -> bool:
    """Compare-and-set the status (with other columns in the same write); True when it applied.

    Refused — logged, False, nothing written — when an ``expected`` → ``new`` edge is not in
    :data:`states.SOLUTION_EDGES`, or when the row is no longer in an expected state (another writer was first).
    """
    wanted = [expected] if isinstance(expected, str) else list(expected)
    bad = states.illegal(states.SOLUTION_EDGES, wanted, new)
    if bad or not wanted:
        log.error("illegal solution transition refused", solution=str(solution_id), expected=wanted, new=new)
        return False
    assignments, params = _assignments(values)
    cur.execute(
        f"UPDATE deployer.solutions SET {assignments}status = %(_new)s, updated_at = now() "
        "WHERE id = %(_id)s AND status = ANY(%(_expected)s)",
        {**params, "_id": solution_id, "_new": new, "_expected": wanted},
    )
    if cur.rowcount == 1:
        return True
    log.info("solution transition not applied: its status moved", solution=str(solution_id), expected=wanted,
             new=new)  # fmt: skip
    return False


def awaiting_readiness(cur: Any, limit: int = 1000) -> list[Row]:
    """Deployed solutions whose outputs still say ``Status: initialising`` (a 3Bot waiting for its ``/admin``)."""
    cur.execute(
        "SELECT * FROM deployer.solutions WHERE status = %(deployed)s AND outputs->>'Status' = 'initialising' "
        "ORDER BY finished_at LIMIT %(limit)s",
        {"deployed": states.DEPLOYED, "limit": limit},
    )
    return [dict(r) for r in cur.fetchall()]


def end_readiness(cur: Any, solution_id: str, status: str, error: str | None = None) -> bool:
    """``Status: initialising`` → ``status`` in the outputs of a deployed solution (and its ``error``): a
    compare-and-set, False when another sweep or a cancel got there first."""
    cur.execute(
        "UPDATE deployer.solutions SET outputs = jsonb_set(outputs, '{Status}', to_jsonb(%(status)s::text)), "
        "error = %(error)s, updated_at = now() WHERE id = %(id)s AND status = %(deployed)s "
        "AND outputs->>'Status' = 'initialising'",
        {"status": status, "error": error, "id": solution_id, "deployed": states.DEPLOYED},
    )
    return bool(cur.rowcount)


def extend_deadline(cur: Any, solution_id: str, seconds: int) -> None:
    cur.execute(
        "UPDATE deployer.solutions SET deadline = now() + make_interval(secs => %(s)s), updated_at = now() "
        "WHERE id = %(id)s",
        {"id": solution_id, "s": seconds},
    )


def take_secret_outputs(cur: Any, solution_id: str, owner: str) -> str | None:
    """Read and erase the one-time outputs (the WireGuard config with the laptop's private key)."""
    cur.execute(
        "SELECT secret_outputs FROM deployer.solutions WHERE id = %(id)s AND owner = %(owner)s FOR UPDATE",
        {"id": solution_id, "owner": owner},
    )
    row = cur.fetchone()
    if row is None or row["secret_outputs"] is None:
        return None
    cur.execute("UPDATE deployer.solutions SET secret_outputs = NULL WHERE id = %(id)s", {"id": solution_id})
    return str(row["secret_outputs"])


def live_solutions_in_network(cur: Any, network_id: int, exclude: str, ignoring: Iterable[str] = ()
                              ) -> list[dict[str, Any]]:  # fmt: skip
    """The solutions in the network that are not over, but ``exclude`` and those of the types ``ignoring``."""
    cur.execute(
        """
        SELECT id, type, name FROM deployer.solutions
        WHERE network_id = %(net)s AND id <> %(exclude)s AND status = ANY(%(live)s) AND type <> ALL(%(ignoring)s)
        """,
        {"net": network_id, "exclude": exclude, "live": [*states.LIVE_SOLUTION, *states.TEARING_DOWN],
         "ignoring": list(ignoring)},
    )  # fmt: skip
    return [dict(r) for r in cur.fetchall()]


# -- events ---------------------------------------------------------------------------------------------------


def add_event(cur: Any, solution_id: str, message: str, level: str = "info") -> None:
    cur.execute(
        "INSERT INTO deployer.solution_events (solution_id, level, message) VALUES (%(id)s, %(level)s, %(msg)s)",
        {"id": solution_id, "level": level, "msg": message},
    )


def events(cur: Any, solution_id: str) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT at, level, message FROM deployer.solution_events WHERE solution_id = %(id)s ORDER BY id",
        {"id": solution_id},
    )
    return [dict(r) for r in cur.fetchall()]


# -- solutions in a network ----------------------------------------------------------------------------------


def end_solutions_in_network(cur: Any, network_id: int, types: Iterable[str]) -> list[str]:
    """The solutions of ``types`` in the network that end with it (its access points: their /24s go with the
    network's rows, their workloads are the network's NRs): every one not over yet goes ``cancelling`` →
    ``cancelled`` here; returns their ids."""
    cur.execute(
        """
        UPDATE deployer.solutions SET status = 'cancelling', updated_at = now()
        WHERE network_id = %(net)s AND type = ANY(%(types)s) AND status = ANY(%(from)s)
        RETURNING id
        """,
        {"net": network_id, "types": list(types),
         "from": [s for s in states.sources(states.SOLUTION_EDGES, states.CANCELLING) if s != states.ROLLED_BACK]},
    )  # fmt: skip
    ended = [str(r["id"]) for r in cur.fetchall()]
    for solution_id in ended:
        set_status(cur, solution_id, states.CANCELLED, expected=states.CANCELLING, finished_at=datetime.now(UTC))
    return ended


def free_solution_ips(cur: Any, solution_id: str) -> None:
    cur.execute("DELETE FROM deployer.ip_allocations WHERE solution_id = %(id)s", {"id": solution_id})


# -- locks ----------------------------------------------------------------------------------------------------


def try_lock(cur: Any, namespace: int, key: str) -> bool:
    """A session-level advisory lock (held until :func:`unlock` or the connection closes — a SIGKILLed worker's
    locks vanish with its connection, so a redelivered task can take over at once)."""
    cur.execute("SELECT pg_try_advisory_lock(%(ns)s, hashtext(%(key)s)) AS ok", {"ns": namespace, "key": key})
    return bool(cur.fetchone()["ok"])


def try_lock_each(cur: Any, namespace: int, keys: Iterable[str]) -> list[str]:
    """Transaction-level advisory locks on each of ``keys`` that no one holds (released by the commit); returns
    the keys locked. They exclude the session-level locks of :func:`try_lock` on the same keys, and are held by
    this transaction alone."""
    cur.execute("SELECT k FROM unnest(%(keys)s::text[]) AS k WHERE pg_try_advisory_xact_lock(%(ns)s, hashtext(k))",
                {"ns": namespace, "keys": list(keys)})  # fmt: skip
    return [str(r["k"]) for r in cur.fetchall()]


def lock(cur: Any, namespace: int, key: str) -> None:
    cur.execute("SELECT pg_advisory_lock(%(ns)s, hashtext(%(key)s))", {"ns": namespace, "key": key})


def unlock(cur: Any, namespace: int, key: str) -> None:
    cur.execute("SELECT pg_advisory_unlock(%(ns)s, hashtext(%(key)s))", {"ns": namespace, "key": key})


def count_by_status(cur: Any) -> dict[str, int]:
    """How many solutions are in each state (metrics, read at scrape time)."""
    cur.execute("SELECT status, count(*) AS n FROM deployer.solutions GROUP BY status")
    return {str(r["status"]): int(r["n"]) for r in cur.fetchall()}


def count_stuck(cur: Any) -> int:
    """Solutions not settled (on their way up or down) past their deadline, or with a sent workload past its own:
    within a tick the poller wakes such a solution and its pass fails it (or ends its teardown), so one counted
    here for long is stuck — no worker acts on it (metrics: must be 0)."""
    cur.execute(
        """
        SELECT count(*) AS n FROM deployer.solutions s
        WHERE s.status NOT IN %(settled)s
          AND (s.deadline < now() OR EXISTS (SELECT 1 FROM deployer.workloads w WHERE w.solution_id = s.id
                                             AND w.state = 'sent' AND w.deadline < now()))
        """,
        {"settled": tuple(states.SOLUTION_SETTLED)},
    )
    return int(cur.fetchone()["n"])
