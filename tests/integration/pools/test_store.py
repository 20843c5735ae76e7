"""The pools store on real PostgreSQL, each test inside a transaction that is rolled back."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg2
import pytest

from services.pools import store
from tests.conftest import RowLocks

FARM = {"id": 1, "name": "freefarm"}


def _pool(cur: Any, owner: str = "alice.3bot", key: str | None = None) -> int:
    row = store.insert_pool(cur, owner, key or uuid.uuid4().hex, FARM, "TFT", 30)
    assert row is not None
    return int(row["id"])


def test_one_pool_per_owner_and_key(rollback_cursor: Any) -> None:
    key = uuid.uuid4().hex
    first = store.insert_pool(rollback_cursor, "alice.3bot", key, FARM, "TFT", 30)
    assert first is not None
    again = store.insert_pool(rollback_cursor, "alice.3bot", key, FARM, "TFT", 30)
    assert again is not None and again["id"] == first["id"]
    assert store.insert_pool(rollback_cursor, "bob.3bot", key, FARM, "TFT", 30) is not None  # keys are per owner
    locked = store.lock_pool_by_key(rollback_cursor, "alice.3bot", key)
    assert locked is not None and locked["state"] == "submitting"


def test_pools_are_only_visible_to_their_owner(rollback_cursor: Any) -> None:
    pool_id = _pool(rollback_cursor, "alice.3bot")
    assert store.get_pool(rollback_cursor, "alice.3bot", pool_id) is not None
    assert store.get_pool(rollback_cursor, "bob.3bot", pool_id) is None
    assert pool_id not in [p["id"] for p in store.list_pools(rollback_cursor, "bob.3bot")]


def test_reservation_upsert_is_idempotent_per_key(rollback_cursor: Any) -> None:
    pool_id = _pool(rollback_cursor)
    a = store.upsert_reservation(rollback_cursor, pool_id, "k" * 10, "create", 10, 20, "TFT", 3600)
    b = store.upsert_reservation(rollback_cursor, pool_id, "k" * 10, "create", 10, 20, "TFT", 3600)
    assert a["id"] == b["id"] and a["state"] == "submitting"
    store.update_reservation(rollback_cursor, a["id"], state="awaiting_payment", grid_reservation_id=10**12)
    claimed = store.claim_waiting_reservations(rollback_cursor)
    assert a["id"] in [r["id"] for r in claimed]
    assert [r["id"] for r in store.claim_waiting_reservations(rollback_cursor, pool_id)] == [a["id"]]
    assert pool_id in store.pools_awaiting_payment(rollback_cursor)


def test_a_retry_of_a_reservation_never_made_buys_the_new_amounts(rollback_cursor: Any) -> None:
    # A retry (same key) after a failure or an interruption asks for other amounts: those are bought, not the
    # stale ones; once the explorer made the reservation, the key answers what it made.
    pool_id = _pool(rollback_cursor)
    first = store.upsert_reservation(rollback_cursor, pool_id, "r" * 10, "create", 10, 20, "TFT", 3600)
    store.update_reservation(rollback_cursor, first["id"], state="failed", state_reason="explorer down")
    retry = store.upsert_reservation(rollback_cursor, pool_id, "r" * 10, "create", 30, 40, "TFTA", 3600)
    assert retry["id"] == first["id"] and (retry["cus"], retry["sus"], retry["currency"]) == (30, 40, "TFTA")
    store.update_reservation(rollback_cursor, first["id"], state="awaiting_payment", grid_reservation_id=10**12 + 1)
    made = store.upsert_reservation(rollback_cursor, pool_id, "r" * 10, "create", 50, 60, "TFT", 3600)
    assert (made["cus"], made["sus"], made["currency"]) == (30, 40, "TFTA")


def test_bought_capacity_only_grows_and_states_are_checked(rollback_cursor: Any) -> None:
    pool_id = _pool(rollback_cursor)
    store.add_bought(rollback_cursor, pool_id, 100, 200)
    store.add_bought(rollback_cursor, pool_id, 1, 2)
    pool = store.get_pool(rollback_cursor, "alice.3bot", pool_id)
    assert pool is not None and (pool["cus_bought"], pool["sus_bought"]) == (101, 202)
    with pytest.raises(psycopg2.errors.CheckViolation):
        store.update_pool(rollback_cursor, pool_id, state="paid-ish")


def test_a_new_pool_records_what_was_asked(rollback_cursor: Any) -> None:
    row = store.insert_pool(rollback_cursor, "alice.3bot", uuid.uuid4().hex, {"id": 7, "name": "paidfarm"}, "FreeTFT",
                            None)  # fmt: skip
    assert row is not None
    pool = store.get_pool(rollback_cursor, "alice.3bot", int(row["id"]))
    assert pool is not None
    assert (pool["owner"], pool["farm_id"], pool["farm_name"], pool["currency"], pool["days"], pool["state"]) == (
        "alice.3bot", 7, "paidfarm", "FreeTFT", None, "submitting")  # fmt: skip


def test_another_owner_can_neither_lock_nor_find_a_pool(rollback_cursor: Any) -> None:
    key = uuid.uuid4().hex
    pool_id = _pool(rollback_cursor, "alice.3bot", key)
    assert store.lock_pool(rollback_cursor, "bob.3bot", pool_id) is None
    assert store.lock_pool_by_key(rollback_cursor, "bob.3bot", key) is None
    locked = store.lock_pool(rollback_cursor, "alice.3bot", pool_id)
    assert locked is not None and locked["id"] == pool_id
    by_key = store.lock_pool_by_key(rollback_cursor, "alice.3bot", key)
    assert by_key is not None and by_key["id"] == pool_id


def test_the_owners_pools_in_order_optionally_by_state(rollback_cursor: Any) -> None:
    owner = f"u{uuid.uuid4().hex[:12]}.3bot"
    first, second, third = (_pool(rollback_cursor, owner) for _ in range(3))
    store.update_pool(rollback_cursor, second, state="active")
    _pool(rollback_cursor, "bob.3bot")
    assert [p["id"] for p in store.list_pools(rollback_cursor, owner)] == [first, second, third]
    assert [p["id"] for p in store.list_pools(rollback_cursor, owner, ("active",))] == [second]
    assert [p["id"] for p in store.list_pools(rollback_cursor, owner, ("submitting", "failed"))] == [first, third]
    assert store.list_pools(rollback_cursor, f"u{uuid.uuid4().hex[:12]}.3bot") == []


def test_the_pool_row_locks_are_taken_only_by_the_locking_reads(row_locks: RowLocks) -> None:
    """``lock_pool`` / ``lock_pool_by_key`` hold the row until the transaction ends (a second purchase with the same
    key, an extension, waits for the first); ``get_pool`` never does."""
    one, table = row_locks.one, "pools.pools"
    owner, key = f"lock-{uuid.uuid4().hex[:8]}.3bot", uuid.uuid4().hex
    row = row_locks.commit(
        table, lambda cur: {**(store.insert_pool(cur, owner, key, FARM, "TFT", 30) or {}), "owner": owner}
    )
    assert store.get_pool(one, owner, row["id"]) is not None
    assert not row_locks.locked_elsewhere(table, row["id"])
    one.connection.rollback()
    for lock in (lambda: store.lock_pool(one, owner, row["id"]), lambda: store.lock_pool_by_key(one, owner, key)):
        assert lock() is not None
        assert row_locks.locked_elsewhere(table, row["id"])
        one.connection.rollback()
        assert not row_locks.locked_elsewhere(table, row["id"])
