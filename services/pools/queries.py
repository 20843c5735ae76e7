"""The capacity questions other services ask the pools worker (contracts.py): which pools can carry a deployment,
whether one pool can, and the owner's pools for a wizard's choice (SOLUTIONS §1.2; GRID_API §10.3).
"""

from __future__ import annotations

from typing import Any

from services.common import contracts
from services.common.capacity import Resources, can_carry, cu_su
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.settings import Settings
from services.pools import farms, store
from services.pools.grid import live_state


def capable_pools(db: Database, explorer: Explorer, settings: Settings, owner: str, query: Resources,
                  seconds: int) -> list[dict[str, Any]]:  # fmt: skip
    """The owner's active pools that can carry ``query`` for ``seconds`` and have an up node that fits it.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    cu, su = cu_su(query)
    with db.transaction() as cur:
        pools = store.list_pools(cur, owner, ("active",))
    result = []
    nodes_by_farm: dict[int, list[dict[str, Any]]] = {}
    for pool in pools:
        live = explorer.get_json(f"/reservations/pools/{pool['grid_pool_id']}")
        if not can_carry(float(live["cus"]), float(live["sus"]), float(live["active_cu"]), float(live["active_su"]),
                         cu, su, seconds):  # fmt: skip
            continue
        if pool["farm_id"] not in nodes_by_farm:
            nodes_by_farm[pool["farm_id"]] = explorer.list_all("/nodes", {"farm": pool["farm_id"]})
        members = set(pool["node_ids"])
        fitting = [
            n["node_id"]
            for n in nodes_by_farm[pool["farm_id"]]
            if n["node_id"] in members and farms.is_up(n) and _fits(n, query, settings.over_provisioning)
        ]
        if not fitting:
            continue
        result.append({
            "pool_id": pool["id"], "grid_pool_id": pool["grid_pool_id"], "farm": pool["farm_name"],
            "cus": float(live["cus"]), "sus": float(live["sus"]), "node_ids": fitting,
            "label": f"Pool {pool['grid_pool_id']} — CU {float(live['cus']) / 3600:.1f} h, "
                     f"SU {float(live['sus']) / 3600:.1f} h left ({pool['farm_name']})",
        })  # fmt: skip
    return result


def pool_verdict(db: Database, explorer: Explorer, owner: str, pool_id: int, query: Resources,
                 seconds: int) -> contracts.CapacityVerdict:  # fmt: skip
    """Whether one pool of ``owner`` can run ``query`` for ``seconds`` more (GRID_API §10.3), nodes not examined.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    with db.transaction() as cur:
        pool = store.get_pool(cur, owner, pool_id)
    if pool is None:
        return contracts.CapacityVerdict(ok=False, reason=f"you have no pool {pool_id}")
    if pool["state"] != "active" or pool["grid_pool_id"] is None:
        state = pool["state"].replace("_", " ")
        return contracts.CapacityVerdict(ok=False, reason=f"pool {pool['grid_pool_id'] or pool_id} is not active yet "
                                         f"({state})")  # fmt: skip
    live = explorer.get_json(f"/reservations/pools/{pool['grid_pool_id']}")
    cu, su = cu_su(query)
    ok = can_carry(float(live["cus"]), float(live["sus"]), float(live["active_cu"]), float(live["active_su"]),
                   cu, su, seconds)  # fmt: skip
    hours = seconds / 3600
    reason = "" if ok else (f"pool {pool['grid_pool_id']} has too little capacity left to run this for {hours:g} hour"
                            f"{'s' if hours != 1 else ''}; extend it or choose another pool")  # fmt: skip
    return contracts.CapacityVerdict(ok=ok, reason=reason, grid_pool_id=int(pool["grid_pool_id"]),
                                     node_ids=list(live.get("node_ids") or pool["node_ids"]))  # fmt: skip


def _fits(node: dict[str, Any], query: Resources, over_provisioning: bool) -> bool:
    total, reserved = node.get("total_resources", {}), node.get("reserved_resources", {})
    units = ("sru", "hru") if over_provisioning else ("cru", "mru", "sru", "hru")  # disks always count
    return all(float(total.get(u, 0)) - max(0.0, float(reserved.get(u, 0))) >= float(getattr(query, u)) for u in units)


def pool_summaries(db: Database, explorer: Explorer, owner: str) -> list[contracts.PoolSummary]:
    """The owner's pools for a wizard's choice: label with the hours left (SOLUTIONS §1.2), accepted currencies.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    with db.transaction() as cur:
        pools = store.list_pools(cur, owner)
    out = []
    for pool in pools:
        live = live_state(explorer, pool["grid_pool_id"]) if pool["state"] == "active" else None
        left = (f"CU {float(live['cus']) / 3600:.1f} h, SU {float(live['sus']) / 3600:.1f} h left" if live
                else pool["state"].replace("_", " "))  # fmt: skip
        # The number users see everywhere (pools page, QR memo, capable-pool labels) is the grid's pool id.
        label = f"Pool {pool['grid_pool_id'] or pool['id']} — {left} ({pool['farm_name']})"
        out.append(contracts.PoolSummary(pool_id=pool["id"], grid_pool_id=pool["grid_pool_id"],
                                         farm=pool["farm_name"], state=pool["state"], label=label,
                                         currencies=[pool["currency"]]))  # fmt: skip
    return out
