"""Planning (DESIGN "Deployment lifecycle" step 2): pools checked, nodes chosen, network and IPs allocated.

Everything planning decides is written in one transaction together with the move to ``deploying``: a crash
before the commit leaves nothing behind; a crash after it leaves a plan the next pass simply carries on with.
When the solution needs no network stage, the same transaction records its first stage's workloads (rendered,
signed, marked attempted: ``passes.record``), so the pass sends them next without another write. Rendering needs
the node and the IP, so it runs under the pools' locks: 0.3 ms a container measured here (signing, sealing the
metadata), less than the commit of its own it replaces; what it needs from elsewhere — the secrets, the
marketplace's twin id — is read before the locks are taken.

What planning reads before its transaction — the node index's age, the pools the chatflow verified — the pass
read in its load (:func:`known`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.common.capacity import Resources
from services.deployer import finishing, gateways, network_store, networks, pool_capacity, states, store
from services.deployer.context import Deployer, Moved, PlanningFailed
from services.deployer.grid import node_store
from services.deployer.grid.node_finder import (
    NodeQuery,
    NoNodeFits,
    ensure_fresh,
    find_nodes,
    get_node,
    node_fits,
    reserve,
)
from services.deployer.network_ops import SolutionNetwork
from services.deployer.passes import Pass, add_recorded, record
from services.deployer.solutions.base import Marketplace, Placed, Placement, Planner, Spec, gateway_requests
from services.deployer.solutions.network_use import network_hooks

log = structlog.get_logger(__name__)

Verdicts = pool_capacity.PoolVerdicts


@dataclass(frozen=True)
class Known:
    """What planning reads before its transaction, read in the pass's load (one transaction less each)."""

    index_age: float | None  # seconds since the node index was refreshed (None: never)
    verified: dict[int, int]  # our pool id → grid pool id, as the chatflow verified them


def known(cur: Any, solution_id: str) -> Known:
    return Known(node_store.index_age(cur), pool_capacity.verified(cur, solution_id))


def _verdicts(dep: Deployer, sol: dict[str, Any], placements: list[Placement], known: Known) -> Verdicts:
    """The pools the placements may use, read from the grid before any lock is taken (pool_capacity.py); the
    plan locks them (:meth:`~pool_capacity.PoolVerdicts.lock`), charges each placement and holds the sum.

    A pool that is the user's comes with its node ids even when its remaining capacity falls short, so the node
    finder can first name what no node has; only when nodes fit is "too little capacity" the reason.

    Raises:
        Transient: the explorer cannot be read now.
    """
    return pool_capacity.read_pools(dep, str(sol["id"]), placements, known.verified, sol["owner"])


def _room(p: Placement, placements: list[Placement]) -> Resources:
    """What the node of ``p`` must have free: ``p`` and every placement that runs beside it (``colocate``), each
    of which reserves its own share when it is placed."""
    together = [p.resources, *(q.resources for q in placements if q.colocate == p.role)]
    return Resources(*(sum(getattr(r, unit) for r in together) for unit in ("cru", "mru", "sru", "hru")))


def _choose(dep: Deployer, cur: Any, p: Placement, room: Resources, verdicts: Verdicts, taken: list[str],
            holder: str) -> tuple[str, int]:  # fmt: skip
    """(node id, grid pool id) for one placement, trying its pool then its alternatives; the node has ``room``
    free (:func:`_room`), of which this placement reserves its own resources.

    Raises:
        PlanningFailed: no pool of the placement is usable, or no node of them fits (the reason says which).
    """
    reasons: list[str] = []
    for pool_id in (p.pool_id, *p.alternatives):
        verdict = verdicts[(pool_id, p.resources)]
        if verdict.grid_pool_id is None:
            reasons.append(f"pool {pool_id}: {verdict.reason}")
            continue
        label = f"pool {verdict.grid_pool_id}"  # users know pools by their grid id
        query = NodeQuery(resources=room, node_ids=verdict.node_ids, public_ipv4=p.public_ipv4,
                          public_ipv6=p.public_ipv6, exclude=tuple(taken), pool_label=label)  # fmt: skip
        over = dep.settings.over_provisioning
        if not verdict.ok:  # with what this plan already put in the pool: say what no node has, else that
            reasons.append(_node_problem(cur, p, query, over) or verdict.reason)
            continue
        try:
            node = _pick(cur, p, query, over, holder)
        except NoNodeFits as exc:
            reasons.append(str(exc))
            continue
        verdicts.charge(pool_id, p.resources)
        return node, verdict.grid_pool_id
    raise PlanningFailed("; ".join(reasons) if reasons else f"no usable pool for {p.role}")


