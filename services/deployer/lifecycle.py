"""Drive one solution through its lifecycle (DESIGN "Deployment lifecycle"), one pass at a time.

``advance`` is idempotent: it re-reads the solution and its workloads and does only what is missing — plan, record
and send the next stage, poll what was sent, roll back or cancel. It never sleeps: when it has to wait for the
grid it stores a fresh *wake token* and schedules itself with a short countdown (far below the broker's
visibility timeout). A message carrying an older token is a duplicate and does nothing; messages without a token
(submit, cancel, the reconciler) always run. At most one pass runs per solution (a PostgreSQL advisory lock on a
dedicated connection, released at once if the worker dies).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import structlog

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.common.identity import IdentityError
from services.deployer import network_store, networks, planning, store, teardown, wakeups, wireguard
from services.deployer.context import Deployer, PlanningFailed, Transient
from services.deployer.grid.kinds import Kind, NextAction, ResultState
from services.deployer.grid.render import render
from services.deployer.planning import ACCESS_TYPES
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.base import Deployed, Placed, PlanContext, WorkloadView

log = structlog.get_logger(__name__)
SOLUTION_LOCK = 0x736F6C  # advisory lock namespace "sol"
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
        conn.autocommit = True
        try:
            with conn.cursor() as lock_cur:
                for _ in range(MAX_RUNS):
                    if not _try_lock(lock_cur, solution_id):
                        wakeups.request(dep, solution_id)
                        if not _try_lock(lock_cur, solution_id):
                            return outcome  # the holder runs again after it releases the lock
                    try:
                        if wakeups.take(dep, solution_id):
                            wake_token = None  # taken before the load: this pass sees what the wake is about
                        outcome = _advance_locked(dep, solution_id, wake_token)
                    finally:
                        lock_cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (SOLUTION_LOCK, solution_id))
                    wake_token = None
                    if outcome == "unknown" or not wakeups.pending(dep, solution_id):
                        return outcome
                dep.wake(solution_id)  # still asked for: a fresh message, with a fresh time limit
                return outcome
        finally:
            conn.autocommit = False


def _try_lock(lock_cur: Any, solution_id: str) -> bool:
    lock_cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (SOLUTION_LOCK, solution_id))
    return bool(lock_cur.fetchone()[0])


def _advance_locked(dep: Deployer, solution_id: str, wake_token: str | None) -> str:
    with dep.db.transaction() as cur:
        sol = store.solution(cur, solution_id)
    if sol is None:
        return "unknown"
    if wake_token is not None and str(sol["wake_token"]) != wake_token:
        return "stale"
    outcome = "waiting"
    try:
        for _ in range(MAX_STEPS):
            outcome = _step(dep, solution_id)
            if outcome != "progress":
                break
    except Transient as exc:
        log.warning("dependency unavailable; will retry", solution=solution_id, reason=str(exc))
        outcome = "waiting"
        with dep.db.transaction() as cur:
            sol = store.solution(cur, solution_id, lock=True)
            if sol and sol["status"] in ("submitted", "planning", "deploying") and _past(sol["deadline"]):
                teardown.fail(cur, sol, f"the deployment could not go on: {exc}")
                outcome = "progress"
            elif sol and sol["status"] == "submitted":
                # Visible only when planning has to wait (it is otherwise one transaction with "deploying").
                store.update_solution(cur, solution_id, status="planning")
                store.add_event(cur, solution_id, f"planning: waiting, {exc}", level="warning")
    wakeups.after_pass(dep, solution_id, outcome)
    return outcome


def _past(deadline: Any) -> bool:
    return deadline is not None and deadline.timestamp() < time.time()


def _step(dep: Deployer, solution_id: str) -> str:
    """Do the next thing; "progress" (call again), "waiting" (re-check later) or "done"."""
    with dep.db.transaction() as cur:
        sol = store.solution(cur, solution_id)
    assert sol is not None
    status = sol["status"]
    if status in ("deployed", "rolled_back", "cancelled"):
        return "done"
    if status in ("failed", "cancelling"):
        return teardown.step(dep, sol)
    planner = PLANNERS[sol["type"]]
    spec = planner.spec_model.model_validate(sol["spec"])
    if status in ("submitted", "planning") and _past(sol["deadline"]):
        return _fail(dep, sol, "the deployment could not be planned in time")
    if status in ("submitted", "planning"):
        try:
            planning.plan(dep, solution_id, planner, spec)
        except PlanningFailed as exc:
            return _fail(dep, sol, str(exc))
        except (ExplorerUnavailable, IdentityError) as exc:
            raise Transient(str(exc)) from None
        return "progress"
    return _deploy_step(dep, sol, planner, spec)


def _fail(dep: Deployer, sol: dict[str, Any], reason: str) -> str:
    with dep.db.transaction() as cur:
        fresh = store.solution(cur, str(sol["id"]), lock=True)
        if fresh is not None and fresh["status"] in ("submitted", "planning", "deploying"):
            teardown.fail(cur, fresh, reason)
    return "progress"


def _deploy_step(dep: Deployer, sol: dict[str, Any], planner: Any, spec: Any) -> str:
    solution_id = str(sol["id"])
    stage = sol["stage"]
    if stage < 0:
        return _network_step(dep, sol)
    with dep.db.transaction() as cur:
        rows = [w for w in store.workloads_of(cur, solution_id) if w["kind"] != Kind.NETWORK_RESOURCE.value]
    current = [w for w in rows if w["stage"] == stage]
    if not current:
        ctx = _context(sol, rows)
        plans = planner.build(spec, ctx, stage)
        if plans is None:
            return _finish(dep, sol, planner, spec, rows)
        if not plans:
            with dep.db.transaction() as cur:
                store.update_solution(cur, solution_id, stage=stage + 1)
            return "progress"
        _record(dep, sol, ctx, plans, stage)
        return "progress"
    return _drive(dep, sol, current, stage)


def _record(dep: Deployer, sol: dict[str, Any], ctx: PlanContext, plans: list[Any], stage: int) -> None:
    """Record every workload of the stage (rendered, signed, secrets sealed) before any is sent."""
    secrets = dep.identity.decrypt_secrets(sol["secrets"]) if sol["secrets"] else {}
    solution_id = str(sol["id"])
    with dep.db.transaction() as cur:
        for plan in plans:
            placed = ctx.placed[plan.role]
            row_id = store.record_workload(cur, solution_id=solution_id, key=plan.key, kind=plan.kind.value,
                                           role=plan.role, stage=stage, node_id=placed.node_id,
                                           pool_id=placed.grid_pool_id, body={},
                                           network_id=sol["network_id"])  # fmt: skip
            body = render(plan, placed, tid=dep.tid, identity=dep.identity,
                          metadata=networks.metadata(sol, row_id), secrets=secrets,
                          epoch=int(time.time()))  # fmt: skip
            store.set_body(cur, row_id, body)


def _drive(dep: Deployer, sol: dict[str, Any], current: list[dict[str, Any]], stage: int) -> str:
    """Send what is recorded, then poll what is sent; next stage when all are deployed, fail on any failure.

    Sending every workload of the stage before polling any lets them deploy in parallel; polling right after
    sending catches a fast grid without waiting for the next pass.
    """
    solution_id = str(sol["id"])
    for row in current:
        if row["state"] != "recorded":
            continue
        try:
            networks.send_row(dep, row, f"{_label(row)} sent to node {row['node_id']} (workload {{grid_id}})")
        except ExplorerRejected as exc:
            return _fail(dep, sol, f"the grid refused the {row['key']} on node {row['node_id']}: {exc.message}")
        except ExplorerUnavailable as exc:
            raise Transient(str(exc)) from None
    with dep.db.transaction() as cur:
        current = [w for w in store.workloads_of(cur, solution_id) if w["stage"] == stage
                   and w["kind"] != Kind.NETWORK_RESOURCE.value]  # fmt: skip
    for row in current:
        if row["state"] == "sent":
            failure = poll(dep, row, sol)
            if failure is not None:
                return _fail(dep, sol, failure)
    with dep.db.transaction() as cur:
        states = {w["state"] for w in store.workloads_of(cur, solution_id) if w["stage"] == stage
                  and w["kind"] != Kind.NETWORK_RESOURCE.value}  # fmt: skip
        if states == {"deployed"}:
            store.update_solution(cur, solution_id, stage=stage + 1)
            store.extend_deadline(cur, solution_id, dep.settings.workload_deadline + 60)
            return "progress"
    return "waiting"


def poll(dep: Deployer, row: dict[str, Any], sol: dict[str, Any]) -> str | None:
    """Look at one sent workload on the grid; returns the user-facing failure, if it failed or ran out of time."""
    try:
        workload = dep.grid.workload(int(row["grid_id"]))
    except ExplorerUnavailable as exc:
        raise Transient(str(exc)) from None
    except ExplorerRejected as exc:
        workload = {"next_action": NextAction.DELETED, "result": {"message": exc.message}}
    result = workload.get("result") or {}
    what = f"{_label(row)} (workload {row['grid_id']} on node {row['node_id']})"
    if result.get("workload_id") and result.get("state") == ResultState.OK:
        data = result.get("data_json") or {}
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "deployed", result=data if isinstance(data, dict) else {})
            if row["solution_id"] is not None and str(row["solution_id"]) == str(sol["id"]):
                store.add_event(cur, str(sol["id"]), f"{_label(row)} deployed{_detail(row, data)}")
        return None
    if result.get("workload_id") and result.get("state") == ResultState.ERROR:
        message = result.get("message") or "no reason given"
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "failed", error=message)
        return f"{what} failed on the node: {message}"
    if workload.get("next_action") in (NextAction.DELETE, NextAction.DELETED, NextAction.INVALID):
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "failed", error="removed from the grid")
        return f"{what} was removed from the grid before it was deployed"
    if _past(row["deadline"]):
        minutes = max(1, round(dep.settings.workload_deadline / 60))
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "failed", error="deadline")
        return f"{what} was not ready within {minutes} minute{'s' if minutes != 1 else ''}"
    return None


def _label(row: dict[str, Any]) -> str:
    kind = row["kind"].replace("_", " ")
    return kind if not row.get("key") or row["key"] == row["kind"] else f"{kind} {row['key']}"


def _detail(row: dict[str, Any], data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    ip = data.get("ipv4") or data.get("ip")  # containers report "ipv4", Kubernetes VMs "ip"
    return f", IP {ip}" if ip else ""


def _network_step(dep: Deployer, sol: dict[str, Any]) -> str:
    """Stage -1: the network resources this solution needs are sent and deployed."""
    solution_id = str(sol["id"])
    network_id = sol["network_id"]
    try:
        networks.flush(dep, network_id)
    except ExplorerRejected as exc:
        return _fail(dep, sol, f"the grid refused the network update: {exc.message}")
    except ExplorerUnavailable as exc:
        raise Transient(str(exc)) from None
    # The nodes that must be in the network: those with an IP in it (a network solution: all of its nodes).
    needed = {p["node_id"] for p in sol["placed"].values() if p["ip"] is not None or sol["type"] in ACCESS_TYPES}
    with dep.db.transaction() as cur:
        latest = network_store.latest_resources(cur, network_id)
    # Every node's newest version is looked at (a concurrent rewrite may have replaced versions others wait for);
    # only a failure on a node this solution needs fails it.
    for row in latest:
        if row["state"] == "sent":
            failure = poll(dep, row, sol)
            if failure is not None and row["node_id"] in needed:
                return _fail(dep, sol, failure)
    with dep.db.transaction() as cur:
        latest = [r for r in network_store.latest_resources(cur, network_id) if r["node_id"] in needed]
        if latest and all(r["state"] == "deployed" for r in latest) and len(latest) == len(needed):
            net = network_store.network(cur, network_id)
            store.add_event(cur, solution_id, f"network {net['name'].split('_', 1)[-1] if net else ''} deployed on "
                            f"node{'s' if len(needed) > 1 else ''} {', '.join(sorted(needed))}")  # fmt: skip
            store.update_solution(cur, solution_id, stage=0)
            return "progress"
    return "waiting"


def _context(sol: dict[str, Any], rows: list[dict[str, Any]]) -> PlanContext:
    placed = {role: Placed(**value) for role, value in sol["placed"].items()}
    deployed = {
        w["key"]: Deployed(w["key"], int(w["grid_id"]), w["node_id"], w["result"] or {})
        for w in rows
        if w["state"] == "deployed" and w["key"]
    }
    planner = PLANNERS[sol["type"]]
    short = planner.network_of(planner.spec_model.model_validate(sol["spec"]))
    network = networks.grid_name(sol["owner"], short) if short else None
    return PlanContext(owner=sol["owner"], network=network, placed=placed, deployed=deployed)


def views(sol: dict[str, Any], rows: list[dict[str, Any]]) -> list[WorkloadView]:
    placed = sol["placed"] or {}
    out = []
    for w in rows:
        body = w["body"] or {}
        fields = {k: v for k, v in body.items() if k not in ("customer_signature", "metadata")}
        pool = placed.get(w["role"], {}).get("grid_pool_id", w["pool_id"]) if w["role"] else w["pool_id"]
        out.append(WorkloadView(key=w["key"] or f"nr-{w['id']}", kind=Kind(w["kind"]), role=w["role"] or "",
                                node_id=w["node_id"], grid_pool_id=int(pool), grid_id=w["grid_id"],
                                state=w["state"], fields=fields, data=w["result"] or {}))  # fmt: skip
    return out


def _finish(dep: Deployer, sol: dict[str, Any], planner: Any, spec: Any, rows: list[dict[str, Any]]) -> str:
    solution_id = str(sol["id"])
    with dep.db.transaction() as cur:
        all_rows = store.workloads_of(cur, solution_id)
        outputs = planner.outputs(spec, views(sol, all_rows))
        if sol["secret_outputs"]:  # the file the owner downloads once (a POST), and what to do with it
            outputs["WireGuard config"] = wireguard.instructions(wireguard.file_name(cur, sol))
        fresh = store.solution(cur, solution_id, lock=True)
        if fresh is None or fresh["status"] != "deploying":
            return "progress"
        store.update_solution(cur, solution_id, status="deployed", outputs=outputs, finished_at=datetime.now(UTC))
        store.add_event(cur, solution_id, "deployed")
    log.info("solution deployed", solution=solution_id, type=sol["type"])
    return "done"
