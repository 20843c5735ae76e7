"""Time-based behaviour of the simulated grid: nodes reporting results, nodes confirming deletions, pools running
dry, automatic payments.

The nodes work on their own, as real ones do: a background thread of the server (node_agents.py) applies each
event shortly after it comes due, in short transactions of its own. Every request still calls `advance(conn, now)`
first, which replays whatever is due and not applied yet (normally nothing): a read sees everything due by its
time, a jump of the emulator clock applies what it skipped over, and the Flask test client (no background thread)
behaves the same. Each event is applied *at its own time* (a pool burns up to the moment a workload started, not up
to "now"), so the outcome does not depend on who applied it or when somebody happened to look, and a restart loses
nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from emulators.grid import ct_log, directory_store, node_agent, payments, pool_store, pools, workload_store
from emulators.grid.config import Knobs
from emulators.grid.enums import NextAction, ResultState, WorkloadType
from emulators.grid.workload_store import Workload
from emulators.grid.workloads import request_deletion

log = structlog.get_logger("grid-emulator")

# A safety net against a logic error turning one request into an endless loop; far above any real backlog.
MAX_EVENTS_PER_REPLAY = 100_000


@dataclass
class Replay:
    """One replay up to ``now``, possibly spread over several transactions: time never runs backwards inside it
    (events found later can be due earlier: a pool that is already empty when a workload starts in it)."""

    now: float
    cursor: float = float("-inf")
    applied: int = 0


def advance(conn: sqlite3.Connection, now: float, knobs: Knobs) -> int:
    """Apply every event due at or before ``now``; returns how many were applied."""
    replay = Replay(now)
    if not step(conn, replay, knobs, MAX_EVENTS_PER_REPLAY):
        log.error("lifecycle backlog not drained", events=MAX_EVENTS_PER_REPLAY)
    return replay.applied


def step(conn: sqlite3.Connection, replay: Replay, knobs: Knobs, limit: int) -> bool:
    """Apply up to ``limit`` events due by ``replay.now``, in time order; True once nothing due is left."""
    for _ in range(limit):
        event = _next_event(conn)
        if event is None or event[0] > replay.now:
            return True
        due, handler = event
        replay.cursor = max(replay.cursor, due)
        handler(conn, replay.cursor, knobs)
        replay.applied += 1
    return False


def next_due(conn: sqlite3.Connection) -> float | None:
    """When the next event is due (None: nothing pending). Read-only: lets a reader skip the write lock."""
    event = _next_event(conn)
    return None if event is None else event[0]


Handler = Callable[[sqlite3.Connection, float, Knobs], None]


def _next_event(conn: sqlite3.Connection) -> tuple[float, Handler] | None:
    candidates: list[tuple[float, int, Handler]] = []
    # The integer is a tie-breaker: at equal times payments land first, then deployments, then deletions.
    if (payment := pool_store.next_auto_payment(conn)) is not None:
        candidates.append((payment[1], 0, _auto_pay(payment[0])))
    if (received := pool_store.next_payment_to_credit(conn)) is not None:
        candidates.append((received[1], 0, _credit_payment(received[0])))
    if (deploy := workload_store.next_to_deploy(conn)) is not None:
        candidates.append((deploy[1], 1, _deploy(deploy[0])))
    if (delete := workload_store.next_to_delete(conn)) is not None:
        candidates.append((delete[1], 2, _confirm_deletion(delete[0])))
    if (dry := pool_store.next_pool_running_dry(conn)) is not None:
        candidates.append((dry[1], 3, _pool_ran_dry(dry[0])))
    if not candidates:
        return None
    due, _, handler = min(candidates, key=lambda c: (c[0], c[1]))
    return due, handler


def _auto_pay(reservation_id: int) -> Handler:
    """The simulated customer sends the correct payment; it is credited ``payment_delay`` later like any other."""

    def handle(conn: sqlite3.Connection, at: float, knobs: Knobs) -> None:
        payments.auto_pay(conn, reservation_id, at, knobs.payment_delay)

    return handle


def _credit_payment(payment_id: int) -> Handler:
    """The escrow watcher looks at a received payment: credit by memo, address, asset and amount, or ignore."""

    def handle(conn: sqlite3.Connection, at: float, knobs: Knobs) -> None:
        payments.credit(conn, payment_id, at)

    return handle


def _deploy(workload_id: int) -> Handler:
    """The node picks the workload up and reports a result (Ok, or Error with the reason)."""

    def handle(conn: sqlite3.Connection, at: float, knobs: Knobs) -> None:
        workload = workload_store.get_workload(conn, workload_id)
        if workload is None:
            return
        node = directory_store.get_node(conn, workload.node_id)
        workload.deploy_at = None
        failure = (
            workload.fail_message
            or workload_store.pop_node_failure(conn, workload.node_id)
            or node_agent.check(conn, workload, node, at, knobs)
        )
        if failure:
            workload.fail_message = None
            workload.result = node_agent.error_result(workload, node, at, failure)
            request_deletion(workload, at, knobs)
            workload_store.save_workload(conn, workload)
            return
        assert node is not None  # node_agent.check reports a missing node as a failure
        workload.result = node_agent.ok_result(workload, node, at, knobs.wire_variety)
        workload.start(at)
        workload_store.save_workload(conn, workload)
        pools.refresh(conn, workload.pool_id, at)
        wanted = (
            ct_log.certificate_request(workload, node) if workload.workload_type == WorkloadType.CONTAINER else None
        )
        if wanted is not None:  # its TLS endpoint obtained a certificate as it started
            domain, staging = wanted
            ct_log.log_certificate(conn, domain, at, staging)

    return handle


def _confirm_deletion(workload_id: int) -> Handler:
    """The node removed the workload: DELETED, and its pool stops paying for it."""

    def handle(conn: sqlite3.Connection, at: float, knobs: Knobs) -> None:
        workload = workload_store.get_workload(conn, workload_id)
        if workload is None:
            return
        was_active = workload.active
        workload.delete_at = None
        workload.stop(at)
        workload.next_action = NextAction.DELETED
        # A failed workload keeps its Error result (and message); anything else reports Deleted.
        if workload.result is None or workload.result.get("state") != ResultState.ERROR:
            node = directory_store.get_node(conn, workload.node_id)
            workload.result = node_agent.deleted_result(workload, node, at)
        workload_store.save_workload(conn, workload)
        if was_active:
            pools.refresh(conn, workload.pool_id, at)
        if was_active and workload.workload_type == WorkloadType.NETWORK_RESOURCE:
            _tear_down_network(conn, workload, at, knobs)

    return handle


def _tear_down_network(conn: sqlite3.Connection, removed: Workload, at: float, knobs: Knobs) -> None:
    """Removing any resource of a network from a node removes that network from the node (GRID_API §11).

    Every other version of it stops being applied (listed as before, but the node runs none of them, so the IP
    check finds no network and their ports are free) until a newer version is deployed; every container and VM
    in it loses its network: its result turns to Error and the node removes it, like any failed workload.
    """
    assert removed.network_name is not None
    message = f"network {removed.network_name} was removed from node {removed.node_id}"
    node = directory_store.get_node(conn, removed.node_id)
    for workload in workload_store.running_in_network(conn, removed.node_id, removed.customer_tid,
                                                      removed.network_name):  # fmt: skip
        if workload.next_action != NextAction.DEPLOY:
            continue  # already being removed (its pool ran dry, its owner deleted it): it reports Deleted
        workload.stop(at)
        if workload.workload_type != WorkloadType.NETWORK_RESOURCE:
            workload.result = node_agent.error_result(workload, node, at, message)
            request_deletion(workload, at, knobs)
        workload_store.save_workload(conn, workload)
        pools.refresh(conn, workload.pool_id, at)
    log.info("network torn down on a node", network=removed.network_name, node=removed.node_id, at=int(at))


def _pool_ran_dry(pool_id: int) -> Handler:
    """A pool reached empty_at: every workload it still runs is deleted (§10.3)."""

    def handle(conn: sqlite3.Connection, at: float, knobs: Knobs) -> None:
        pools.refresh(conn, pool_id, at)
        for workload in workload_store.active_in_pool(conn, pool_id):
            if workload.next_action == NextAction.DEPLOY:
                request_deletion(workload, at, knobs)
                workload_store.save_workload(conn, workload)
        log.info("pool ran empty", pool_id=pool_id, at=int(at))

    return handle
