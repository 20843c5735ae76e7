"""Drive one solution through its lifecycle (DESIGN "Deployment lifecycle"), one pass at a time.

``advance`` is idempotent: it loads the solution and its workloads once and does only what is missing — plan,
record and send the next stage, look at what was sent, roll back or cancel — committing one transaction per
transition, each a compare-and-set against ``states.py``. It never sleeps: when it has to wait for the grid it
ends, and the grid poller (``poller.py``, one listing per beat tick) wakes it when its workloads change, its
deadline passes or it has been idle; ``wakeups.py`` keeps a wake that finds the lock taken. At most one pass runs
per solution (a PostgreSQL advisory lock on a dedicated connection, released at once if the worker dies).

The pass's loaded state and its failure step are in ``passes.py``; looking at a sent workload and writing down
what the grid says in ``observe.py``; stage -1 (the network) in ``network_stage.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import structlog

from services.common.db import Cursor, DatabaseUnavailable
from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.common.identity import IdentityError
from services.deployer import finishing, network_stage, networks, observe, planning, states, store, teardown, wakeups
from services.deployer.context import Deployer, Moved, PlanningFailed, Transient
from services.deployer.passes import SOLUTION_LOCK, Pass, add_recorded, fail, record, secrets_of, teardown_seconds
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.base import PlanContext

log = structlog.get_logger(__name__)
MAX_STEPS = 64


MAX_RUNS = 8  # passes one message may run for wake requests before it hands over to a fresh message


def advance(dep: Deployer, solution_id: str, wake_token: str | None = None) -> str:
    """One pass over a solution, and another while wakes arrived during it; returns what happened (logs, tests).

    A wake that finds the lock taken is never dropped (``wakeups``): it leaves a wake request, tries the lock once
    more (the holder may have released it and looked for requests in between), and only then answers "busy"; the
    holder looks for a request after releasing the lock and runs again. A request overrides ``wake_token``.
    """
    outcome = "busy"
    with dep.db.connection() as conn:
        try:
            for _ in range(MAX_RUNS):
                loaded = _lock_and_load(dep, conn, solution_id)
                if loaded is None:
                    wakeups.request(dep, solution_id)
                    loaded = _lock_and_load(dep, conn, solution_id)
                    if loaded is None:
                        return outcome  # the holder runs again after it releases the lock
                try:
                    woken, p = loaded
                    outcome = _advance_locked(p, solution_id, None if woken else wake_token)
                finally:
                    _release(conn, solution_id, locked=True)
                wake_token = None
                if outcome == "unknown" or not wakeups.pending(dep, solution_id):
                    return outcome
            dep.wake(solution_id)  # still asked for: a fresh message, with a fresh time limit
            return outcome
        finally:
            if not conn.closed:
                conn.rollback()


def _lock_and_load(dep: Deployer, conn: Any, solution_id: str) -> tuple[bool, Pass | None] | None:
    """The solution's lock and the pass's one load, in one transaction on the lock's connection (a session lock
    outlives the transaction that took it); None when another pass holds the lock. Returns whether a wake request
    was taken — before the load: this pass sees what the wake is about — and the pass (None: no such solution).

    The load is the solution and its workloads, carried through every step and kept up to date by the pass's own
    writes (each a compare-and-set: a writer that got there first makes the pass stop), and what planning reads
    besides when the solution is still to be planned (``planning.known``).
    """
    locked = False
    try:
        with conn.cursor(cursor_factory=Cursor) as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS ok", (SOLUTION_LOCK, solution_id))
            locked = bool(cur.fetchone()["ok"])
            if not locked:
                conn.commit()
                return None
            woken = wakeups.take(dep, solution_id)
            sol = store.solution(cur, solution_id)
            p = None
            if sol is not None:
                p = Pass(dep, sol, store.workloads_of(cur, solution_id))
                if sol["status"] in (states.SUBMITTED, states.PLANNING):
                    p.known = planning.known(cur, solution_id)
        conn.commit()
    except BaseException as exc:
        _release(conn, solution_id, locked)
        if isinstance(exc, psycopg2.OperationalError):
            raise DatabaseUnavailable(str(exc).splitlines()[0]) from None
        raise
    return woken, p


def _release(conn: Any, solution_id: str, locked: bool) -> None:
    """End what is open on the lock's connection and let the lock go (one autocommit statement)."""
    if conn.closed:
        return  # the session and its lock went with it
    conn.rollback()
    if locked:
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (SOLUTION_LOCK, solution_id))
        finally:
            conn.autocommit = False


