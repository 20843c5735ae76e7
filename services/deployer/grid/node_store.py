"""SQL of the node index (``deployer.nodes``): refresh, search, explain a failed search, reserve.

Every statement is static with named parameters. An unused filter is passed as NULL (or false) and written
``(%(x)s IS NULL OR column = %(x)s)``: psycopg2 sends the values inline, so PostgreSQL folds the unused
branches away at plan time and the remaining predicates can still use the indexes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg2.extras

from services.common.grid_rules import NODE_UP_SECONDS

Cursor = Any  # a RealDictCursor (services.common.db.Database.transaction())

UP_WITHIN_SECONDS = NODE_UP_SECONDS  # the node-up window (GRID_API §5.4), defined once in grid_rules
# Held (per transaction) by whoever refreshes the index, so N workers never list the grid N times at once.
_REFRESH_LOCK = 0x6E6F6465  # "node"


@dataclass(frozen=True)
class Filters:
    """What a node must satisfy; None / False / () switch a filter off (a resource of None is not checked)."""

    node_ids: Sequence[str] | None = None
    farm_id: int | None = None
    country: str | None = None
    city: str | None = None
    free_to_use: bool = False
    public_ipv4: bool = False
    public_ipv6: bool = False
    cru: float | None = None
    mru: float | None = None
    sru: float | None = None
    hru: float | None = None
    exclude: Sequence[str] = ()

    def params(self) -> dict[str, Any]:
        values = asdict(self)
        values["node_ids"] = None if self.node_ids is None else list(self.node_ids)
        values["exclude"] = list(self.exclude) or None  # NULL: PostgreSQL drops the test instead of running it
        values["up_within"] = UP_WITHIN_SECONDS
        return values


# Keep the predicates of _SEARCH and _DIAGNOSE identical: the second explains why the first found too little.
# The inner query draws the nodes carrying only their id, so a broad search (thousands of fits) sorts narrow rows;
# the outer one reads the full rows of the few drawn.
_SEARCH = """
SELECT node_id, farm_id, country, city, public_ipv4, public_ipv6, wg_ports, free_cru, free_mru, free_sru, free_hru
FROM deployer.nodes
WHERE node_id IN (
    SELECT node_id FROM deployer.nodes
    WHERE (%(node_ids)s::text[] IS NULL OR node_id = ANY(%(node_ids)s::text[]))
      AND (%(farm_id)s::bigint IS NULL OR farm_id = %(farm_id)s::bigint)
      AND (%(country)s::text IS NULL OR country = %(country)s::text)
      AND (%(city)s::text IS NULL OR city = %(city)s::text)
      AND updated >= now() - make_interval(secs => %(up_within)s)
      AND (NOT %(free_to_use)s OR free_to_use)
      AND (NOT %(public_ipv4)s OR has_ipv4)
      AND (NOT %(public_ipv6)s OR has_ipv6)
      AND (%(cru)s::float8 IS NULL OR free_cru >= %(cru)s::float8)
      AND (%(mru)s::float8 IS NULL OR free_mru >= %(mru)s::float8)
      AND (%(sru)s::float8 IS NULL OR free_sru >= %(sru)s::float8)
      AND (%(hru)s::float8 IS NULL OR free_hru >= %(hru)s::float8)
      AND (%(exclude)s::text[] IS NULL OR NOT (node_id = ANY(%(exclude)s::text[])))
    ORDER BY random()
    LIMIT %(limit)s
)
"""

# One row per combination of satisfied / failed filters, with how many nodes have it and the most free capacity
# among them: enough to tell, in Python, which filter (or pair of filters) leaves too few nodes.
_DIAGNOSE = """
SELECT in_pool, in_farm, in_country, in_city, up, free_to_use, public_ipv4, public_ipv6,
       cru, mru, sru, hru, unused, count(*) AS nodes,
       max(free_cru) AS max_cru, max(free_mru) AS max_mru, max(free_sru) AS max_sru, max(free_hru) AS max_hru
FROM (
    SELECT free_cru, free_mru, free_sru, free_hru,
           (%(node_ids)s::text[] IS NULL OR node_id = ANY(%(node_ids)s::text[])) AS in_pool,
           (%(farm_id)s::bigint IS NULL OR farm_id = %(farm_id)s::bigint) AS in_farm,
           (%(country)s::text IS NULL OR country = %(country)s::text) AS in_country,
           (%(city)s::text IS NULL OR city = %(city)s::text) AS in_city,
           updated >= now() - make_interval(secs => %(up_within)s) AS up,
           (NOT %(free_to_use)s OR free_to_use) AS free_to_use,
           (NOT %(public_ipv4)s OR has_ipv4) AS public_ipv4,
           (NOT %(public_ipv6)s OR has_ipv6) AS public_ipv6,
           (%(cru)s::float8 IS NULL OR free_cru >= %(cru)s::float8) AS cru,
           (%(mru)s::float8 IS NULL OR free_mru >= %(mru)s::float8) AS mru,
           (%(sru)s::float8 IS NULL OR free_sru >= %(sru)s::float8) AS sru,
           (%(hru)s::float8 IS NULL OR free_hru >= %(hru)s::float8) AS hru,
           (%(exclude)s::text[] IS NULL OR NOT (node_id = ANY(%(exclude)s::text[]))) AS unused
    FROM deployer.nodes
    WHERE (%(only)s::text IS NULL OR node_id = %(only)s::text)
      AND (NOT %(scoped)s OR (
          (%(node_ids)s::text[] IS NULL OR node_id = ANY(%(node_ids)s::text[]))
          AND (%(farm_id)s::bigint IS NULL OR farm_id = %(farm_id)s::bigint)
          AND (%(country)s::text IS NULL OR country = %(country)s::text)
          AND (%(city)s::text IS NULL OR city = %(city)s::text)))
) AS flags
GROUP BY in_pool, in_farm, in_country, in_city, up, free_to_use, public_ipv4, public_ipv6,
         cru, mru, sru, hru, unused
