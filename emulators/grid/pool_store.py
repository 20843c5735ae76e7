"""Queries for capacity pools and the capacity reservations that pay for them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, TypeVar

from emulators.grid.capacity import Burn

# An unpaid capacity reservation can be paid for this long after its creation (§4.5, §12).
RESERVATION_TTL_SECONDS = 3600

Record = TypeVar("Record")


@dataclass
class Pool:
    id: int
    customer_tid: int
    node_ids: list[str]
    burn: Burn
    empty_at: float | None


@dataclass
class Reservation:
    id: int
    pool_id: int
    customer_tid: int
    cus: int
    sus: int
    node_ids: list[str]
    currency: str
    asset: str
    address: str
    amount: int
    paid_amount: int
    created: float
    paid_at: float | None
    auto_pay_at: float | None
    json: str
    customer_signature: str

    def expired(self, now: float) -> bool:
        return self.paid_at is None and now >= self.created + RESERVATION_TTL_SECONDS


def _by_id(conn: sqlite3.Connection, table: Literal["pools", "reservations", "payments"],
           row_id: int) -> sqlite3.Row | None:  # fmt: skip
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM {table} WHERE id = :id",  # noqa: S608 - the table is one of this module's
        {"id": row_id},
    ).fetchone()
    return row


def _record(kind: type[Record], row: sqlite3.Row | None, **decode: Callable[[Any], Any]) -> Record | None:
    """The dataclass ``kind`` of a row whose columns are named as its fields (those in ``decode`` decoded by their
    function), or None for no row."""
    if row is None:
        return None
    names = [field.name for field in fields(kind)]  # type: ignore[arg-type]
    return kind(**{name: decode[name](row[name]) if name in decode else row[name] for name in names})


def _next_due(conn: sqlite3.Connection, query: str, column: str) -> tuple[int, float] | None:
    """(id, time in ``column``) of the first row ``query`` selects, or None."""
    row = conn.execute(query).fetchone()
    return None if row is None else (int(row["id"]), float(row[column]))


def _pool(row: sqlite3.Row) -> Pool:
    burn = Burn(row["cus"], row["sus"], row["last_updated"], row["active_cu"], row["active_su"])
    return Pool(row["id"], row["customer_tid"], json.loads(row["node_ids"]), burn, row["empty_at"])


def get_pool(conn: sqlite3.Connection, pool_id: int) -> Pool | None:
    row = _by_id(conn, "pools", pool_id)
    return None if row is None else _pool(row)


def pools_of(conn: sqlite3.Connection, customer_tid: int) -> list[Pool]:
    rows = conn.execute("SELECT * FROM pools WHERE customer_tid = :tid ORDER BY id", {"tid": customer_tid}).fetchall()
    return [_pool(row) for row in rows]


def save_pool(conn: sqlite3.Connection, pool: Pool) -> None:
    """Insert or update ``pool`` (its id is chosen by the caller: the id of the reservation that created it)."""
    conn.execute(
        "INSERT INTO pools (id, customer_tid, node_ids, cus, sus, last_updated, active_cu, active_su, empty_at)"
        " VALUES (:id, :customer_tid, :node_ids, :cus, :sus, :last_updated, :active_cu, :active_su, :empty_at)"
        " ON CONFLICT (id) DO UPDATE SET node_ids = :node_ids, cus = :cus, sus = :sus,"
        " last_updated = :last_updated, active_cu = :active_cu, active_su = :active_su, empty_at = :empty_at",
        {
            "id": pool.id,
            "customer_tid": pool.customer_tid,
            "node_ids": json.dumps(pool.node_ids),
            "cus": pool.burn.cus,
            "sus": pool.burn.sus,
            "last_updated": pool.burn.last_updated,
            "active_cu": pool.burn.active_cu,
            "active_su": pool.burn.active_su,
            "empty_at": pool.empty_at,
        },
    )


def next_pool_running_dry(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """The pool that runs empty first among those with deployed workloads still to be stopped."""
    return _next_due(
        conn,
        "SELECT p.id, p.empty_at FROM pools p WHERE p.empty_at IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM workloads w WHERE w.pool_id = p.id AND w.active = 1 AND w.next_action = 3)"
        " ORDER BY p.empty_at LIMIT 1",
        "empty_at",
    )


def insert_reservation(conn: sqlite3.Connection, reservation: Reservation) -> int:
    """Store a new reservation (``id`` and ``pool_id`` 0 mean "new pool": the pool takes the new id)."""
    cursor = conn.execute(
        "INSERT INTO reservations (pool_id, customer_tid, cus, sus, node_ids, currency, asset, address, amount,"
        " paid_amount, created, paid_at, auto_pay_at, json, customer_signature) VALUES (:pool_id, :customer_tid,"
        " :cus, :sus, :node_ids, :currency, :asset, :address, :amount, 0, :created, NULL, :auto_pay_at, :json,"
        " :customer_signature)",
        {**asdict(reservation), "node_ids": json.dumps(reservation.node_ids)},
    )
    reservation_id = int(cursor.lastrowid or 0)
    if reservation.pool_id == 0:
        conn.execute("UPDATE reservations SET pool_id = id WHERE id = :id", {"id": reservation_id})
    return reservation_id


def get_reservation(conn: sqlite3.Connection, reservation_id: int) -> Reservation | None:
    return _record(Reservation, _by_id(conn, "reservations", reservation_id), node_ids=json.loads)


def save_payment(conn: sqlite3.Connection, reservation: Reservation) -> None:
    conn.execute(
        "UPDATE reservations SET paid_amount = :paid_amount, paid_at = :paid_at WHERE id = :id",
        {"paid_amount": reservation.paid_amount, "paid_at": reservation.paid_at, "id": reservation.id},
    )


def next_auto_payment(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """(id, time) of the next simulated payment of an unpaid reservation."""
    return _next_due(
        conn,
        "SELECT id, auto_pay_at FROM reservations WHERE paid_at IS NULL AND auto_pay_at IS NOT NULL"
        " ORDER BY auto_pay_at, id LIMIT 1",
        "auto_pay_at",
    )


def clear_auto_pay(conn: sqlite3.Connection, reservation_id: int) -> None:
    """The simulated payment was sent: the reservation waits for its credit like any other."""
    conn.execute("UPDATE reservations SET auto_pay_at = NULL WHERE id = :id", {"id": reservation_id})


@dataclass
class Payment:
    """A Stellar payment into an escrow account, as the explorer's escrow watcher sees it (§4.5)."""

    id: int
    address: str
    asset: str
    amount: int
    memo: str
    received: float
    credit_at: float
    reservation_id: int | None
    outcome: str | None


def insert_payment(conn: sqlite3.Connection, payment: Payment) -> int:
    cursor = conn.execute(
        "INSERT INTO payments (address, asset, amount, memo, received, credit_at)"
        " VALUES (:address, :asset, :amount, :memo, :received, :credit_at)",
        asdict(payment),
    )
    return int(cursor.lastrowid or 0)


def get_payment(conn: sqlite3.Connection, payment_id: int) -> Payment | None:
    return _record(Payment, _by_id(conn, "payments", payment_id))


def save_payment_outcome(conn: sqlite3.Connection, payment: Payment) -> None:
    conn.execute(
        "UPDATE payments SET reservation_id = :reservation_id, outcome = :outcome WHERE id = :id",
        {"reservation_id": payment.reservation_id, "outcome": payment.outcome, "id": payment.id},
    )


def next_payment_to_credit(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """(id, time) of the next received payment the escrow watcher has not looked at yet."""
    return _next_due(
        conn,
        "SELECT id, credit_at FROM payments WHERE outcome IS NULL ORDER BY credit_at, id LIMIT 1",
        "credit_at",
    )