def _advance_locked(p: Pass | None, solution_id: str, wake_token: str | None) -> str:
    if p is None:
        return "unknown"
    if wake_token is not None and str(p.sol["wake_token"]) != wake_token:
        return "stale"
    outcome = "waiting"
    try:
        for _ in range(MAX_STEPS):
            outcome = _step(p)
            if outcome != "progress":
                break
    except Moved:
        outcome = "progress"  # the next pass loads the new state
    except (Transient, ExplorerUnavailable) as exc:
        # The grid not answering is transient wherever it happens (``dep.tid``, an adoption lookup, a send).
        log.warning("dependency unavailable; will retry", solution=solution_id, reason=str(exc))
        outcome = _unavailable(p, str(exc))
    except Exception as exc:  # noqa: BLE001 — anything but Transient ends the deployment, never a crash loop
        outcome = _crashed(p, exc)
    wakeups.after_pass(p.dep, solution_id, outcome)
    return outcome


def _unavailable(p: Pass, reason: str) -> str:
    """A dependency did not answer: wait — unless the deadline passed, then the deployment fails."""
    status = p.sol["status"]
    if status in states.DEPLOYING_STATES and observe.past(p.sol["deadline"]):
        with p.dep.db.transaction() as cur:
            teardown.fail(cur, p.sol, f"the deployment could not go on: {reason}",
                          teardown_seconds=teardown_seconds(p.dep))  # fmt: skip
        return "progress"
    if status == states.SUBMITTED:
        # Visible only when planning has to wait (it is otherwise one transaction with "deploying").
        with p.dep.db.transaction() as cur:
            if store.set_status(cur, p.id, states.PLANNING, expected=states.SUBMITTED):
                store.add_event(cur, p.id, f"planning: waiting, {reason}", level="warning")
    return "waiting"


def _crashed(p: Pass, exc: Exception) -> str:
    """Anything but ``Transient`` (a result the code cannot read, a render error, undecryptable secrets…): the
    deployment fails with a sentence naming it and rolls back; a teardown that keeps failing ends at its deadline.
    Never a pass that raises again and again."""
    log.exception("a pass failed on an unexpected error", solution=p.id, status=p.sol["status"])
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    status = p.sol["status"]
    try:
        if status in states.DEPLOYING_STATES:
            with p.dep.db.transaction() as cur:
                teardown.fail(cur, p.sol, f"the deployment stopped on an unexpected error ({what})",
                              teardown_seconds=teardown_seconds(p.dep))  # fmt: skip
            return "progress"
        if status in states.TEARING_DOWN and observe.past(p.sol["deadline"]):
            return teardown.abandon(p.dep, p.sol, f"the removal stopped on an unexpected error ({what})")
    except Exception:
        log.exception("could not record the failure", solution=p.id)
    return "waiting"


