"""The end of a deployment: its last stage deployed, the outputs written, ``deploying`` → ``deployed``.

A pass finishes its solution in the transaction that records the last results it saw (``lifecycle._drive``). When
the grid is slower than a look, it is the poller's listing that records them (``poller.py``); the poller then
finishes, in one transaction per tick, every solution whose last stage it saw deployed (:func:`finish_deployed`)
instead of waking a pass for each: with hundreds in flight, finishing passes queued behind a few workers took
seconds each, a tick's batch takes milliseconds. The batch takes each solution's lock (the one a pass holds,
``passes.SOLUTION_LOCK``) for its transaction, skips the solutions whose lock is taken (their pass is running, or
is woken as before), and writes nothing but compare-and-sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.deployer import metrics, networks, states, store, wireguard
from services.deployer.context import Deployer
from services.deployer.grid.kinds import Kind
from services.deployer.observe import past
from services.deployer.passes import SOLUTION_LOCK
from services.deployer.solutions import PLANNERS, images
from services.deployer.solutions.base import Deployed, Marketplace, Placed, PlacedGateway, PlanContext, WorkloadView
from services.deployer.solutions.handout import handout

log = structlog.get_logger(__name__)
INITIALISING = "initialising"  # readiness.INITIALISING (readiness imports this module)


def marketplace(dep: Deployer) -> Marketplace:
    """The marketplace facts planners may use (SOLUTIONS §1.9: tunnel secrets, TEST_CERT; §2: images)."""
    settings = dep.settings
    flists = {"gitea": settings.flist_gitea, "gollum": settings.flist_gollum, "tls_proxy": settings.flist_tls_proxy,
              **images.registry(settings)}  # fmt: skip
    return Marketplace(tid=dep.tid, test_cert=settings.test_cert, flists=flists,
                       threebot_login_url=settings.threebot_login_url,
                       openkyc_url=settings.openkyc_url,
                       threebot_entrypoint=settings.threebot_entrypoint)  # fmt: skip


def context(sol: dict[str, Any], rows: list[dict[str, Any]], planner: Any, spec: Any,
            facts: Marketplace | None = None) -> PlanContext:  # fmt: skip
    """What a planner builds a stage from: the placements and the deployed workloads with their results."""
    placed = {role: Placed(**value) for role, value in sol["placed"].items()}
    deployed = {
        w["key"]: Deployed(w["key"], int(w["grid_id"]), w["node_id"], w["result"] or {})
        for w in rows
        if w["state"] == "deployed" and w["key"]
    }
    short = planner.network_of(spec)
    network = networks.grid_name(sol["owner"], short) if short else None
    return PlanContext(
        owner=sol["owner"], network=network, placed=placed, deployed=deployed, marketplace=facts or Marketplace()
    )


def views(sol: dict[str, Any], rows: list[dict[str, Any]]) -> list[WorkloadView]:
    placed = sol["placed"] or {}
    out = []
    for w in rows:
        body = w["body"] or {}
        fields = {k: v for k, v in body.items() if k not in ("customer_signature", "metadata")}
        pool = placed.get(w["role"], {}).get("grid_pool_id", w["pool_id"]) if w["role"] else w["pool_id"]
        gateway = placed.get(w["role"], {}).get("gateway") if w["role"] else None
        out.append(WorkloadView(key=w["key"] or f"nr-{w['id']}", kind=Kind(w["kind"]), role=w["role"] or "",
                                node_id=w["node_id"], grid_pool_id=int(pool), grid_id=w["grid_id"],
                                state=w["state"], fields=fields, data=w["result"] or {},
                                gateway=PlacedGateway(**gateway) if gateway else None))  # fmt: skip
    return out


def last_stage(dep: Deployer, sol: dict[str, Any], workloads: list[dict[str, Any]], planner: Any, spec: Any,
               stage: int) -> bool:  # fmt: skip
    """True when ``stage`` is the solution's last (its planner builds nothing after it, given these workloads)."""
    return planner.build(spec, context(sol, workloads, planner, spec, marketplace(dep)), stage + 1) is None


