"""Stage -1 of a deployment: the network resources the solution needs, sent and deployed on every node.

Which nodes those are is the planner's call (its network hooks, ``solutions/network_use.py``): the nodes with an
IP in the network for an ordinary solution, every node of a network or an access point.
"""

from __future__ import annotations

from typing import Any

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import network_store, networks, observe, store
from services.deployer.context import PlanningFailed, Transient
from services.deployer.network_ops import SolutionNetwork
from services.deployer.passes import Pass, fail
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.base import Placed
from services.deployer.solutions.network_use import network_hooks


def step(p: Pass) -> str:
    """Stage -1: the network resources this solution needs are sent and deployed.

    A needed node whose newest version failed or was removed from the grid (or that has none) gets a new version
    (the network rewritten, GRID_API §11): the grid lost it, and waiting for it would never end. The solution's
    deadline bounds the re-sends.
    """
    dep = p.dep
    network_id = p.sol["network_id"]
    needed = needed_nodes(p.sol)
    with dep.db.transaction() as cur:
        latest = {r["node_id"]: r for r in network_store.latest_resources(cur, network_id)}
    if any(latest.get(node) is None or latest[node]["state"] in ("failed", "deleted") for node in needed):
        _resend(p, needed)
        p.resent = True
    try:
        networks.flush(dep, network_id)
    except ExplorerRejected as exc:
        return fail(p, f"the grid refused the network update: {exc.message}")
    except ExplorerUnavailable as exc:
        raise Transient(str(exc)) from None
    with dep.db.transaction() as cur:
        latest = {r["node_id"]: r for r in network_store.latest_resources(cur, network_id)}
    # Every node's newest version is looked at (a concurrent rewrite may have replaced versions others wait for);
    # a failure on a node this solution needs is re-sent by the next step (once per pass: the deadline bounds it).
    changed = [(row, seen) for row in latest.values() if row["state"] == "sent" for seen in [observe.look(dep, row)]
               if seen.state is not None]  # fmt: skip
    mine = [latest.get(node) for node in needed]
    if not changed and not all(r is not None and r["state"] == "deployed" for r in mine):
        return "waiting"
    lost = False
    with dep.db.transaction() as cur:
        for row, seen in changed:
            if observe.apply(cur, row, seen, p.sol) and seen.failure is not None and row["node_id"] in needed:
                store.add_event(cur, p.id, f"{seen.failure}; sending it again", level="warning")
                lost = True
        if all(r is not None and r["state"] == "deployed" for r in mine):
            net = network_store.network(cur, network_id)
            store.add_event(cur, p.id, f"network {net['name'].split('_', 1)[-1] if net else ''} deployed on "
                            f"node{'s' if len(needed) > 1 else ''} {', '.join(sorted(needed))}")  # fmt: skip
            store.update_solution(cur, p.id, stage=0)
            p.sol["stage"] = 0
            return "progress"
    return "progress" if lost and not p.resent else "waiting"


def needed_nodes(sol: dict[str, Any]) -> set[str]:
    """The nodes whose network resource must be deployed before stage 0, as the solution's planner says."""
    placed = {role: Placed(**value) for role, value in (sol["placed"] or {}).items()}
    return network_hooks(PLANNERS.get(sol["type"])).network_nodes(placed)


def _resend(p: Pass, needed: set[str]) -> None:
    """Record a new version of the network for the needed nodes whose newest one is dead (under its lock)."""
    dep = p.dep
    with dep.db.transaction() as cur:
        net = network_store.network(cur, p.sol["network_id"])
        if net is None:
            raise PlanningFailed("the network of this deployment no longer exists")
        network_store.lock_network(cur, net["id"])
        latest = {r["node_id"]: r for r in network_store.latest_resources(cur, net["id"])}
        dead = sorted(n for n in needed if latest.get(n) is None or latest[n]["state"] in ("failed", "deleted"))
        if not dead:
            return  # another deployment re-sent it meanwhile
        SolutionNetwork(dep, p.sol, cur, net).record_rewrite()  # under the network's own solution
        store.add_event(cur, p.id, f"the network resource on node{'s' if len(dead) > 1 else ''} {', '.join(dead)} "
                        "is gone from the grid: sending a new version", level="warning")  # fmt: skip