def _step(p: Pass) -> str:
    """Do the next thing; "progress" (call again), "waiting" (re-check later) or "done"."""
    status = p.sol["status"]
    if status in states.SOLUTION_SETTLED:
        return "done"
    if status in states.TEARING_DOWN:
        return teardown.step(p.dep, p.sol, p.rows)
    if observe.past(p.sol["deadline"]):
        # The deadline holds in every state on the way up, waiting on the grid included.
        if status == states.DEPLOYING:
            return fail(p, f"the deployment was not ready in time ({_waiting_for(p)})")
        return fail(p, "the deployment could not be planned in time")
    planner = PLANNERS[p.sol["type"]]
    spec = planner.spec_model.model_validate(p.sol["spec"])
    if status in (states.SUBMITTED, states.PLANNING):
        secrets = secrets_of(p.dep, p.sol)  # undecryptable: the deployment fails (not a wait, as planning's would)
        try:
            # p.sol is updated to what it committed, p.rows to the first stage's rows when they were recorded too.
            planned = planning.plan(p, planner, spec, secrets)
        except PlanningFailed as exc:
            return fail(p, str(exc))
        except (ExplorerUnavailable, IdentityError) as exc:
            raise Transient(str(exc)) from None
        if not planned:
            raise Moved(p.id)
        return "progress"
    return _deploy_step(p, planner, spec)


def _waiting_for(p: Pass) -> str:
    if p.sol["stage"] < 0:
        return "its network was not deployed on every node it needs"
    pending = [w for w in p.workloads(p.sol["stage"]) if w["state"] != "deployed"]
    return ", ".join(f"{observe.label(w)} on node {w['node_id']}" for w in pending) + " not deployed" if pending \
        else "no answer from the grid"  # fmt: skip


def _deploy_step(p: Pass, planner: Any, spec: Any) -> str:
    stage = p.sol["stage"]
    if stage < 0:
        return network_stage.step(p)
    current = p.workloads(stage)
    if not current:
        ctx = finishing.context(p.sol, p.workloads(), planner, spec, finishing.marketplace(p.dep))
        plans = planner.build(spec, ctx, stage)
        if plans is None:
            return _finish(p, planner, spec)
        if not plans:
            with p.dep.db.transaction() as cur:
                store.update_solution(cur, p.id, stage=stage + 1)
            p.sol["stage"] = stage + 1
            return "progress"
        _record(p, ctx, plans, stage)
        return "progress"
    return _drive(p, planner, spec, current, stage)


def _record(p: Pass, ctx: PlanContext, plans: list[Any], stage: int) -> None:
    """Record every workload of the stage before any is sent, in one transaction (``passes.record``)."""
    secrets = secrets_of(p.dep, p.sol)
    with p.dep.db.transaction() as cur:
        recorded = record(cur, p.dep, p.sol, ctx.placed, plans, stage, secrets)
    add_recorded(p, recorded)