"""


def search(cur: Cursor, filters: Filters, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` distinct nodes drawn at random (uniformly) among those that pass every filter."""
    cur.execute(_SEARCH, {**filters.params(), "limit": limit})
    rows = list(cur.fetchall())
    random.shuffle(rows)  # the outer query returns the drawn rows in index order; callers may take the first
    return rows


def diagnose(cur: Cursor, filters: Filters, only: str | None = None, scoped: bool = False) -> list[dict[str, Any]]:
    """Every combination of passed (True) and failed (False) filters over the index, over node ``only``, or
    (``scoped``) over the nodes that pass the pool, farm, country and city filters (an index lookup).

    Each row holds the filter names as booleans, ``nodes`` (how many have that combination) and ``max_cru`` …
    ``max_hru`` (the most free capacity among them).
    """
    cur.execute(_DIAGNOSE, {**filters.params(), "only": only, "scoped": scoped})
    return list(cur.fetchall())


def get_node(cur: Cursor, node_id: str) -> dict[str, Any] | None:
    cur.execute(
        """
        SELECT node_id, farm_id, country, city, public_ipv4, public_ipv6, wg_ports,
               free_cru, free_mru, free_sru, free_hru
        FROM deployer.nodes WHERE node_id = %(node_id)s
        """,
        {"node_id": node_id},
    )
    row: dict[str, Any] | None = cur.fetchone()
    return row


def add_reserved(cur: Cursor, node_id: str, amounts: dict[str, float], checks: dict[str, float | None]) -> bool:
    """Add ``amounts`` (cru … hru) to the node's reserved capacity if its free capacity still covers ``checks``.

    False when the node is unknown or no longer has room. The UPDATE re-checks the row after waiting for any
    concurrent reservation of the same node (READ COMMITTED), so two deployments cannot both take the last space.
    """
    cur.execute(
        """
        UPDATE deployer.nodes
        SET reserved_cru = GREATEST(reserved_cru, 0) + %(cru)s, reserved_mru = GREATEST(reserved_mru, 0) + %(mru)s,
            reserved_sru = GREATEST(reserved_sru, 0) + %(sru)s, reserved_hru = GREATEST(reserved_hru, 0) + %(hru)s
        WHERE node_id = %(node_id)s
          AND (%(check_cru)s::float8 IS NULL OR free_cru >= %(check_cru)s::float8)
          AND (%(check_mru)s::float8 IS NULL OR free_mru >= %(check_mru)s::float8)
          AND (%(check_sru)s::float8 IS NULL OR free_sru >= %(check_sru)s::float8)
          AND (%(check_hru)s::float8 IS NULL OR free_hru >= %(check_hru)s::float8)
        RETURNING node_id
        """,
        {"node_id": node_id, **amounts, **{f"check_{unit}": value for unit, value in checks.items()}},
    )
    return cur.fetchone() is not None


def add_hold(cur: Cursor, node_id: str, holder: str, amounts: dict[str, float], seconds: float) -> None:
    """Remember ``amounts`` taken on the node by ``holder`` for ``seconds``: refreshes keep adding it."""
    cur.execute(
        """
        INSERT INTO deployer.node_holds (node_id, holder, cru, mru, sru, hru, expires_at)
        VALUES (%(node_id)s, %(holder)s, %(cru)s, %(mru)s, %(sru)s, %(hru)s,
                now() + make_interval(secs => %(seconds)s))
        """,
        {"node_id": node_id, "holder": holder, "seconds": seconds, **amounts},
    )


def apply_holds(cur: Cursor) -> int:
    """After the grid's figures were written: drop expired holds, add the live ones; returns how many are live.

    Holds of one node are summed, so each node row is updated once; the refresh has locked every row already.
    """
    cur.execute("DELETE FROM deployer.node_holds WHERE expires_at <= now()")
    cur.execute(
        """
        UPDATE deployer.nodes n
        SET reserved_cru = GREATEST(n.reserved_cru, 0) + h.cru, reserved_mru = GREATEST(n.reserved_mru, 0) + h.mru,
            reserved_sru = GREATEST(n.reserved_sru, 0) + h.sru, reserved_hru = GREATEST(n.reserved_hru, 0) + h.hru
        FROM (SELECT node_id, sum(cru) AS cru, sum(mru) AS mru, sum(sru) AS sru, sum(hru) AS hru
              FROM deployer.node_holds GROUP BY node_id) AS h
        WHERE n.node_id = h.node_id
        """
    )
    return int(cur.rowcount)