def _node_problem(cur: Any, p: Placement, query: NodeQuery, over: bool) -> str | None:
    """What no node of the query has (nothing reserved), or None when a node fits."""
    try:
        if p.node_id is not None:
            node_fits(cur, p.node_id, query, over_provisioning=over)
        else:
            find_nodes(cur, query, 1, over_provisioning=over)
    except NoNodeFits as exc:
        return str(exc)
    return None


def _pick(cur: Any, p: Placement, query: NodeQuery, over: bool, holder: str) -> str:
    """The user's node if it fits, else a random fitting one; its capacity reserved in this transaction and held
    for ``holder`` (the solution) against lagging node reports.

    Raises:
        NoNodeFits: nothing fits (the message says what is missing).
    """
    if p.node_id is not None:
        try:
            node_fits(cur, p.node_id, query, over_provisioning=over)
            reserve(cur, p.node_id, p.resources, over_provisioning=over, holder=holder, room=query.resources)
        except NoNodeFits as exc:
            if not p.node_planned:
                raise
            # A node the wizard planned (not one the user chose) that concurrent deployments filled since.
            store.add_event(cur, holder, f"node {p.node_id} planned for {p.role} no longer fits ({exc}); "
                            "another node of the pool is used", level="warning")  # fmt: skip
            query = replace(query, exclude=(*query.exclude, p.node_id))
        else:
            return p.node_id
    for _ in range(3):
        node = find_nodes(cur, query, 1, over_provisioning=over)[0]
        try:
            # Re-checked under the node's row lock: a concurrent deployment may have taken its last space.
            reserve(cur, node.node_id, p.resources, over_provisioning=over, holder=holder, room=query.resources)
        except NoNodeFits:
            query = replace(query, exclude=(*query.exclude, node.node_id))
            continue
        return node.node_id
    raise NoNodeFits("the nodes that fit were all taken by concurrent deployments; try again")


def plan(p: Pass, planner: Planner, spec: Spec, secrets: Mapping[str, str]) -> bool:
    """Resolve every placement and move the solution to ``deploying``, recording the first stage when no network
    stage comes first; False when it is no longer ``planning``.

    ``p.sol`` (the solution as the pass loaded it, not read again before the locked read of the planning
    transaction) is updated in place to what was committed, and the rows recorded join ``p.rows``, so the pass
    carries on without a read. ``secrets``: the solution's, decrypted (for rendering).

    Raises:
        PlanningFailed: the user's choices cannot be honoured (pool, node, network, IP); nothing was kept.
        Transient: the pools service or the explorer is unavailable (try again later).
    """
    dep, solution_id, sol = p.dep, p.id, p.sol
    facts = p.known
    if facts is None:  # not read by the load (a solution it found in another state)
        with dep.db.transaction() as cur:
            facts = known(cur, solution_id)
    placements = planner.placements(spec)
    # Beat keeps the index fresh; this only matters right after a start, before beat's first refresh.
    max_age = max(3 * dep.settings.node_index_refresh, 600)
    if facts.index_age is None or facts.index_age > max_age:
        ensure_fresh(dep.db, dep.grid.explorer, max_age)
    verdicts = _verdicts(dep, sol, placements, facts)
    # Gateways: the grid, the CT log and the name servers are read now, the name is picked in the transaction.
    prepared = [gateways.prepare(dep, solution_id, r, sol["owner"]) for r in gateway_requests(planner, spec)]
    market = finishing.marketplace(dep)  # dep.tid read (once per worker) before any lock is taken
    with dep.db.transaction() as cur:
        planned = _write(dep, cur, p, planner, spec, placements, verdicts, prepared)
        if planned is None:
            return False
        recorded = _first_stage(dep, cur, p, planned, planner, spec, secrets, market) if planned["stage"] == 0 else []
    p.sol.update(planned)
    add_recorded(p, recorded)
    return True


