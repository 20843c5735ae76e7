"""Choose grid nodes for a deployment from the node index (GRID_API §5.4, §10.4, §11; DESIGN "Scale").

Beat refreshes ``deployer.nodes`` from the explorer (:func:`refresh_index`), so a search is one query on
PostgreSQL rather than a listing of the whole grid per request. A choice is random among the nodes that fit, and
a deployment that took capacity (:func:`reserve`) is visible to the next search before the grid shows it; the
next refresh replaces that local bookkeeping with grid truth. ``OVER_PROVISIONING`` ignores CPU and memory in
every check here (search, user-chosen node, reservation); disks always count.

When nothing fits, :class:`NoNodeFits` says which requirement could not be met, found by dropping one requirement
at a time over counts of the index per combination of met and missed requirements (one grouped query, over the
pool's nodes first and over the whole index only when the pool itself may be the problem).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.common.capacity import Resources
from services.common.db import Database
from services.common.explorer import Explorer
from services.deployer.grid import node_store
from services.deployer.grid.network_plan import public_addresses as endpoints_of
from services.deployer.grid.node_store import Cursor, Filters

log = structlog.get_logger(__name__)

UNITS = ("cru", "mru", "sru", "hru")
PAGE_SIZE = 1000  # the explorer's largest page (GRID_API §2.3): 10 requests for a 10,000-node grid


@dataclass(frozen=True)
class NodeQuery:
    """What a deployment needs from one node. None / False / () leave a filter off."""

    resources: Resources
    node_ids: Sequence[str] | None = None  # the pool's nodes
    farm_id: int | None = None
    country: str | None = None
    city: str | None = None
    free_to_use: bool = False  # paying with FreeTFT
    public_ipv4: bool = False
    public_ipv6: bool = False
    exclude: Sequence[str] = ()  # nodes already chosen for this deployment (or to avoid)
    pool_label: str | None = None  # how messages name the pool, e.g. "pool 12" (default "your pool")


@dataclass(frozen=True)
class Node:
    node_id: str
    farm_id: int
    country: str
    city: str
    public_ipv4: str | None
    public_ipv6: str | None
    wg_ports: tuple[int, ...]
    free_cru: float
    free_mru: float
    free_sru: float
    free_hru: float


class NoNodeFits(Exception):
    """No node (or not enough distinct nodes) meets the query; the message says which requirement failed."""


def find_nodes(cur: Cursor, query: NodeQuery, count: int = 1, *, over_provisioning: bool) -> list[Node]:
    """``count`` distinct nodes chosen at random among those that fit ``query``.

    Raises:
        NoNodeFits: fewer than ``count`` nodes fit; the message names the requirement that could not be met.
        ValueError: ``count`` < 1.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    filters = _filters(query, over_provisioning)
    rows = node_store.search(cur, filters, count)
    if len(rows) < count:
        raise NoNodeFits(_why(cur, query, filters, count))
    return [_node(row) for row in rows]


def get_node(cur: Cursor, node_id: str) -> Node | None:
    """The indexed node, or None when the grid did not list it at the last refresh."""
    row = node_store.get_node(cur, node_id)
    return None if row is None else _node(row)


def node_fits(cur: Cursor, node_id: str, query: NodeQuery, *, over_provisioning: bool) -> Node:
    """The node a user chose, if it meets ``query``.

    Raises:
        NoNodeFits: the node is unknown or misses a requirement; the message lists every one it misses.
    """
    filters = _filters(query, over_provisioning)
    groups = node_store.diagnose(cur, filters, only=node_id)
    if not groups:
        raise NoNodeFits(f"node {node_id} is not on the grid")
    missed = [name for name in _active(filters) if not groups[0][name]]
    if missed:
        raise NoNodeFits(f"node {node_id} " + _and([_missed(name, query, filters, groups[0]) for name in missed]))
    node = get_node(cur, node_id)
    assert node is not None  # same transaction as the diagnosis
    return node


def reserve(cur: Cursor, node_id: str, resources: Resources, *, over_provisioning: bool | None = None) -> None:
    """Count ``resources`` as taken on the node until the next refresh (which replaces it with grid truth).

    Call it in the transaction that chose the node and records the deployment: a rollback gives the capacity
    back. With ``over_provisioning`` given, the node's room is re-checked atomically: concurrent reservations of
    one node wait for each other and re-check, so two deployments cannot both take its last space (reserve
    several nodes in ``node_id`` order, the order the refresh writes them in, to avoid deadlocks). Without it
    the capacity is added unchecked, for a caller that only records what it already checked.

    Raises:
        NoNodeFits: the node is unknown; or (re-check) it no longer has room, as a concurrent deployment took it
            since the search: search again.
    """
    amounts = {unit: max(0.0, float(getattr(resources, unit))) for unit in UNITS}
    if over_provisioning is None:
        checks: dict[str, float | None] = dict.fromkeys(UNITS)
    else:
        filters = _filters(NodeQuery(resources), over_provisioning)
        checks = {unit: getattr(filters, unit) for unit in UNITS}
    if not node_store.add_reserved(cur, node_id, amounts, checks):
        if over_provisioning is not None:
            node_fits(cur, node_id, NodeQuery(resources), over_provisioning=over_provisioning)  # raises the reason
        raise NoNodeFits(f"node {node_id} is not on the grid" if over_provisioning is None else
                         f"node {node_id} no longer has room for this deployment")  # fmt: skip


