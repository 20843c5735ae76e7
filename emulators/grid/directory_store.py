"""Queries for the directory part of the world: users (phonebook), farms, nodes and gateways."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from emulators.grid.sql_page import select_page


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    pubkey: str
    host: str
    description: str


@dataclass(frozen=True)
class Farm:
    id: int
    threebot_id: int
    name: str
    doc: dict[str, Any]


@dataclass(frozen=True)
class Node:
    """A node or a gateway. ``doc`` holds the static part of its wire object; ``last_seen`` is set when down."""

    id: int
    node_id: str
    is_gateway: bool
    farm_id: int
    free_to_use: bool
    signing_seed: bytes
    doc: dict[str, Any]
    last_seen: float | None

    @property
    def down(self) -> bool:
        return self.last_seen is not None


@dataclass(frozen=True)
class NodeFilter:
    """AND-combined filters of `GET /nodes` and `GET /gateways`; None means "no filter"."""

    is_gateway: bool
    farm_id: int | None = None
    country: str | None = None
    city: str | None = None
    cru: int | None = None
    mru: int | None = None
    sru: int | None = None
    hru: int | None = None


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["name"], row["email"], row["pubkey"], row["host"], row["description"])


def insert_user(conn: sqlite3.Connection, name: str, email: str, pubkey: str, host: str, description: str) -> User:
    """Raises sqlite3.IntegrityError when the name is taken."""
    cursor = conn.execute(
        "INSERT INTO users (name, email, pubkey, host, description)"
        " VALUES (:name, :email, :pubkey, :host, :description)",
        {"name": name, "email": email, "pubkey": pubkey, "host": host, "description": description},
    )
    return User(int(cursor.lastrowid or 0), name, email, pubkey, host, description)


def get_user(conn: sqlite3.Connection, tid: int) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE id = :id", {"id": tid}).fetchone()
    return None if row is None else _user(row)


def user_by_name(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE name = :name", {"name": name}).fetchone()
    return None if row is None else _user(row)


def find_users(
    conn: sqlite3.Connection, name: str | None, email: str | None, limit: int, offset: int
) -> tuple[list[User], int]:
    rows, total = select_page(conn, "users", {"name = :name": name, "email = :email": email}, limit, offset)
    return [_user(row) for row in rows], total


def insert_farm(conn: sqlite3.Connection, farm_id: int, threebot_id: int, name: str, doc: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO farms (id, threebot_id, name, doc) VALUES (:id, :threebot_id, :name, :doc)",
        {"id": farm_id, "threebot_id": threebot_id, "name": name, "doc": json.dumps(doc)},
    )


def _farm(row: sqlite3.Row) -> Farm:
    return Farm(row["id"], row["threebot_id"], row["name"], json.loads(row["doc"]))


def get_farm(conn: sqlite3.Connection, farm_id: int) -> Farm | None:
    row = conn.execute("SELECT * FROM farms WHERE id = :id", {"id": farm_id}).fetchone()
    return None if row is None else _farm(row)


def find_farms(
    conn: sqlite3.Connection, owner: int | None, name: str | None, limit: int, offset: int
) -> tuple[list[Farm], int]:
    rows, total = select_page(conn, "farms", {"threebot_id = :owner": owner, "name = :name": name}, limit, offset)
    return [_farm(row) for row in rows], total


def insert_nodes(conn: sqlite3.Connection, nodes: Iterable[dict[str, Any]]) -> None:
    """Bulk insert of seeded nodes; each dict has the columns of the nodes table (doc as a dict)."""
    conn.executemany(
        "INSERT INTO nodes (id, node_id, is_gateway, farm_id, country, city, cru, mru, sru, hru, free_to_use,"
        " signing_seed, doc, last_seen) VALUES (:id, :node_id, :is_gateway, :farm_id, :country, :city, :cru,"
        " :mru, :sru, :hru, :free_to_use, :signing_seed, :doc, NULL)",
        ({**node, "doc": json.dumps(node["doc"])} for node in nodes),
    )


def _node(row: sqlite3.Row) -> Node:
    return Node(
        id=row["id"],
        node_id=row["node_id"],
        is_gateway=bool(row["is_gateway"]),
        farm_id=row["farm_id"],
        free_to_use=bool(row["free_to_use"]),
        signing_seed=bytes.fromhex(row["signing_seed"]),
        doc=json.loads(row["doc"]),
        last_seen=row["last_seen"],
    )


def get_node(conn: sqlite3.Connection, node_id: str) -> Node | None:
    """A node or gateway by its base58 id."""
    row = conn.execute("SELECT * FROM nodes WHERE node_id = :node_id", {"node_id": node_id}).fetchone()
    return None if row is None else _node(row)


def get_nodes(conn: sqlite3.Connection, node_ids: Sequence[str]) -> dict[str, Node]:
    """The known nodes/gateways among ``node_ids`` (unknown ids are simply absent)."""
    found: dict[str, Node] = {}
    # Chunked so a long list stays under SQLite's bound-parameter limit.
    for start in range(0, len(node_ids), 500):
        chunk = list(node_ids[start : start + 500])
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        rows = conn.execute(
            f"SELECT * FROM nodes WHERE node_id IN ({marks})",  # noqa: S608 - only placeholders are formatted
            {f"n{i}": node_id for i, node_id in enumerate(chunk)},
        ).fetchall()
        found.update((row["node_id"], _node(row)) for row in rows)
    return found


def find_nodes(conn: sqlite3.Connection, flt: NodeFilter, limit: int, offset: int) -> tuple[list[Node], int]:
    conditions = {
        "is_gateway = :is_gateway": int(flt.is_gateway),
        "farm_id = :farm_id": flt.farm_id,
        "country = :country": flt.country,
        "city = :city": flt.city,
        "cru >= :cru": flt.cru,
        "mru >= :mru": flt.mru,
        "sru >= :sru": flt.sru,
        "hru >= :hru": flt.hru,
    }
    rows, total = select_page(conn, "nodes", conditions, limit, offset)
    return [_node(row) for row in rows], total


def set_last_seen(conn: sqlite3.Connection, node_id: str, last_seen: float | None) -> bool:
    """Mark a node down (frozen heartbeat) or up again (None). False when the node is unknown."""
    cursor = conn.execute(
        "UPDATE nodes SET last_seen = :last_seen WHERE node_id = :node_id",
        {"last_seen": last_seen, "node_id": node_id},
    )
    return cursor.rowcount > 0
