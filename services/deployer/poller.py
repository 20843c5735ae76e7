"""One poller per tick (DESIGN "Deployment lifecycle" 7): the deployer's only regular look at the grid.

Beat sends ``deployer.poll_grid`` every ``DEPLOY_POLL_INTERVAL``. A tick takes a snapshot of what our index waits
for (rows ``sent`` awaiting their result, rows ``deleting`` awaiting their removal), then lists our workloads on the
grid once (``next_action`` DEPLOY, and DELETE when something is being deleted), and compares:

- a ``sent`` workload listed with an Ok result is recorded ``deployed`` here (the listing carries results), and its
  solution woken; one that left the DEPLOY list (failed on its node, removed) wakes its solution, whose pass reads
  it once to learn why; one past its own deadline wakes its solution too;
- a ``deleting`` workload in neither list was removed by its node: recorded ``deleted``, its solution woken;
- a network resource wakes, besides its owner, every deployment of its network waiting for its network (stage -1).

What the listing shows is recorded in one transaction per tick. A solution whose last stage the tick saw deployed
is finished by the tick itself (``finishing.finish_deployed``, one more transaction for all of them) rather than
woken: its pass would only load it to write the same thing.

Then, from the database alone, it wakes the solutions past their deadline and those in flight that are waiting on
nothing the listing watches (planning that waits for a dependency, a teardown retrying, a wake that was lost):
each is woken after one idle tick, then at most every few ticks while it stays idle. So the explorer
calls of a tick are one listing (two while deletions are pending), whatever the number of deployments in flight,
and a lost message costs a few ticks, never a stuck solution.

The snapshot is taken *before* the listing: the listing sees every workload that is live from its start to its end
(``GridClient.live_workloads``), so a snapshot row missing from it really left; a row sent after the snapshot is
judged by the next tick.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from redis.exceptions import RedisError

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import finishing, metrics, store, watch_store
from services.deployer.context import Deployer
from services.deployer.grid.kinds import Kind, NextAction, ResultState

log = structlog.get_logger(__name__)
POLLER_LOCK = 0x706F6C  # advisory lock namespace "pol": one tick at a time, whatever beat or the workers do
SWEEP_TICKS = 5  # a solution found idle is woken at most once per this many ticks


def poll_grid(dep: Deployer) -> dict[str, int]:
    """One tick; returns counters (listed, deployed, deleted, changed, woken; busy when another tick runs)."""
    with dep.db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as lock_cur:
            lock_cur.execute("SELECT pg_try_advisory_lock(%s, 0)", (POLLER_LOCK,))
            if not lock_cur.fetchone()[0]:
                return {"busy": 1}  # a slow tick is still running; this one would only repeat it
            try:
                return _tick(dep)
            finally:
                lock_cur.execute("SELECT pg_advisory_unlock(%s, 0)", (POLLER_LOCK,))
                conn.autocommit = False


def _tick(dep: Deployer) -> dict[str, int]:
    counts = {"listed": 0, "deployed": 0, "deleted": 0, "changed": 0, "finished": 0, "woken": 0}
    started = time.monotonic()
    with dep.db.transaction() as cur:
        watched = watch_store.watched_workloads(cur)
    wake: set[str] = set()
    listed_in = 0.0
    if watched:
        try:
            live = {int(w["id"]): w for w in dep.grid.live_workloads()}
            listed_in = time.monotonic() - started
            leaving: set[int] = set()
            if any(r["state"] == "deleting" for r in watched):
                leaving = {int(w["id"]) for w in dep.grid.live_workloads(next_action=NextAction.DELETE)}
        except (ExplorerUnavailable, ExplorerRejected) as exc:
            # Nothing is judged on a partial listing; deadlines and idle solutions below still get their pass.
            log.warning("poller cannot list the grid", reason=str(exc))
        else:
            counts["listed"] = len(live)
            wake |= _compare(dep, watched, live, leaving, counts)
            finished = finishing.finish_deployed(dep, wake) if counts["deployed"] else set()
            counts["finished"] = len(finished)
            wake -= finished
    with dep.db.transaction() as cur:
        swept = set(watch_store.solutions_to_wake(cur, dep.settings.deploy_poll_interval)) - wake
    # A swept solution is woken again only after a few ticks: a pass that keeps waiting (a dependency down) must
    # not be queued once per tick faster than the workers take the messages. Changes always wake at once.
    wake |= {solution_id for solution_id in swept if _first_sweep(dep, solution_id)}
    for solution_id in sorted(wake):
        dep.wake(solution_id)
    counts["woken"] = len(wake)
    metrics.tick(time.monotonic() - started)
    if counts["deployed"] or counts["deleted"] or counts["changed"]:
        log.info("grid polled", **counts, seconds=round(time.monotonic() - started, 3), listing=round(listed_in, 3))
    return counts


def sweep_key(solution_id: str) -> str:
    """The Redis key that marks a solution as woken by a sweep a moment ago."""
    return f"deployer:swept:{solution_id}"


def _first_sweep(dep: Deployer, solution_id: str) -> bool:
    ttl = max(1, round(SWEEP_TICKS * dep.settings.deploy_poll_interval))
    try:
        return bool(dep.redis.set(sweep_key(solution_id), "1", nx=True, ex=ttl))
    except RedisError:
        return True  # waking too often costs a pass; not waking could cost a solution


def _compare(dep: Deployer, watched: list[dict[str, Any]], live: dict[int, dict[str, Any]], leaving: set[int],
             counts: dict[str, int]) -> set[str]:  # fmt: skip
    """Record what the listing shows (one transaction: every result and removal of the tick); returns the
    solutions to wake."""
    changed: list[dict[str, Any]] = []
    settle: list[tuple[dict[str, Any], str, str, dict[str, Any] | None]] = []
    now = time.time()
    for row in watched:
        grid_id = int(row["grid_id"])
        if row["state"] == "deleting":
            if grid_id not in live and grid_id not in leaving:
                settle.append((row, "deleting", "deleted", None))
            continue
        workload = live.get(grid_id)
        result = (workload or {}).get("result") or {}
        if workload is not None and result.get("workload_id") and result.get("state") == ResultState.OK:
            data = result.get("data_json") or {}
            settle.append((row, "sent", "deployed", data if isinstance(data, dict) else {}))
        elif workload is None or result.get("workload_id"):
            counts["changed"] += 1  # failed on its node or removed: its pass reads it once and says why
            changed.append(row)
        elif row["deadline"] is not None and row["deadline"].timestamp() < now:
            changed.append(row)  # its pass fails it
    if not changed and not settle:
        return set()
    with dep.db.transaction() as cur:
        for row, expected, new, data in settle:
            changed.append(row)
            if not watch_store.settle_workload(cur, row["id"], expected, new, result=data):
                continue  # its pass got there first
            counts[new] += 1
            if new == "deployed" and row["solution_id"] is not None:
                assert data is not None
                store.add_event(cur, str(row["solution_id"]), f"{_label(row)} deployed{_detail(data)}")
        nets = {int(r["network_id"]) for r in changed if r["kind"] == Kind.NETWORK_RESOURCE.value and r["network_id"]}
        waiting = watch_store.waiting_for_networks(cur, nets)
    return {str(r["solution_id"]) for r in changed if r["solution_id"] is not None} | set(waiting)


def _label(row: dict[str, Any]) -> str:
    kind = str(row["kind"]).replace("_", " ")
    return kind if not row.get("key") or row["key"] == row["kind"] else f"{kind} {row['key']}"


def _detail(data: dict[str, Any]) -> str:
    ip = data.get("ipv4") or data.get("ip")  # containers report "ipv4", Kubernetes VMs "ip"
    return f", IP {ip}" if ip else ""