# --- Public endpoints (GRID_API §11) ---------------------------------------------------------------------------

# --- Index refresh -----------------------------------------------------------------------------------------------


def refresh_index(db: Database, explorer: Explorer) -> int:
    """Re-read every node from the explorer into the index (beat's job); returns how many nodes it holds.

    When another process is refreshing, waits for it and uses its result instead of listing the grid again.

    Raises:
        ExplorerUnavailable, ExplorerRejected: the listing failed; the index keeps its previous content.
        DatabaseUnavailable: PostgreSQL failed.
    """
    # The grid is listed inside the transaction so that the refresh lock covers it: whoever comes meanwhile waits
    # for this listing instead of starting another one. Searches are not blocked (no row is locked until the
    # upsert, and they read the previous version of the rows until the commit).
    with db.transaction() as cur:
        if not node_store.try_lock_refresh(cur):
            node_store.lock_refresh(cur)
            return node_store.count_nodes(cur)
        return load_index(cur, explorer.list_all("/nodes", size=PAGE_SIZE))


def ensure_fresh(db: Database, explorer: Explorer, max_age_seconds: float) -> bool:
    """Refresh the index when it was never filled or is older than ``max_age_seconds``; True if this call did.

    A fallback for when beat has not run (yet): concurrent callers queue on one lock, and those that get it after
    a refresh find the index fresh and return at once, so the grid is listed once, not once per worker.

    Raises:
        ExplorerUnavailable, ExplorerRejected: the listing failed; the index keeps its previous content.
        DatabaseUnavailable: PostgreSQL failed.
    """
    with db.transaction() as cur:
        age = node_store.index_age(cur)
    if age is not None and age <= max_age_seconds:
        return False
    with db.transaction() as cur:
        node_store.lock_refresh(cur)
        # READ COMMITTED: this statement sees a refresh committed while we waited for the lock.
        age = node_store.index_age(cur)
        if age is not None and age <= max_age_seconds:
            return False
        load_index(cur, explorer.list_all("/nodes", size=PAGE_SIZE))
    return True


def load_index(cur: Cursor, listing: Sequence[dict[str, Any]]) -> int:
    """Make the index equal to ``listing`` (explorer node objects) in this transaction; returns the node count."""
    started = time.monotonic()
    # A node can appear on two pages when the list shifts while it is read; one row per node (the last seen).
    rows = {str(node["node_id"]): _index_row(node) for node in listing if node.get("node_id")}
    # Node id order: concurrent writers that lock several rows in one order cannot deadlock each other.
    node_store.upsert_nodes(cur, [rows[node_id] for node_id in sorted(rows)])
    removed = node_store.prune_nodes(cur)
    node_store.record_refresh(cur, len(rows))
    log.info("node index refreshed", nodes=len(rows), removed=removed, seconds=round(time.monotonic() - started, 3))
    return len(rows)


def _index_row(node: dict[str, Any]) -> dict[str, Any]:
    total = node.get("total_resources") or {}
    reserved = node.get("reserved_resources") or {}
    location = node.get("location") or {}
    ipv4, ipv6 = endpoints_of(node)
    return {
        "node_id": str(node["node_id"]),
        "farm_id": int(node.get("farm_id") or 0),
        "country": str(location.get("country") or ""),
        "city": str(location.get("city") or ""),
        **{f"total_{unit}": float(total.get(unit) or 0) for unit in UNITS},
        **{f"reserved_{unit}": float(reserved.get(unit) or 0) for unit in UNITS},
        "updated": datetime.fromtimestamp(int(node.get("updated") or 0), UTC),
        "free_to_use": bool(node.get("free_to_use")),
        "public_ipv4": ipv4,
        "public_ipv6": ipv6,
        "wg_ports": [int(port) for port in node.get("wg_ports") or []],
    }


def _node(row: dict[str, Any]) -> Node:
    return Node(
        node_id=row["node_id"],
        farm_id=int(row["farm_id"]),
        country=row["country"],
        city=row["city"],
        public_ipv4=row["public_ipv4"],
        public_ipv6=row["public_ipv6"],
        wg_ports=tuple(row["wg_ports"] or ()),
        free_cru=float(row["free_cru"]),
        free_mru=float(row["free_mru"]),
        free_sru=float(row["free_sru"]),
        free_hru=float(row["free_hru"]),
    )