def release_holds(cur: Cursor, holder: str) -> int:
    """End the holds of ``holder`` (its deployment is over and removed) and give their capacity back in the index.

    Safe whatever the grid shows: a report that still counts the removed workloads only over-states the usage.
    """
    # Rows locked in node id order first, the order refreshes and reservations lock them in: no deadlock.
    cur.execute(
        """
        SELECT node_id FROM deployer.nodes
        WHERE node_id IN (SELECT node_id FROM deployer.node_holds WHERE holder = %(holder)s)
        ORDER BY node_id FOR UPDATE
        """,
        {"holder": holder},
    )
    cur.execute(
        """
        WITH released AS (
            DELETE FROM deployer.node_holds WHERE holder = %(holder)s
            RETURNING node_id, cru, mru, sru, hru
        ), summed AS (
            SELECT node_id, sum(cru) AS cru, sum(mru) AS mru, sum(sru) AS sru, sum(hru) AS hru
            FROM released GROUP BY node_id
        )
        UPDATE deployer.nodes n
        SET reserved_cru = n.reserved_cru - s.cru, reserved_mru = n.reserved_mru - s.mru,
            reserved_sru = n.reserved_sru - s.sru, reserved_hru = n.reserved_hru - s.hru
        FROM summed s WHERE n.node_id = s.node_id
        """,
        {"holder": holder},
    )
    return int(cur.rowcount)


_UPSERT = """
INSERT INTO deployer.nodes (node_id, farm_id, country, city, total_cru, total_mru, total_sru, total_hru,
                            reserved_cru, reserved_mru, reserved_sru, reserved_hru, updated, free_to_use,
                            public_ipv4, public_ipv6, wg_ports, refreshed_at)
VALUES %s
ON CONFLICT (node_id) DO UPDATE SET
    farm_id = EXCLUDED.farm_id, country = EXCLUDED.country, city = EXCLUDED.city,
    total_cru = EXCLUDED.total_cru, total_mru = EXCLUDED.total_mru,
    total_sru = EXCLUDED.total_sru, total_hru = EXCLUDED.total_hru,
    reserved_cru = EXCLUDED.reserved_cru, reserved_mru = EXCLUDED.reserved_mru,
    reserved_sru = EXCLUDED.reserved_sru, reserved_hru = EXCLUDED.reserved_hru,
    updated = EXCLUDED.updated, free_to_use = EXCLUDED.free_to_use,
    public_ipv4 = EXCLUDED.public_ipv4, public_ipv6 = EXCLUDED.public_ipv6,
    wg_ports = EXCLUDED.wg_ports, refreshed_at = EXCLUDED.refreshed_at
"""
_UPSERT_ROW = (
    "(%(node_id)s, %(farm_id)s, %(country)s, %(city)s, %(total_cru)s, %(total_mru)s, %(total_sru)s, %(total_hru)s,"
    " %(reserved_cru)s, %(reserved_mru)s, %(reserved_sru)s, %(reserved_hru)s, %(updated)s, %(free_to_use)s,"
    " %(public_ipv4)s, %(public_ipv6)s, %(wg_ports)s::integer[], now())"
)


def upsert_nodes(cur: Cursor, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or overwrite nodes with the grid's figures (:func:`apply_holds` then adds what the grid may not show
    yet); ``refreshed_at`` = transaction start."""
    psycopg2.extras.execute_values(cur, _UPSERT, rows, template=_UPSERT_ROW, page_size=1000)


def prune_nodes(cur: Cursor) -> int:
    """Delete the nodes this transaction's refresh did not see (gone from the grid); returns how many."""
    cur.execute("DELETE FROM deployer.nodes WHERE refreshed_at < now()")
    return int(cur.rowcount)


def record_refresh(cur: Cursor, node_count: int) -> None:
    cur.execute(
        """
        INSERT INTO deployer.node_index (singleton, refreshed_at, node_count) VALUES (true, now(), %(count)s)
        ON CONFLICT (singleton) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, node_count = EXCLUDED.node_count
        """,
        {"count": node_count},
    )


def index_age(cur: Cursor) -> float | None:
    """Seconds since the last refresh; None when the index was never filled."""
    cur.execute("SELECT extract(epoch FROM now() - refreshed_at)::float8 AS age FROM deployer.node_index")
    row = cur.fetchone()
    return None if row is None else float(row["age"])


def count_nodes(cur: Cursor) -> int:
    cur.execute("SELECT count(*) AS n FROM deployer.nodes")
    return int(cur.fetchone()["n"])


def try_lock_refresh(cur: Cursor) -> bool:
    """Take the refresh lock for this transaction if nobody holds it."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%(key)s) AS locked", {"key": _REFRESH_LOCK})
    return bool(cur.fetchone()["locked"])


def lock_refresh(cur: Cursor) -> None:
    """Wait for the refresh lock (a refresh in progress ends) and hold it for this transaction."""
    cur.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _REFRESH_LOCK})
