"""Every edge of the transition tables (services/deployer/states.py) against real PostgreSQL (issue 11 item 7).

For every pair of states: a compare-and-set from the state the row is in applies exactly when the table lists the
edge; a write that expects another state than the row's is refused and changes nothing.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from services.deployer import states, store


def _solution(cur: Any, status: str) -> str:
    row, _ = store.insert_solution(cur, key=uuid.uuid4().hex, owner=f"u{uuid.uuid4().hex[:10]}.3bot", type="ubuntu",
                                   name="vm", spec={}, secrets=None, deadline_seconds=600)  # fmt: skip
    cur.execute("UPDATE deployer.solutions SET status = %s WHERE id = %s", (status, row["id"]))  # test setup
    return str(row["id"])


def _status(cur: Any, solution_id: str) -> str:
    cur.execute("SELECT status FROM deployer.solutions WHERE id = %s", (solution_id,))
    return str(cur.fetchone()["status"])


def _workload(cur: Any, state: str) -> int:
    solution_id = _solution(cur, "deploying")
    row_id = store.record_workload(cur, solution_id=solution_id, key="c", kind="container", role="c", stage=0,
                                   node_id="n1", pool_id=1, body={})  # fmt: skip
    cur.execute("UPDATE deployer.workloads SET state = %s WHERE id = %s", (state, row_id))  # test setup
    return row_id


def _state(cur: Any, row_id: int) -> str:
    cur.execute("SELECT state FROM deployer.workloads WHERE id = %s", (row_id,))
    return str(cur.fetchone()["state"])


@pytest.mark.parametrize(("old", "new"), list(itertools.product(states.SOLUTION_STATES, repeat=2)))
def test_every_solution_edge(rollback_cursor: Any, old: str, new: str) -> None:
    solution_id = _solution(rollback_cursor, old)
    allowed = new in states.SOLUTION_EDGES[old]
    assert store.set_status(rollback_cursor, solution_id, new, expected=old, error="why") is allowed
    assert _status(rollback_cursor, solution_id) == (new if allowed else old)


@pytest.mark.parametrize("new", states.SOLUTION_STATES)
def test_a_solution_write_expecting_another_state_is_refused(rollback_cursor: Any, new: str) -> None:
    """The row moved since it was read (a cancel, the reconciler): the write does nothing, whatever the edge."""
    for old in states.sources(states.SOLUTION_EDGES, new):
        for actual in states.SOLUTION_STATES:
            if actual == old:
                continue
            solution_id = _solution(rollback_cursor, actual)
            assert not store.set_status(rollback_cursor, solution_id, new, expected=old)
            assert _status(rollback_cursor, solution_id) == actual


def test_a_status_is_never_written_blindly(rollback_cursor: Any) -> None:
    solution_id = _solution(rollback_cursor, "deployed")
    with pytest.raises(ValueError, match="set_status"):
        store.update_solution(rollback_cursor, solution_id, status="submitted")
    assert not store.set_status(rollback_cursor, solution_id, "failed", expected=[])
    assert _status(rollback_cursor, solution_id) == "deployed"


@pytest.mark.parametrize(("old", "new"), list(itertools.product(states.WORKLOAD_STATES, repeat=2)))
def test_every_workload_edge(rollback_cursor: Any, old: str, new: str) -> None:
    row_id = _workload(rollback_cursor, old)
    allowed = new in states.WORKLOAD_EDGES[old]
    assert store.set_workload_state(rollback_cursor, row_id, new, expected=old) is allowed
    assert _state(rollback_cursor, row_id) == (new if allowed else old)
    # Without an explicit expectation, every source the table lists for ``new`` is expected: the same answer.
    row_id = _workload(rollback_cursor, old)
    assert store.set_workload_state(rollback_cursor, row_id, new) is allowed
    assert _state(rollback_cursor, row_id) == (new if allowed else old)


@pytest.mark.parametrize("old", states.WORKLOAD_STATES)
def test_only_a_recorded_workload_is_marked_sent_or_superseded(rollback_cursor: Any, old: str) -> None:
    from services.deployer import network_store

    row_id = _workload(rollback_cursor, old)
    grid_id = 10**12 + row_id  # no real workload has it
    assert store.mark_sent(rollback_cursor, row_id, grid_id, 60) is (old == "recorded")
    assert _state(rollback_cursor, row_id) == ("sent" if old == "recorded" else old)
    row_id = _workload(rollback_cursor, old)
    network_store.supersede(rollback_cursor, [row_id])
    assert _state(rollback_cursor, row_id) == ("superseded" if old == "recorded" else old)


def test_the_races_of_the_issue_are_refused(rollback_cursor: Any) -> None:
    """Reconciler and teardown racing: a deleting workload never goes back to deployed, a deleted one never to
    failed; a cancelled solution is never failed by a late reconciler."""
    deleting = _workload(rollback_cursor, "deleting")
    assert not store.set_workload_state(rollback_cursor, deleting, "deployed")
    deleted = _workload(rollback_cursor, "deleted")
    assert not store.set_workload_state(rollback_cursor, deleted, "failed")
    assert (_state(rollback_cursor, deleting), _state(rollback_cursor, deleted)) == ("deleting", "deleted")
    cancelled = _solution(rollback_cursor, "cancelled")
    assert not store.set_status(rollback_cursor, cancelled, "failed", expected="deployed")
    assert _status(rollback_cursor, cancelled) == "cancelled"


def test_the_table_reaches_a_final_state_from_everywhere() -> None:
    """From every state some path leads to rolled_back or cancelled (nothing can be stranded by the table)."""
    for start in states.SOLUTION_STATES:
        seen, todo = {start}, [start]
        while todo:
            for nxt in states.SOLUTION_EDGES[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & set(states.SOLUTION_FINAL), start
    for start in states.WORKLOAD_STATES:
        seen, todo = {start}, [start]
        while todo:
            for nxt in states.WORKLOAD_EDGES[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & set(states.WORKLOAD_GONE), start