def _write(dep: Deployer, cur: Any, pass_: Pass, planner: Planner, spec: Spec, placements: list[Placement],
           verdicts: Verdicts, prepared: list[gateways.Prepared]) -> dict[str, Any] | None:  # fmt: skip
    """The plan, written in the caller's transaction; the solution as it now is, or None when it is no longer
    ``submitted``/``planning`` (nothing written)."""
    solution_id = pass_.id
    sol = store.solution(cur, solution_id, lock=True)
    if sol is None or sol["status"] not in ("submitted", "planning"):
        return None
    store.add_event(cur, solution_id, "planning")
    verdicts.lock(cur)  # planners of the same pools take turns from here to the commit
    hooks = network_hooks(planner)
    ops = SolutionNetwork(dep, sol, cur)
    hooks.open_network(spec, planner.network_of(spec), placements, ops)  # creates or enters it, or none
    net = ops.net
    placed: dict[str, Placed] = {}
    for ready in prepared:
        gw = placed[ready.request.role] = gateways.place(dep, cur, solution_id, ready)
        assert gw.gateway is not None
        store.add_event(cur, solution_id, f"gateway {gw.node_id} chosen for {gw.gateway.domain} "
                                          f"(pool {gw.grid_pool_id})")  # fmt: skip
    taken: dict[str | None, list[str]] = defaultdict(list)
    changed = False
    for p in placements:
        if p.colocate is not None:  # on the node another placement got (e.g. a TLS proxy beside its app)
            p = replace(p, node_id=placed[p.colocate].node_id)
        node_id, grid_pool_id = _choose(
            dep, cur, p, _room(p, placements), verdicts, taken[p.group] if p.group else [], solution_id
        )
        if p.group:
            taken[p.group].append(node_id)
        ip = None
        if net is not None and hooks.joins(p):
            node = _node(cur, node_id)
            changed |= networks.attach_node(cur, net, node, grid_pool_id)
            if p.network:
                ip = networks.allocate_ip(cur, net, node_id, solution_id, p.ip)
        placed[p.role] = Placed(p.role, node_id, grid_pool_id, ip)
        store.add_event(cur, solution_id, f"node {node_id} chosen for {p.role} (pool {grid_pool_id})")
    values: dict[str, Any] = {}
    access = hooks.grant_access(spec, placed, ops)  # a laptop's WireGuard config, encrypted to ourselves
    if access is not None:
        values["secret_outputs"] = access
        changed = True
    if net is not None and changed:
        ops.record_rewrite()
        store.add_event(cur, solution_id, f"network {net['name'].split('_', 1)[-1]} updated")
    in_place = net is None or (not changed and _network_ready(cur, net["id"], hooks.network_nodes(placed)))
    stage = 0 if in_place else -1  # -1: the network stage first (the network's resources on the nodes it needs)
    verdicts.hold(cur)  # what this plan put in each pool, counted by the next planners until it deploys
    values.update(stage=stage, placed={k: asdict(v) for k, v in placed.items()},
                  network_id=net["id"] if net is not None else None)  # fmt: skip
    # Under the row lock taken above: the compare-and-set applies (the table allows submitted/planning →
    # deploying); were it refused, raising rolls every allocation of this transaction back.
    if not store.set_status(cur, solution_id, states.DEPLOYING, expected=sol["status"], **values):
        raise Moved(solution_id)
    store.extend_deadline(cur, solution_id, dep.settings.workload_deadline + 60)
    return {**sol, **values, "status": states.DEPLOYING,
            "deadline": datetime.now(UTC) + timedelta(seconds=dep.settings.workload_deadline + 60)}  # fmt: skip


def _first_stage(dep: Deployer, cur: Any, p: Pass, sol: dict[str, Any], planner: Planner, spec: Spec,
                 secrets: Mapping[str, str], market: Marketplace) -> list[dict[str, Any]]:  # fmt: skip
    """Stage 0's workloads recorded in the planning transaction (none when the planner builds none there)."""
    ctx = finishing.context(sol, p.workloads(), planner, spec, market)
    plans = planner.build(spec, ctx, 0)
    return record(cur, dep, sol, ctx.placed, plans, 0, secrets) if plans else []


def _node(cur: Any, node_id: str) -> Any:
    node = get_node(cur, node_id)
    if node is None:
        raise PlanningFailed(f"node {node_id} is not on the grid")
    return node


def _network_ready(cur: Any, network_id: int, needed: set[str]) -> bool:
    """True when every node the solution needs in the network already runs its current resource (no stage -1)."""
    latest = {r["node_id"]: r["state"] for r in network_store.latest_resources(cur, network_id)}
    return all(latest.get(node) == "deployed" for node in needed)