def _filters(query: NodeQuery, over_provisioning: bool) -> Filters:
    def need(unit: str) -> float | None:
        # Over-provisioning ignores CPU and memory (GRID_API §10.4). A zero need is no filter at all: an
        # over-committed node (reserved > total) still hosts a workload that needs none of that unit.
        value = float(getattr(query.resources, unit))
        return None if value <= 0 or (over_provisioning and unit in ("cru", "mru")) else value

    return Filters(
        node_ids=None if query.node_ids is None else list(query.node_ids),
        farm_id=query.farm_id,
        country=query.country or None,
        city=query.city or None,
        free_to_use=query.free_to_use,
        public_ipv4=query.public_ipv4,
        public_ipv6=query.public_ipv6,
        cru=need("cru"),
        mru=need("mru"),
        sru=need("sru"),
        hru=need("hru"),
        exclude=list(query.exclude),
    )


# --- Why nothing fits ----------------------------------------------------------------------------------------------
# The names are the boolean columns of node_store.diagnose(), in the order a person reads requirements.
_ORDER = ("in_pool", "in_farm", "in_country", "in_city", "up", "free_to_use", "public_ipv4", "public_ipv6",
          "cru", "mru", "sru", "hru", "unused")  # fmt: skip
_SCOPE = ("in_pool", "in_farm", "in_country", "in_city")
_UNIT_WORDS = {"mru": "memory", "sru": "SSD storage", "hru": "HDD storage"}


def _active(filters: Filters) -> list[str]:
    on = {
        "in_pool": filters.node_ids is not None,
        "in_farm": filters.farm_id is not None,
        "in_country": filters.country is not None,
        "in_city": filters.city is not None,
        "up": True,
        "free_to_use": filters.free_to_use,
        "public_ipv4": filters.public_ipv4,
        "public_ipv6": filters.public_ipv6,
        **{unit: getattr(filters, unit) is not None for unit in UNITS},
        "unused": bool(filters.exclude),
    }
    return [name for name in _ORDER if on[name]]


def _count(groups: list[dict[str, Any]], required: Sequence[str]) -> int:
    return sum(int(g["nodes"]) for g in groups if all(g[name] for name in required))


def _most(groups: list[dict[str, Any]], unit: str, required: Sequence[str]) -> float | None:
    return max((float(g[f"max_{unit}"]) for g in groups if all(g[name] for name in required)), default=None)


def _num(value: float) -> str:
    return f"{max(value, 0.0):.2f}".rstrip("0").rstrip(".")


def _amount(unit: str, value: float) -> str:
    if unit == "cru":
        return f"{_num(value)} CPU core{'' if value == 1 else 's'}"
    return f"{_num(value)} GiB of {_UNIT_WORDS[unit]}"


def _free(unit: str, value: float) -> str:
    """E.g. "4 free CPU cores", "50 GiB of free SSD storage"."""
    if unit == "cru":
        return f"{_num(value)} free CPU core{'' if value == 1 else 's'}"
    return f"{_num(value)} GiB of free {_UNIT_WORDS[unit]}"


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _pool(query: NodeQuery) -> str:
    return query.pool_label or "your pool"


def _subject(kept: Sequence[str], query: NodeQuery, filters: Filters, plural: bool) -> str:
    """The nodes meeting ``kept``, in words: "up nodes of pool 12 in Ghent, Belgium with a public IPv4 address"."""
    adjectives = [word for name, word in (("up", "up"), ("free_to_use", "free-to-use")) if name in kept]
    words = [*adjectives, "nodes" if plural else "node"]
    if "in_pool" in kept:
        words.append(f"of {_pool(query)}")
    if "in_farm" in kept:
        words.append(f"in farm {filters.farm_id}")
    place = [str(value) for name, value in (("in_city", filters.city), ("in_country", filters.country))
             if name in kept]  # fmt: skip
    if place:
        words.append("in " + ", ".join(place))
    having = [f"a public {label} address" for name, label in (("public_ipv4", "IPv4"), ("public_ipv6", "IPv6"))
              if name in kept]  # fmt: skip
    having += [_free(unit, getattr(filters, unit)) for unit in UNITS if unit in kept]
    if having:
        words.append("with " + _and(having))
    if "unused" in kept:
        words.append("besides those already chosen")
    return " ".join(words)


