"""The pools schema: user pools and their capacity reservations. The only module of pools that runs SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from psycopg2.extras import RealDictCursor

from services.common.db import Database

Row = dict[str, Any]


def _one(cur: RealDictCursor) -> Row | None:
    row = cur.fetchone()
    return None if row is None else dict(row)


POOL_COLUMNS = """p.id, p.owner, p.grid_pool_id, p.farm_id, p.farm_name, p.node_ids, p.currency, p.cus_bought,
    p.sus_bought, p.state, p.state_reason, p.days, p.created_at, p.updated_at"""


def _pool_where(cur: RealDictCursor, condition: str, params: Row, lock: str = "") -> Row | None:
    """The one pool matching ``condition`` (SQL of this module, never user text), locked as ``lock`` says."""
    cur.execute(f"SELECT {POOL_COLUMNS} FROM pools.pools p WHERE {condition} {lock}", params)
    return _one(cur)


def insert_pool(cur: RealDictCursor, owner: str, key: str, farm: Row, currency: str, days: int | None) -> Row | None:
    """A new pool row in state ``submitting``, or the existing one of (owner, key) (its currency and days updated
    while nothing was reserved for it)."""
    cur.execute(
        """
        INSERT INTO pools.pools AS p (owner, idempotency_key, farm_id, farm_name, currency, days)
        VALUES (%(owner)s, %(key)s, %(farm_id)s, %(farm_name)s, %(currency)s, %(days)s)
        ON CONFLICT (owner, idempotency_key) DO UPDATE
            -- A retry after a failure may change the currency or the days; a pool reserved stays as it was.
            SET currency = CASE WHEN p.state IN ('submitting', 'failed') THEN EXCLUDED.currency ELSE p.currency END,
                days = CASE WHEN p.state IN ('submitting', 'failed') THEN EXCLUDED.days ELSE p.days END
        RETURNING id
        """,
        {
            "owner": owner,
            "key": key,
            "farm_id": farm["id"],
            "farm_name": farm["name"],
            "currency": currency,
            "days": days,
        },
    )
    return _one(cur)


def lock_pool_by_key(cur: RealDictCursor, owner: str, key: str) -> Row | None:
    # FOR UPDATE: a second request with the same key waits here until the first has talked to the explorer and
    # committed, then sees its result instead of buying a second pool.
    return _pool_where(
        cur, "owner = %(owner)s AND idempotency_key = %(key)s", {"owner": owner, "key": key}, "FOR UPDATE"
    )


def lock_pool(cur: RealDictCursor, owner: str, pool_id: int) -> Row | None:
    return _pool_where(cur, "owner = %(owner)s AND id = %(id)s", {"owner": owner, "id": pool_id}, "FOR UPDATE")


def get_pool(cur: RealDictCursor, owner: str, pool_id: int) -> Row | None:
    """The pool ``pool_id`` if ``owner`` owns it (another user's pool is indistinguishable from none)."""
    return _pool_where(cur, "owner = %(owner)s AND id = %(id)s", {"owner": owner, "id": pool_id})


def list_pools(cur: RealDictCursor, owner: str, states: tuple[str, ...] | None = None) -> list[Row]:
    cur.execute(
        f"""SELECT {POOL_COLUMNS} FROM pools.pools p
             WHERE owner = %(owner)s AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
             ORDER BY p.id""",
        {"owner": owner, "states": list(states) if states else None},
    )
    return list(cur.fetchall())


def update_pool(cur: RealDictCursor, pool_id: int, **fields: Any) -> None:
    allowed = {"grid_pool_id", "node_ids", "cus_bought", "sus_bought", "state", "state_reason", "currency"}
    assert set(fields) <= allowed, set(fields) - allowed
    assignments = ", ".join(f"{name} = %({name})s" for name in fields)
    cur.execute(
        f"UPDATE pools.pools SET {assignments}, updated_at = now() WHERE id = %(id)s", {**fields, "id": pool_id}
    )


def add_bought(cur: RealDictCursor, pool_id: int, cus: int, sus: int) -> None:
    cur.execute(
        """UPDATE pools.pools SET cus_bought = cus_bought + %(cus)s, sus_bought = sus_bought + %(sus)s,
                  updated_at = now() WHERE id = %(id)s""",
        {"cus": cus, "sus": sus, "id": pool_id},
    )


# Namespace of the advisory locks that serialise pool creations per farm ("pool").
_CREATE_LOCK = 0x706F6F6C


class Transactions(Protocol):
    """What runs a transaction: a :class:`Database`, or the one connection holding a creation lock."""

    def transaction(self) -> AbstractContextManager[RealDictCursor]: ...


class _LockedConnection:
    """Transactions on the connection that holds a session lock: the lock holder needs no second connection, so
    requests waiting for the lock can never starve it of one."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[RealDictCursor]:
        try:
            with self._conn.cursor(cursor_factory=RealDictCursor) as cur:
                yield cur
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise


def _advisory(conn: Any, function: str, farm_id: int) -> Any:
    """``function`` (one of PostgreSQL's advisory-lock functions) on the farm's creation lock, outside any
    transaction: the lock is the session's and outlives the transactions run under it."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"SELECT {function}(%s, %s)", (_CREATE_LOCK, farm_id))
        row = cur.fetchone()
    conn.autocommit = False
    return None if row is None else row[0]


@contextmanager
def _held(conn: Any, farm_id: int) -> Iterator[Transactions]:
    """The block runs its transactions on the lock's connection; the lock is released after it, whatever happened."""
    try:
        yield _LockedConnection(conn)
    finally:
        conn.rollback()
        _advisory(conn, "pg_advisory_unlock", farm_id)


@contextmanager
def farm_creations_locked(db: Database, farm_id: int) -> Iterator[Transactions]:
    """Hold the lock on pool creations in ``farm_id`` (every process, every instance) for the block, which runs its
    transactions on the returned object (the lock's own connection).

    A session lock: it spans several transactions and the explorer call between them, and PostgreSQL releases it
    at once if the process dies.
    """
    with db.connection() as conn:
        _advisory(conn, "pg_advisory_lock", farm_id)
        with _held(conn, farm_id) as locked:
            yield locked


@contextmanager
def farm_creations_if_idle(db: Database, farm_id: int) -> Iterator[Transactions | None]:
    """The farm's creation lock if nobody holds it (None otherwise, at once): a creation in progress holds it for
    its whole attempt, so a pool left ``submitting`` in an idle farm was abandoned by a buyer that died."""
    with db.connection() as conn:
        if not _advisory(conn, "pg_try_advisory_lock", farm_id):
            yield None
            return
        with _held(conn, farm_id) as locked:
            yield locked


def claimed_grid_pools(cur: RealDictCursor, above: int) -> set[int]:
    """The grid pool ids above ``above`` that one of our pools already is."""
    cur.execute("SELECT grid_pool_id FROM pools.pools WHERE grid_pool_id > %(above)s", {"above": above})
    return {int(row["grid_pool_id"]) for row in cur.fetchall()}


def next_creation_floor(cur: RealDictCursor, farm_id: int, floor: int) -> int | None:
    """The lowest floor above ``floor`` noted by a later pool creation in ``farm_id``, or None.

    Creations in one farm are serialised and each notes the newest pool id before sending, so a pool made by the
    attempt with ``floor`` has an id in (floor, this value].
    """
    cur.execute(
        """SELECT min(r.grid_floor) AS next FROM pools.reservations r JOIN pools.pools p ON p.id = r.pool_id
            WHERE p.farm_id = %(farm)s AND r.kind = 'create' AND r.grid_floor > %(floor)s""",
        {"farm": farm_id, "floor": floor},
    )
    row = cur.fetchone()
    return None if row is None or row["next"] is None else int(row["next"])


RESERVATION_COLUMNS = """r.id, r.pool_id, r.kind, r.grid_reservation_id, r.cus, r.sus, r.currency, r.escrow_address,
    r.escrow_asset, r.escrow_amount, r.state, r.state_reason, r.created_at, r.expires_at, r.paid_at,
    r.baseline_cus, r.baseline_sus, r.baseline_active_cu, r.baseline_active_su, r.baseline_at, r.grid_floor"""


def upsert_reservation(cur: RealDictCursor, pool_id: int, key: str, kind: str, cus: int, sus: int, currency: str,
                       expiry_seconds: int) -> Row:  # fmt: skip
    """The reservation of (pool, key), created in state ``submitting`` when new; a retry of one the explorer never
    made takes the new amounts and currency."""
    cur.execute(
        """
        INSERT INTO pools.reservations AS r (pool_id, idempotency_key, kind, cus, sus, currency, expires_at)
        VALUES (%(pool)s, %(key)s, %(kind)s, %(cus)s, %(sus)s, %(currency)s, now() + make_interval(secs => %(exp)s))
        ON CONFLICT (pool_id, idempotency_key) DO UPDATE
            -- A retry of a reservation the explorer never made (failed, or interrupted) buys what is asked now;
            -- one that was made answers as it was (the same key, the same purchase).
            SET cus = CASE WHEN r.state IN ('submitting', 'failed') THEN EXCLUDED.cus ELSE r.cus END,
                sus = CASE WHEN r.state IN ('submitting', 'failed') THEN EXCLUDED.sus ELSE r.sus END,
                currency = CASE WHEN r.state IN ('submitting', 'failed') THEN EXCLUDED.currency ELSE r.currency END,
                expires_at = CASE WHEN r.state IN ('submitting', 'failed') THEN EXCLUDED.expires_at
                                  ELSE r.expires_at END
        RETURNING id
        """,
        {
            "pool": pool_id,
            "key": key,
            "kind": kind,
            "cus": cus,
            "sus": sus,
            "currency": currency,
            "exp": expiry_seconds,
        },
    )
    row = cur.fetchone()
    assert row is not None
    return get_reservation(cur, int(row["id"]))  # type: ignore[return-value]


def get_reservation(cur: RealDictCursor, reservation_id: int) -> Row | None:
    cur.execute(f"SELECT {RESERVATION_COLUMNS} FROM pools.reservations r WHERE id = %(id)s", {"id": reservation_id})
    return _one(cur)


def latest_reservation(cur: RealDictCursor, pool_id: int) -> Row | None:
    cur.execute(
        f"""SELECT {RESERVATION_COLUMNS} FROM pools.reservations r
             WHERE pool_id = %(pool)s AND state <> 'failed' ORDER BY id DESC LIMIT 1""",
        {"pool": pool_id},
    )
    return _one(cur)


def update_reservation(cur: RealDictCursor, reservation_id: int, **fields: Any) -> None:
    allowed = {
        "grid_reservation_id", "escrow_address", "escrow_asset", "escrow_amount", "state", "state_reason",
        "paid_at", "baseline_cus", "baseline_sus", "baseline_active_cu", "baseline_active_su", "baseline_at",
        "expires_at", "grid_floor",
    }  # fmt: skip
    assert set(fields) <= allowed, set(fields) - allowed
    assignments = ", ".join(f"{name} = %({name})s" for name in fields)
    cur.execute(f"UPDATE pools.reservations SET {assignments} WHERE id = %(id)s", {**fields, "id": reservation_id})


def pools_awaiting_payment(cur: RealDictCursor, limit: int = 100) -> list[int]:
    """Our pools with a reservation awaiting payment, oldest reservation first (read without locks)."""
    cur.execute(
        """SELECT pool_id FROM pools.reservations WHERE state = 'awaiting_payment'
            GROUP BY pool_id ORDER BY min(id) LIMIT %(limit)s""",
        {"limit": limit},
    )
    return [int(row["pool_id"]) for row in cur.fetchall()]


def claim_waiting_reservations(cur: RealDictCursor, pool_id: int | None = None, limit: int = 100) -> list[Row]:
    """Reservations awaiting payment (of ``pool_id``, or of any pool), locked for this transaction.

    SKIP LOCKED: several pools workers (or an overlapping beat tick) each take different rows and nobody waits on
    a row another worker is already checking.
    """
    cur.execute(
        f"""SELECT {RESERVATION_COLUMNS}, p.grid_pool_id, p.owner
              FROM pools.reservations r JOIN pools.pools p ON p.id = r.pool_id
             WHERE r.state = 'awaiting_payment' AND (%(pool)s::bigint IS NULL OR r.pool_id = %(pool)s::bigint)
             ORDER BY r.id LIMIT %(limit)s
               FOR UPDATE OF r SKIP LOCKED""",
        {"limit": limit, "pool": pool_id},
    )
    return list(cur.fetchall())


def interrupted_creations(cur: RealDictCursor, idle_seconds: float, limit: int = 20) -> list[Row]:
    """Pools still ``submitting`` although nothing touched them for ``idle_seconds`` (their buyer may have died)."""
    cur.execute(
        f"""SELECT {POOL_COLUMNS} FROM pools.pools p
             WHERE p.state = 'submitting' AND p.updated_at < now() - make_interval(secs => %(idle)s)
             ORDER BY p.id LIMIT %(limit)s""",
        {"idle": idle_seconds, "limit": limit},
    )
    return list(cur.fetchall())


def lock_pool_if_free(cur: RealDictCursor, pool_id: int) -> Row | None:
    """The pool locked for this transaction, or None at once when another transaction holds it."""
    return _pool_where(cur, "id = %(id)s", {"id": pool_id}, "FOR UPDATE SKIP LOCKED")


def lock_pool_by_id(cur: RealDictCursor, pool_id: int) -> Row | None:
    return _pool_where(cur, "id = %(id)s", {"id": pool_id}, "FOR UPDATE")


def creation_reservation(cur: RealDictCursor, pool_id: int) -> Row | None:
    """The newest creation reservation of a pool."""
    cur.execute(
        f"""SELECT {RESERVATION_COLUMNS} FROM pools.reservations r
             WHERE pool_id = %(pool)s AND kind = 'create' ORDER BY id DESC LIMIT 1""",
        {"pool": pool_id},
    )
    return _one(cur)


def count_awaiting_payment(cur: RealDictCursor) -> int:
    """Reservations (pool creations and extensions) waiting for their payment (metrics, read at scrape time)."""
    cur.execute("SELECT count(*) AS n FROM pools.reservations WHERE state = 'awaiting_payment'")
    return int(cur.fetchone()["n"])
