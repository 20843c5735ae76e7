"""The wizard sessions' SQL on real PostgreSQL (services/chatflow/store.py): another user's session reads as none."""

from __future__ import annotations

import uuid
from typing import Any

from services.chatflow import store
from tests.conftest import RowLocks


def owner() -> str:
    return f"u{uuid.uuid4().hex[:12]}.3bot"


def test_a_session_belongs_to_its_owner(rollback_cursor: Any) -> None:
    alice = owner()
    created = store.create(rollback_cursor, alice, "ubuntu", 2, 600)
    assert (created["owner"], created["solution_type"], created["step"], created["status"]) == (alice, "ubuntu", 2,
                                                                                                 "open")  # fmt: skip
    rollback_cursor.execute("SELECT expires_at - now() AS left FROM chatflow.sessions WHERE id = %s", (created["id"],))
    assert 599 <= rollback_cursor.fetchone()["left"].total_seconds() <= 600
    assert store.get(rollback_cursor, created["id"], alice) == created
    assert store.get(rollback_cursor, created["id"], owner()) is None
    assert store.create(rollback_cursor, alice, "ubuntu", 0, 600)["id"] != created["id"]


def test_expired_and_abandoned_sessions_read_as_none(rollback_cursor: Any) -> None:
    alice = owner()
    expired = store.create(rollback_cursor, alice, "ubuntu", 0, -1)
    assert store.get(rollback_cursor, expired["id"], alice) is None
    abandoned = store.create(rollback_cursor, alice, "ubuntu", 0, 600)
    rollback_cursor.execute("UPDATE chatflow.sessions SET status = 'abandoned' WHERE id = %s", (abandoned["id"],))
    assert store.get(rollback_cursor, abandoned["id"], alice) is None
    assert store.open_sessions(rollback_cursor, alice) == []


def test_open_sessions_are_the_owners_open_ones_most_recent_first(rollback_cursor: Any) -> None:
    alice, bob = owner(), owner()
    older = store.create(rollback_cursor, alice, "ubuntu", 0, 600)
    newer = store.create(rollback_cursor, alice, "minio", 0, 600)
    submitted = store.create(rollback_cursor, alice, "ubuntu", 0, 600)
    store.create(rollback_cursor, bob, "ubuntu", 0, 600)
    store.create(rollback_cursor, alice, "ubuntu", 0, -1)  # expired
    rollback_cursor.execute("UPDATE chatflow.sessions SET updated_at = now() - interval '1 minute' WHERE id = %s",
                            (older["id"],))  # fmt: skip
    rollback_cursor.execute("UPDATE chatflow.sessions SET status = 'submitted' WHERE id = %s", (submitted["id"],))
    assert [s["id"] for s in store.open_sessions(rollback_cursor, alice)] == [newer["id"], older["id"]]


def test_only_the_owner_deletes_a_session(rollback_cursor: Any) -> None:
    alice = owner()
    session = store.create(rollback_cursor, alice, "ubuntu", 0, 600)
    assert store.delete(rollback_cursor, session["id"], owner()) is False
    assert store.get(rollback_cursor, session["id"], alice) is not None
    assert store.delete(rollback_cursor, session["id"], alice) is True
    assert store.get(rollback_cursor, session["id"], alice) is None


def test_get_locks_the_row_only_when_asked(row_locks: RowLocks) -> None:
    one, table = row_locks.one, "chatflow.sessions"
    session = row_locks.commit(table, lambda cur: store.create(cur, owner(), "ubuntu", 0, 600))
    assert store.get(one, session["id"], session["owner"]) is not None
    assert not row_locks.locked_elsewhere(table, session["id"])
    assert store.get(one, session["id"], session["owner"], lock=True) is not None
    assert row_locks.locked_elsewhere(table, session["id"])
