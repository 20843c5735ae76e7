"""The allowed state transitions of solutions and workloads, written down once (DESIGN "Deployment lifecycle" 7).

Every state write in ``store`` is a compare-and-set against these tables: it names the state(s) it expects to
find, and the write is refused (logged, returns False) when an expected → new edge is not listed here, or when the
row is no longer in an expected state (another writer got there first). Nothing ever overwrites a state blindly.

Solutions::

    submitted → planning → deploying → deployed          (planning is skipped when the plan commits at once)
        any non-final state → failed → rolled_back       (a failure or a deadline; rollback removes everything)
        any non-final state → cancelling → cancelled     (the owner cancels; a failed one is taken off the list)
    rolled_back → cancelling                             (the owner removes a rolled-back entry from the list)

``deployed → failed`` is the grid removing a workload of a deployed solution (its pool ran dry). ``cancelling``
never fails: a teardown only ends, in ``cancelled``.

Workloads::

    recorded → sent → deployed → deleting → deleted
    recorded → failed (the grid refused the POST), recorded → deleted (rolled back before any answer),
    recorded → superseded (a network-resource version replaced before it was sent),
    sent → failed (the node failed it, or its deadline passed), sent/deployed → deleted (the grid removed it),
    failed → deleting → deleted, failed → deleted (never reached the grid: nothing to delete).
"""

from __future__ import annotations

from collections.abc import Iterable

# Solutions ---------------------------------------------------------------------------------------------------
SUBMITTED, PLANNING, DEPLOYING, DEPLOYED = "submitted", "planning", "deploying", "deployed"
FAILED, ROLLED_BACK, CANCELLING, CANCELLED = "failed", "rolled_back", "cancelling", "cancelled"

SOLUTION_STATES = (SUBMITTED, PLANNING, DEPLOYING, DEPLOYED, FAILED, ROLLED_BACK, CANCELLING, CANCELLED)
SOLUTION_FINAL = (ROLLED_BACK, CANCELLED)  # nothing of the solution is on the grid any more
SOLUTION_SETTLED = (DEPLOYED, ROLLED_BACK, CANCELLED)  # no pass has anything to do
DEPLOYING_STATES = (SUBMITTED, PLANNING, DEPLOYING)  # on the way up
TEARING_DOWN = (FAILED, CANCELLING)  # on the way down
LIVE_SOLUTION = (*DEPLOYING_STATES, DEPLOYED)  # on the grid or on its way there (its name is taken)
IN_FLIGHT = (*DEPLOYING_STATES, *TEARING_DOWN)  # a pass has work to do

SOLUTION_EDGES: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({PLANNING, DEPLOYING, FAILED, CANCELLING}),
    PLANNING: frozenset({DEPLOYING, FAILED, CANCELLING}),
    DEPLOYING: frozenset({DEPLOYED, FAILED, CANCELLING}),
    DEPLOYED: frozenset({FAILED, CANCELLING}),
    FAILED: frozenset({ROLLED_BACK, CANCELLING}),
    ROLLED_BACK: frozenset({CANCELLING}),
    CANCELLING: frozenset({CANCELLED}),
    CANCELLED: frozenset(),
}

# Workloads ---------------------------------------------------------------------------------------------------
RECORDED, SENT, W_DEPLOYED, W_FAILED = "recorded", "sent", "deployed", "failed"
DELETING, DELETED, SUPERSEDED = "deleting", "deleted", "superseded"

WORKLOAD_STATES = (RECORDED, SENT, W_DEPLOYED, W_FAILED, DELETING, DELETED, SUPERSEDED)
WORKLOAD_GONE = (DELETED, SUPERSEDED)

WORKLOAD_EDGES: dict[str, frozenset[str]] = {
    RECORDED: frozenset({SENT, W_FAILED, DELETED, SUPERSEDED}),
    SENT: frozenset({W_DEPLOYED, W_FAILED, DELETING, DELETED}),
    W_DEPLOYED: frozenset({DELETING, DELETED}),
    W_FAILED: frozenset({DELETING, DELETED}),
    DELETING: frozenset({DELETED}),
    DELETED: frozenset(),
    SUPERSEDED: frozenset(),
}


def sources(edges: dict[str, frozenset[str]], new: str) -> tuple[str, ...]:
    """Every state from which ``new`` may be reached."""
    return tuple(state for state, targets in edges.items() if new in targets)


def illegal(edges: dict[str, frozenset[str]], expected: Iterable[str], new: str) -> list[str]:
    """The expected states from which ``new`` is not allowed (empty: every edge is in the table)."""
    return [state for state in expected if new not in edges.get(state, frozenset())]