def _drive(p: Pass, planner: Any, spec: Any, current: list[dict[str, Any]], stage: int) -> str:
    """Send what is recorded, look at what is sent, and commit what the pass learnt in one transaction: the grid ids
    of the sends, the results seen, and then the next stage, the deployment's end (no next stage) or its failure.

    Sending every workload of the stage before looking at any lets them deploy in parallel; looking right after
    sending catches a fast grid without waiting for the poller. The grid ids are committed after the look (a crash
    in between leaves the rows recorded and marked attempted: the next pass finds them on the grid by their
    metadata, as after a crash right after a POST), and on their own when a send or a look meets no answer.
    """
    dep = p.dep
    sent: list[tuple[dict[str, Any], int]] = []
    refused: tuple[dict[str, Any], ExplorerRejected] | None = None
    unavailable: ExplorerUnavailable | Transient | None = None
    for row in current:
        if row["state"] != "recorded":
            continue
        try:
            sent.append((row, networks.post_row(dep, row, fresh=row["id"] in p.fresh)))
        except ExplorerRejected as exc:
            refused = (row, exc)
            break
        except ExplorerUnavailable as exc:
            unavailable = exc
            break
    failed = [r for r in current if r["state"] == "failed"]
    if refused is not None or unavailable is not None or failed:
        moved = False
        with dep.db.transaction() as cur:
            _mark_sent(cur, p, sent)
            if refused is not None:
                row, rejection = refused
                if store.set_workload_state(cur, row["id"], "failed", expected="recorded", error=rejection.message):
                    row["state"] = "failed"
                reason = f"the grid refused the {row['key']} on node {row['node_id']}: {rejection.message}"
                moved = not teardown.fail(cur, p.sol, reason, teardown_seconds=teardown_seconds(dep))
            elif unavailable is None:
                reason = next(f"{observe.label(r)} on node {r['node_id']} failed: {r['error'] or 'no reason given'}"
                              for r in failed)  # fmt: skip
                moved = not teardown.fail(cur, p.sol, reason, teardown_seconds=teardown_seconds(dep))
        if moved:
            raise Moved(p.id)
        if unavailable is not None:
            raise Transient(str(unavailable))
        return "progress"
    for row, grid_id in sent:  # looked at as sent; written below, with what the look saw
        row.update(state="sent", grid_id=grid_id, deadline=_in(dep.settings.workload_deadline))
    try:
        changed = [(row, seen) for row in current if row["state"] == "sent" for seen in [observe.look(dep, row)]
                   if seen.state is not None]  # fmt: skip
    except Transient:
        with dep.db.transaction() as cur:
            _mark_sent(cur, p, sent)
        raise
    if not sent and not changed and not all(row["state"] == "deployed" for row in current):
        return "waiting"
    outcome, moved = "waiting", False
    with dep.db.transaction() as cur:
        _mark_sent(cur, p, sent)
        failure = None
        for row, seen in changed:
            observe.apply(cur, row, seen, p.sol)
            if row["state"] == "failed" and failure is None:
                failure = seen.failure or f"{observe.label(row)} on node {row['node_id']} failed: {row['error']}"
        if failure is not None:
            outcome, moved = "progress", not teardown.fail(cur, p.sol, failure, teardown_seconds=teardown_seconds(dep))
        elif all(row["state"] == "deployed" for row in current):
            outcome = _stage_done(cur, p, planner, spec, stage)
            moved = outcome == "moved"
    if moved:
        raise Moved(p.id)
    if outcome == "done":
        log.info("solution deployed", solution=p.id, type=p.sol["type"])
    return outcome


def _mark_sent(cur: Any, p: Pass, sent: list[tuple[dict[str, Any], int]]) -> None:
    """Write the grid ids of this pass's sends (compare-and-set from ``recorded``)."""
    for row, grid_id in sent:
        if store.mark_sent(cur, row["id"], grid_id, p.dep.settings.workload_deadline):
            row.update(state="sent", grid_id=grid_id)
            store.add_event(cur, p.id, f"{observe.label(row)} sent to node {row['node_id']} (workload {grid_id})")
        else:  # it left "recorded" meanwhile (a rollback, an adoption): go on with what is true
            actual = store.workload_row(cur, row["id"])
            if actual is not None:
                row.update(state=actual["state"], grid_id=actual["grid_id"], result=actual["result"])


def _stage_done(cur: Any, p: Pass, planner: Any, spec: Any, stage: int) -> str:
    """Every workload of ``stage`` is deployed (in the caller's transaction): the next stage, or the end —
    "progress", "done", or "moved" (the solution's status moved: nothing of this was written)."""
    if finishing.last_stage(p.dep, p.sol, p.workloads(), planner, spec, stage):
        end = finishing.ending(p.dep, p.sol, p.rows, planner, spec)
        return "done" if finishing.complete(cur, p.sol, end) else "moved"
    store.update_solution(cur, p.id, stage=stage + 1)
    store.extend_deadline(cur, p.id, p.dep.settings.workload_deadline + 60)
    p.sol.update(stage=stage + 1, deadline=_in(p.dep.settings.workload_deadline + 60))
    return "progress"


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _finish(p: Pass, planner: Any, spec: Any) -> str:
    end = finishing.ending(p.dep, p.sol, p.rows, planner, spec)
    with p.dep.db.transaction() as cur:
        if not finishing.complete(cur, p.sol, end):
            raise Moved(p.id)
    log.info("solution deployed", solution=p.id, type=p.sol["type"])
    return "done"
