"""Choose grid nodes for a deployment from the node index (GRID_API §5.4, §10.4, §11; DESIGN "Scale").

Beat refreshes ``deployer.nodes`` from the explorer (:func:`refresh_index`), so a search is one query on
PostgreSQL rather than a listing of the whole grid per request. A choice is random among the nodes that fit, and
a deployment that took capacity (:func:`reserve`) is visible to the next search before the grid shows it. Nodes
report their usage late (minutes on the real grid), so a deployment's reservation is *held*: each refresh writes
the grid's figure plus the live holds, until the hold expires (HOLD_SECONDS) or the deployment is rolled back or
cancelled (:func:`release`). Until then a node may look fuller than it is, never emptier.
``OVER_PROVISIONING`` ignores CPU and memory in every check here (search, user-chosen node, reservation); disks
always count.

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
from services.deployer.grid.node_explain import UNITS, active_requirements, explain_cursor, join_words, missed
from services.deployer.grid.node_query import NodeQuery as NodeQuery  # callers import it from here too
from services.deployer.grid.node_store import Cursor, Filters

log = structlog.get_logger(__name__)

PAGE_SIZE = 1000  # the explorer's largest page (GRID_API §2.3): 10 requests for a 10,000-node grid
# How long a reservation is held against lagging node reports: a deployment's stages finish well within it, and
# the node's report follows (minutes on the real grid). Holding longer only makes a node look fuller for a while.
HOLD_SECONDS = 1800.0


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
        raise NoNodeFits(explain_cursor(cur, query, filters, count))
    return [_node(row) for row in rows]


def fitting_nodes(cur: Cursor, query: NodeQuery, limit: int, *, over_provisioning: bool) -> list[Node]:
    """Up to ``limit`` nodes that fit ``query``, sorted by node id (a wizard's drop-down); empty when none fit."""
    rows = node_store.search(cur, _filters(query, over_provisioning), limit)
    return sorted((_node(row) for row in rows), key=lambda node: node.node_id)


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
    lacking = [name for name in active_requirements(filters) if not groups[0][name]]
    if lacking:
        raise NoNodeFits(f"node {node_id} " + join_words([missed(name, query, filters, groups[0]) for name in lacking]))
    node = get_node(cur, node_id)
    assert node is not None  # same transaction as the diagnosis
    return node


def reserve(cur: Cursor, node_id: str, resources: Resources, *, over_provisioning: bool | None = None,
            holder: str | None = None, hold_seconds: float = HOLD_SECONDS,
            room: Resources | None = None) -> None:  # fmt: skip
    """Count ``resources`` as taken on the node: until the next refresh, or with ``holder`` (the deployment) for
    ``hold_seconds`` across refreshes, since the grid reports a node's usage late and a refresh that replaced our
    reservation with the grid's figure would let the next deployment overbook the node.

    Call it in the transaction that chose the node and records the deployment: a rollback gives the capacity
    back. With ``over_provisioning`` given, the node's room is re-checked atomically: concurrent reservations of
    one node wait for each other and re-check, so two deployments cannot both take its last space (reserve
    several nodes in ``node_id`` order, the order the refresh writes them in, to avoid deadlocks). Without it
    the capacity is added unchecked, for a caller that only records what it already checked.

    Raises:
        NoNodeFits: the node is unknown; or (re-check) it no longer has room, as a concurrent deployment took it
            since the search: search again.

    ``room`` (default ``resources``) is what the re-check asks the node to have free: more when workloads that
    run beside this one reserve their share later in the same transaction.
    """
    wanted = NodeQuery(room or resources)
    amounts = {unit: max(0.0, float(getattr(resources, unit))) for unit in UNITS}
    if over_provisioning is None:
        checks: dict[str, float | None] = dict.fromkeys(UNITS)
    else:
        filters = _filters(wanted, over_provisioning)
        checks = {unit: getattr(filters, unit) for unit in UNITS}
    if not node_store.add_reserved(cur, node_id, amounts, checks):
        if over_provisioning is not None:
            node_fits(cur, node_id, wanted, over_provisioning=over_provisioning)  # raises the reason
        raise NoNodeFits(f"node {node_id} is not on the grid" if over_provisioning is None else
                         f"node {node_id} no longer has room for this deployment")  # fmt: skip
    if holder is not None and any(amounts.values()):
        node_store.add_hold(cur, node_id, holder, amounts, hold_seconds)


def release(cur: Cursor, holder: str) -> None:
    """The deployment ``holder`` is over and gone from the grid: its holds end and the index gives them back."""
    node_store.release_holds(cur, holder)


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
    # The grid's figures lag behind deployments: what we reserved and it may not show yet is added back.
    held = node_store.apply_holds(cur)
    node_store.record_refresh(cur, len(rows))
    log.info("node index refreshed", nodes=len(rows), removed=removed, held=held,
             seconds=round(time.monotonic() - started, 3))  # fmt: skip
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
