"""Which farms a user can buy capacity on (SOLUTIONS §3.1): at least one up node and a wallet for the currency.

FreeTFT needs no wallet but counts only ``free_to_use`` nodes (the explorer drops FreeTFT unless every node of the
pool is free to use). Free capacity is ``total - max(0, reserved)`` summed over the counted up nodes.
"""

from __future__ import annotations

from typing import Any

from services.common.explorer import Explorer, ExplorerRejected
from services.common.grid_rules import node_is_up

CURRENCIES = ("TFT", "TFTA", "FreeTFT")


def is_up(node: dict[str, Any], now: float | None = None) -> bool:
    return node_is_up(node.get("updated"), now)


def _counts_for(node: dict[str, Any], currency: str) -> bool:
    return bool(node.get("free_to_use")) if currency == "FreeTFT" else True


def accepts(farm: dict[str, Any], currency: str) -> bool:
    if currency == "FreeTFT":
        return True
    return any(w.get("asset") == currency for w in farm.get("wallet_addresses", []))


def offer(explorer: Explorer, farm: dict[str, Any], currency: str) -> dict[str, Any] | None:
    """The farm as offered to a buyer paying ``currency``, with its pool node ids; None when unusable."""
    if not accepts(farm, currency):
        return None
    nodes = [n for n in explorer.list_all("/nodes", {"farm": farm["id"]}) if _counts_for(n, currency)]
    gateways = [g for g in explorer.list_all("/gateways", {"farm_id": farm["id"]}) if _counts_for(g, currency)]
    up = [n for n in nodes if is_up(n)]
    if not up:
        return None
    free = dict.fromkeys(("cru", "mru", "sru", "hru"), 0.0)
    for node in up:
        total, reserved = node.get("total_resources", {}), node.get("reserved_resources", {})
        for unit in free:
            free[unit] += float(total.get(unit, 0)) - max(0.0, float(reserved.get(unit, 0)))
    location = farm.get("location", {})
    return {
        "id": farm["id"],
        "name": farm["name"],
        "currency": currency,
        "location": "-".join(str(location.get(k, "")) for k in ("continent", "country", "city") if location.get(k)),
        "up_nodes": len(up),
        "free": {unit: round(value, 2) for unit, value in free.items()},
        # Every node and gateway of the farm (counted for this currency) may be used with the pool.
        "node_ids": [n["node_id"] for n in nodes] + [g["node_id"] for g in gateways],
    }


def list_offers(explorer: Explorer, currency: str) -> list[dict[str, Any]]:
    return [o for farm in explorer.list_all("/farms") if (o := offer(explorer, farm, currency)) is not None]


def app_offers(explorer: Explorer, names: tuple[str, ...], currency: str,
               need: dict[str, float]) -> list[dict[str, Any]]:  # fmt: skip
    """The offers of the farms named ``names`` (``APP_FARMS``) with free capacity for ``need`` (SOLUTIONS §1.10)."""
    found = []
    for farm in explorer.list_all("/farms"):
        if farm.get("name") not in names:
            continue
        o = offer(explorer, farm, currency)
        if o is not None and all(o["free"][unit] >= amount for unit, amount in need.items()):
            found.append(o)
    return found


def find_offer(explorer: Explorer, farm_id: int, currency: str) -> dict[str, Any] | None:
    try:
        farm = explorer.get_json(f"/farms/{farm_id}")
    except ExplorerRejected as exc:
        if exc.status == 404:
            return None
        raise
    return offer(explorer, farm, currency)


def label(offer: dict[str, Any]) -> str:
    """SOLUTIONS §3.1: ``<farm> location: <continent-country-city> cru: … sru: … hru: … mru: …`` (free)."""
    free = offer["free"]
    return (f"{offer['name']} location: {offer['location']} cru: {free['cru']:g} sru: {free['sru']:g} "
            f"hru: {free['hru']:g} mru: {free['mru']:g}")  # fmt: skip