@dataclass(frozen=True)
class Ending:
    """What the end of a deployment writes: the outputs the user reads, and further columns (a file to hand out)."""

    outputs: dict[str, Any]
    values: dict[str, Any]


def ending(dep: Deployer, sol: dict[str, Any], rows: list[dict[str, Any]], planner: Any, spec: Any) -> Ending:
    """The outputs (no secret in them), and the file made of the results that the owner downloads once (a 4to6
    tunnel's WireGuard config), encrypted to ourselves."""
    workloads = views(sol, rows)
    outputs = dict(planner.outputs(spec, workloads))
    if getattr(planner, "ready_fqdn", None) is not None:  # a hosted 3Bot: up once its /admin answers (readiness)
        outputs["Status"] = INITIALISING
    values: dict[str, Any] = {}
    files = handout(planner)
    secrets = dep.identity.decrypt_secrets(sol["secrets"]) if files.hands_out_file and sol["secrets"] else {}
    built = files.build_file(spec, workloads, secrets)
    if built is not None:
        config, workload_id = built
        values["secret_outputs"] = dep.identity.encrypt_secrets({"wireguard": config})
        outputs["WireGuard config"] = wireguard.instructions(f"wg-{workload_id}.conf")
    return Ending(outputs, values)


def complete(cur: Any, sol: dict[str, Any], end: Ending) -> bool:
    """``deploying`` → ``deployed`` with what ``end`` holds (compare-and-set, in the caller's transaction; ``sol``
    is updated); False when the status had moved (nothing written)."""
    outputs = dict(end.outputs)
    if sol["secret_outputs"]:  # the file the owner downloads once (a POST), and what to do with it
        outputs["WireGuard config"] = wireguard.instructions(wireguard.file_name(cur, sol))
    if not store.set_status(cur, str(sol["id"]), states.DEPLOYED, expected=states.DEPLOYING, outputs=outputs,
                            finished_at=datetime.now(UTC), **end.values):  # fmt: skip
        return False
    store.add_event(cur, str(sol["id"]), "deployed")
    metrics.deployed(sol)
    if outputs.get("Status") == INITIALISING:
        store.add_event(cur, str(sol["id"]), "initialising: waiting for its /admin to answer")
    sol["status"] = states.DEPLOYED
    return True


def finish_deployed(dep: Deployer, solution_ids: Iterable[str]) -> set[str]:
    """Finish, in one transaction, those of ``solution_ids`` whose last stage is deployed; returns their ids.

    The others (a stage still on its way, a next stage to send, a network stage, a deadline passed, a pass holding
    the lock, a planner that raises) are left to their pass.
    """
    wanted = sorted(set(solution_ids))
    if not wanted:
        return set()
    finished: set[str] = set()
    with dep.db.transaction() as cur:
        # Transaction-level locks: released by the commit; taken only if no pass holds the solution.
        mine = store.try_lock_each(cur, SOLUTION_LOCK, wanted)
        sols = [s for s in store.solutions_by_ids(cur, mine) if s["status"] == states.DEPLOYING and s["stage"] >= 0
                and not past(s["deadline"])]  # fmt: skip
        rows = store.workloads_by_solution(cur, [str(s["id"]) for s in sols])
        for sol in sols:
            if _finish_one(dep, cur, sol, rows.get(str(sol["id"]), [])):
                finished.add(str(sol["id"]))
    for solution_id in sorted(finished):
        log.info("solution deployed", solution=solution_id, by="poller")
    return finished


def _finish_one(dep: Deployer, cur: Any, sol: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    planner = PLANNERS[sol["type"]]
    workloads = [w for w in rows if w["kind"] != Kind.NETWORK_RESOURCE.value]
    current = [w for w in workloads if w["stage"] == sol["stage"]]
    if not current or any(w["state"] != "deployed" for w in current):
        return False
    try:
        spec = planner.spec_model.model_validate(sol["spec"])
        if not last_stage(dep, sol, workloads, planner, spec, sol["stage"]):
            return False
        end = ending(dep, sol, rows, planner, spec)
    except Exception:  # its pass meets the same error and fails the deployment with the reason
        log.warning("left to its pass: its planner raised", solution=str(sol["id"]), exc_info=True)
        return False
    return complete(cur, sol, end)
