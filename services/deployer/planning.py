"""Planning (DESIGN "Deployment lifecycle" step 2): pools checked, nodes chosen, network and IPs allocated.

Everything planning decides is written in one transaction together with the move to ``deploying``: a crash
before the commit leaves nothing behind; a crash after it leaves a plan the next pass simply carries on with.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.deployer import gateways, network_store, networks, pool_capacity, states, store
from services.deployer.context import Deployer, Moved, PlanningFailed
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
from services.deployer.solutions.base import Placed, Placement, Planner, Spec, gateway_requests
from services.deployer.solutions.network_use import network_hooks

log = structlog.get_logger(__name__)

Verdicts = pool_capacity.PoolVerdicts


def _verdicts(dep: Deployer, solution_id: str, placements: list[Placement]) -> Verdicts:
    """The pools the placements may use, read from the grid before any lock is taken (pool_capacity.py); the
    plan locks them (:meth:`~pool_capacity.PoolVerdicts.lock`), charges each placement and holds the sum.

    A pool that is the user's comes with its node ids even when its remaining capacity falls short, so the node
    finder can first name what no node has; only when nodes fit is "too little capacity" the reason.

    Raises:
        Transient: the explorer cannot be read now.
    """
    return pool_capacity.read_pools(dep, solution_id, placements)


def _choose(dep: Deployer, cur: Any, p: Placement, verdicts: Verdicts, taken: list[str],
            holder: str) -> tuple[str, int]:  # fmt: skip
    """(node id, grid pool id) for one placement, trying its pool then its alternatives.

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
        query = NodeQuery(resources=p.resources, node_ids=verdict.node_ids, public_ipv4=p.public_ipv4,
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
        node_fits(cur, p.node_id, query, over_provisioning=over)
        reserve(cur, p.node_id, p.resources, over_provisioning=over, holder=holder)
        return p.node_id
    for _ in range(3):
        node = find_nodes(cur, query, 1, over_provisioning=over)[0]
        try:
            # Re-checked under the node's row lock: a concurrent deployment may have taken its last space.
            reserve(cur, node.node_id, p.resources, over_provisioning=over, holder=holder)
        except NoNodeFits:
            query = replace(query, exclude=(*query.exclude, node.node_id))
            continue
        return node.node_id
    raise NoNodeFits("the nodes that fit were all taken by concurrent deployments; try again")


def plan(dep: Deployer, solution_id: str, planner: Planner, spec: Spec, loaded: dict[str, Any] | None = None) -> bool:
    """Resolve every placement and move the solution to ``deploying``; False when it is no longer ``planning``.

    ``loaded``: the solution as the pass loaded it (not read again before the locked read of the planning
    transaction); on success it is updated in place to what was committed, so the pass carries on without a read.

    Raises:
        PlanningFailed: the user's choices cannot be honoured (pool, node, network, IP); nothing was kept.
        Transient: the pools service or the explorer is unavailable (try again later).
    """
    sol = loaded
    if sol is None:
        with dep.db.transaction() as cur:
            sol = store.solution(cur, solution_id)
    assert sol is not None
    placements = planner.placements(spec)
    # Beat keeps the index fresh; this only matters right after a start, before beat's first refresh.
    ensure_fresh(dep.db, dep.grid.explorer, max(3 * dep.settings.node_index_refresh, 600))
    verdicts = _verdicts(dep, solution_id, placements)
    # Gateways: the grid, the CT log and the name servers are read now, the name is picked in the transaction.
    prepared = [gateways.prepare(dep, solution_id, r, sol["owner"]) for r in gateway_requests(planner, spec)]
    with dep.db.transaction() as cur:
        sol = store.solution(cur, solution_id, lock=True)
        if sol is None or sol["status"] not in ("submitted", "planning"):
            return False
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
            node_id, grid_pool_id = _choose(dep, cur, p, verdicts, taken[p.group] if p.group else [], solution_id)
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
        # Under the row lock taken above: the compare-and-set applies (the table allows submitted/planning →
        # deploying); were it refused, raising rolls every allocation of this transaction back.
        if not store.set_status(cur, solution_id, states.DEPLOYING, expected=sol["status"], stage=stage,
                                placed={k: asdict(v) for k, v in placed.items()},
                                network_id=net["id"] if net is not None else None, **values):  # fmt: skip
            raise Moved(solution_id)
        store.extend_deadline(cur, solution_id, dep.settings.workload_deadline + 60)
    if loaded is not None:
        loaded.update(sol, status=states.DEPLOYING, stage=stage, placed={k: asdict(v) for k, v in placed.items()},
                      network_id=net["id"] if net is not None else None,
                      deadline=datetime.now(UTC) + timedelta(seconds=dep.settings.workload_deadline + 60),
                      **values)  # fmt: skip
    return True


def _node(cur: Any, node_id: str) -> Any:
    node = get_node(cur, node_id)
    if node is None:
        raise PlanningFailed(f"node {node_id} is not on the grid")
    return node


def _network_ready(cur: Any, network_id: int, needed: set[str]) -> bool:
    """True when every node the solution needs in the network already runs its current resource (no stage -1)."""
    latest = {r["node_id"]: r["state"] for r in network_store.latest_resources(cur, network_id)}
    return all(latest.get(node) == "deployed" for node in needed)
