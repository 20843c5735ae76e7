"""The emulator's own storage: one SQLite file (WAL) behind one lock.

This is the *emulated outside system*, not marketplace infrastructure, so stdlib sqlite3 is enough. The server runs
one process, and every request runs its lazy time-based updates (lifecycle.advance) before reading, so every
request writes; a single connection serialised by one lock keeps that simple and free of SQLITE_BUSY.
The *_store modules hold the queries; this one owns the connection, schema and small key/value metadata.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    pubkey TEXT NOT NULL,
    host TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_email ON users (email);

CREATE TABLE IF NOT EXISTS farms (
    id INTEGER PRIMARY KEY,
    threebot_id INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS farms_owner ON farms (threebot_id, id);

-- Nodes and gateways share one table: pools and workloads reference both by node_id.
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE,
    is_gateway INTEGER NOT NULL,
    farm_id INTEGER NOT NULL,
    country TEXT NOT NULL,
    city TEXT NOT NULL,
    cru INTEGER NOT NULL,
    mru REAL NOT NULL,
    sru REAL NOT NULL,
    hru REAL NOT NULL,
    free_to_use INTEGER NOT NULL,
    signing_seed TEXT NOT NULL,
    doc TEXT NOT NULL,
    last_seen REAL  -- NULL while the node is up (heartbeats are computed); the frozen heartbeat when down
);
CREATE INDEX IF NOT EXISTS nodes_farm ON nodes (is_gateway, farm_id, id);
CREATE INDEX IF NOT EXISTS nodes_location ON nodes (is_gateway, country, city, id);

CREATE TABLE IF NOT EXISTS pools (
    id INTEGER PRIMARY KEY,
    customer_tid INTEGER NOT NULL,
    node_ids TEXT NOT NULL,
    cus REAL NOT NULL,
    sus REAL NOT NULL,
    last_updated REAL NOT NULL,
    active_cu REAL NOT NULL,
    active_su REAL NOT NULL,
    empty_at REAL  -- NULL when nothing burns
);
CREATE INDEX IF NOT EXISTS pools_customer ON pools (customer_tid, id);
CREATE INDEX IF NOT EXISTS pools_empty ON pools (empty_at) WHERE empty_at IS NOT NULL;

-- Capacity reservations share their id sequence with pools: a new pool takes its reservation's id.
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id INTEGER NOT NULL,
    customer_tid INTEGER NOT NULL,
    cus INTEGER NOT NULL,
    sus INTEGER NOT NULL,
    node_ids TEXT NOT NULL,
    currency TEXT NOT NULL,
    asset TEXT NOT NULL,
    address TEXT NOT NULL,
    amount INTEGER NOT NULL,
    paid_amount INTEGER NOT NULL,
    created REAL NOT NULL,
    paid_at REAL,
    auto_pay_at REAL,          -- set at creation when --auto-pay-after was on: the simulated payment time
    json TEXT NOT NULL,
    customer_signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_auto_pay ON reservations (auto_pay_at)
    WHERE paid_at IS NULL AND auto_pay_at IS NOT NULL;

-- Simulated Stellar payments into escrow accounts (§4.5): matched to a reservation by memo, asset and address
-- when credited (credit_at), like the explorer's escrow watcher; outcome records what crediting did.
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount INTEGER NOT NULL,
    memo TEXT NOT NULL,
    received REAL NOT NULL,
    credit_at REAL NOT NULL,
    reservation_id INTEGER,    -- the reservation the memo named, once credited
    outcome TEXT               -- NULL while pending; 'credited', 'partial' or 'ignored: <why>'
);
CREATE INDEX IF NOT EXISTS payments_pending ON payments (credit_at) WHERE outcome IS NULL;

CREATE TABLE IF NOT EXISTS workloads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_tid INTEGER NOT NULL,
    pool_id INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    workload_type INTEGER NOT NULL,
    next_action INTEGER NOT NULL,
    body TEXT NOT NULL,
    signatures_provision TEXT NOT NULL,
    signatures_delete TEXT NOT NULL,
    result TEXT,
    active INTEGER NOT NULL,   -- 1 while deployed on its node (burning its pool, counted in reserved_resources)
    deploy_at REAL,            -- set while waiting for the node to report a result
    delete_at REAL,            -- set while waiting for the node to confirm a deletion
    fail_message TEXT,         -- forced failure (admin) applied when the node reports
    cru INTEGER NOT NULL,
    mru REAL NOT NULL,
    sru REAL NOT NULL,
    hru REAL NOT NULL,
    cu REAL NOT NULL,
    su REAL NOT NULL,
    created REAL NOT NULL,
    network_name TEXT,         -- denormalised for the node-side checks of §13
    ip TEXT,
    domain TEXT
);
CREATE INDEX IF NOT EXISTS workloads_customer ON workloads (customer_tid, next_action, id);
CREATE INDEX IF NOT EXISTS workloads_action ON workloads (next_action, id);
CREATE INDEX IF NOT EXISTS workloads_deploy ON workloads (deploy_at) WHERE deploy_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS workloads_delete ON workloads (delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS workloads_active_pool ON workloads (pool_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS workloads_active_node ON workloads (node_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS workloads_node ON workloads (node_id, workload_type, next_action);

-- "Make the next workload on this node fail" requests, consumed in order.
CREATE TABLE IF NOT EXISTS node_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS node_failures_node ON node_failures (node_id, id);
"""


class Store:
    """One SQLite connection and the lock that serialises every transaction on it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), never implicit.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction; commits on success, rolls back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = :key", {"key": key}).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE SET value = :value",
        {"key": key, "value": value},
    )