def _predicate(name: str, query: NodeQuery, filters: Filters, most: float | None, plural: bool) -> str:
    """What the nodes lack, as "is up" / "have a public IPv4 address" / "has 50 GiB of free SSD storage (…)"."""
    be, have = ("are", "have") if plural else ("is", "has")
    if name in UNITS:
        unit = (" core" if most == 1 else " cores") if name == "cru" else " GiB"
        hint = "" if most is None else f" (the most any has is {_num(most)}{unit})"
        return f"{have} {_free(name, getattr(filters, name))}{hint}"
    phrases = {
        "in_pool": f"{be} in {_pool(query)}",
        "in_farm": f"{be} in farm {filters.farm_id}",
        "in_country": f"{be} in {filters.country}",
        "in_city": f"{be} in {filters.city}" + (f", {filters.country}" if filters.country else ""),
        "up": f"{be} up",
        "free_to_use": f"{be} free to use (payable with FreeTFT)",
        "public_ipv4": f"{have} a public IPv4 address",
        "public_ipv6": f"{have} a public IPv6 address",
        "unused": f"{be} left besides the nodes already chosen",
    }
    return phrases[name]


def _why(cur: Cursor, query: NodeQuery, filters: Filters, count: int) -> str:
    """The reason :func:`find_nodes` found too little, from the pool / farm / place alone when that tells it.

    Reading only the nodes of the pool (or farm, or place) is an index lookup; the whole grid (a scan of every
    node) is read only when the pool itself may be the problem.
    """
    if any(name in _SCOPE for name in _active(filters)):
        reason = _explain(node_store.diagnose(cur, filters, scoped=True), query, filters, count, scoped=True)
        if reason is not None:
            return reason
    reason = _explain(node_store.diagnose(cur, filters), query, filters, count)
    assert reason is not None
    return reason


def _explain(groups: list[dict[str, Any]], query: NodeQuery, filters: Filters, count: int,
             scoped: bool = False) -> str | None:  # fmt: skip
    """Why fewer than ``count`` nodes fit, in one true sentence about the index.

    The culprits are the requirements that, dropped alone, would leave enough nodes — requirements on the node
    itself first; the pool, farm or place only when nothing else is to blame, as the user chose those on purpose.
    When no single requirement is to blame: the first one (in reading order) after which too few nodes remain.
    Besides the pool, farm and place, the sentence names only the other requirements that change its count, so
    it stays short and true. With ``scoped`` groups (only the nodes of the pool, farm and place), None when the
    answer needs the rest of the grid.
    """
    active = _active(filters)
    if _count(groups, ()) == 0:
        if scoped:
            return None
        return "no node is known yet: the node list has not been read from the grid; try again in a minute"
    alone = [name for name in active if _count(groups, [n for n in active if n != name]) >= count]
    culprits = [name for name in alone if name not in _SCOPE] or alone
    if scoped and not culprits:
        return None
    kept = [name for name in active if name not in culprits]
    if not culprits:
        kept = []
        for name in active:
            if _count(groups, [*kept, name]) < count:
                culprits = [name]
                break
            kept.append(name)
    found = _count(groups, [*kept, *culprits])
    for name in [n for n in reversed(kept) if n not in _SCOPE]:  # pool, farm and place stay: they are context
        trial = [n for n in kept if n != name]
        if _count(groups, [*trial, *culprits]) == found:
            kept = trial
    plural = found > 1
    predicates = []
    for name in culprits:
        if name == "in_country" and "in_city" in culprits:
            continue  # said with the city: "is in Tokyo, Belgium"
        # The capacity hint looks at the very nodes the sentence is about (meeting the other culprits too).
        scope = [*kept, *(n for n in culprits if n != name)]
        most = _most(groups, name, scope) if name in UNITS else None
        predicates.append(_predicate(name, query, filters, most, plural))
    subject = _subject(kept, query, filters, plural)
    if found == 0:
        return f"no {subject} {_and(predicates)}"
    return f"only {found} {subject} {_and(predicates)} ({count} needed)"


def _missed(name: str, query: NodeQuery, filters: Filters, group: dict[str, Any]) -> str:
    """What one node lacks: "is not up" / "has only 20 GiB of free SSD storage (50 GiB needed)"."""
    if name in UNITS:
        return f"has only {_free(name, float(group[f'max_{name}']))} ({_amount(name, getattr(filters, name))} needed)"
    phrases = {
        "in_pool": f"is not in {_pool(query)}",
        "in_farm": f"is not in farm {filters.farm_id}",
        "in_country": f"is not in {filters.country}",
        "in_city": f"is not in {filters.city}",
        "up": "is not up (no heartbeat in the last 10 minutes)",
        "free_to_use": "is not free to use (it cannot be paid with FreeTFT)",
        "public_ipv4": "has no public IPv4 address",
        "public_ipv6": "has no public IPv6 address",
        "unused": "is already used by this deployment",
    }
    return phrases[name]
