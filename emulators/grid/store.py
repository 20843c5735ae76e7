"""The emulator's own storage: one SQLite file in WAL mode, one connection per server thread.

This is the *emulated outside system*, not marketplace infrastructure, so stdlib sqlite3 is enough. Requests are
served concurrently, as the real explorer served them: a read runs in a deferred transaction on its thread's own
connection (a WAL snapshot: it neither waits for writers nor blocks them), and every change runs in one short
``BEGIN IMMEDIATE`` transaction, so SQLite's own lock orders writers (each waits up to ``BUSY_TIMEOUT_MS``) and a
read-modify-write is never interleaved with another — there is no lock of ours around the database.
The *_store modules hold the queries; this one owns the connections, schema and small key/value metadata.
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
    domain TEXT,
    active_from REAL,          -- when the node started running it (its usage is reported report_lag later)
    active_until REAL          -- when it stopped (deleted, failed, or its network torn down)
);
CREATE INDEX IF NOT EXISTS workloads_customer ON workloads (customer_tid, next_action, id);
CREATE INDEX IF NOT EXISTS workloads_action ON workloads (next_action, id);
CREATE INDEX IF NOT EXISTS workloads_deploy ON workloads (deploy_at) WHERE deploy_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS workloads_delete ON workloads (delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS workloads_active_pool ON workloads (pool_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS workloads_active_node ON workloads (node_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS workloads_node ON workloads (node_id, workload_type, next_action);
-- What the gateways' DNS serves (dns_zones.py): running subdomains and delegations by name.
CREATE INDEX IF NOT EXISTS workloads_live_domain ON workloads (workload_type, domain) WHERE active = 1;

-- Certificates the emulated TLS endpoints obtained (ct_log.py): what crt.sh would list.
CREATE TABLE IF NOT EXISTS ct_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,        -- lower case, no trailing dot
    staging INTEGER NOT NULL,  -- 1: Let's Encrypt staging CA (TEST_CERT=true)
    logged REAL NOT NULL       -- entry_timestamp, emulator clock
);

-- "Make the next workload on this node fail" requests, consumed in order.
CREATE TABLE IF NOT EXISTS node_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS node_failures_node ON node_failures (node_id, id);
"""


# How long a transaction waits for SQLite's write lock before failing; writers hold it for milliseconds.
BUSY_TIMEOUT_MS = 30_000


class Store:
    """The state file, with one connection per thread (sqlite3 connections are not shared between threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()  # guards the list above, never the database
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")  # persistent: set once on the file
        conn.executescript(SCHEMA)
        upgrade(conn)

    def _connection(self, readonly: bool = False) -> sqlite3.Connection:
        name = "reader" if readonly else "writer"
        conn: sqlite3.Connection | None = getattr(self._local, name, None)
        if conn is None:
            # isolation_level=None: transactions are explicit (BEGIN below), never implicit.
            # check_same_thread=False only so that close() may run on another thread; each connection is used by
            # the thread that opened it. The reader is opened read-only: a write in a read is an error at once.
            target = f"{self._path.resolve().as_uri()}?mode=ro" if readonly else str(self._path)
            conn = sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False, uri=readonly)  # fmt: skip
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if not readonly:
                conn.execute("PRAGMA synchronous=NORMAL")
            setattr(self._local, name, conn)
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction; commits on success, rolls back on any exception.

        ``BEGIN IMMEDIATE`` takes SQLite's write lock at once (waiting for another writer if needed), so whatever
        the block reads is still true when it writes: no lost update.
        """
        with self._run("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one read transaction: a consistent snapshot that takes no write lock.

        It runs on the thread's read-only connection: a write in it fails at once (never a rare SQLITE_BUSY).
        """
        with self._run("BEGIN DEFERRED", readonly=True) as conn:
            yield conn

    @contextmanager
    def _run(self, begin: str, readonly: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connection(readonly)
        conn.execute(begin)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (at shutdown, or after seeding in the arbiter)."""
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()


# Columns added after the first release: a state file made before them gets them on open (NULL = unknown).
_ADDED_COLUMNS = {"workloads": ("active_from REAL", "active_until REAL")}


def upgrade(conn: sqlite3.Connection) -> None:
    """Add the columns an older state file lacks (CREATE TABLE IF NOT EXISTS leaves existing tables alone)."""
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column.split()[0] not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        # Workloads running before the upgrade count as running since the beginning of time.
        if table == "workloads" and "active_from" not in present:
            conn.execute("UPDATE workloads SET active_from = 0 WHERE active = 1")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = :key", {"key": key}).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE SET value = :value",
        {"key": key, "value": value},
    )
