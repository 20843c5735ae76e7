"""The auth store on real PostgreSQL (services/auth/store.py). Every user a test makes is deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from services.auth import store
from services.common.db import Database

MADE: list[str] = []


@pytest.fixture
def db(migrated_database: str) -> Iterator[Database]:
    database = Database(migrated_database)
    yield database
    with database.transaction() as cur:
        cur.execute("DELETE FROM auth.users WHERE username = ANY(%s)", (MADE,))
    MADE.clear()
    database.close()


def name() -> str:
    """A new user name, deleted with its user after the test."""
    username = f"u{uuid.uuid4().hex[:12]}.3bot"
    MADE.append(username)
    return username


def row(db: Database, user_id: int) -> dict[str, Any]:
    with db.transaction() as cur:
        cur.execute("SELECT * FROM auth.users WHERE id = %s", (user_id,))
        return dict(cur.fetchone())


def test_a_user_is_created_once_and_refreshed_at_each_login(db: Database) -> None:
    username = name()
    first = store.upsert_user(db, username, "old@example.com", "key1")
    created = row(db, first)
    assert (created["username"], created["email"], created["public_key"]) == (username, "old@example.com", "key1")
    assert store.upsert_user(db, username, "new@example.com", "key2") == first
    refreshed = row(db, first)
    assert (refreshed["email"], refreshed["public_key"]) == ("new@example.com", "key2")
    assert refreshed["first_login"] == created["first_login"] and refreshed["last_login"] > created["last_login"]
    assert store.upsert_user(db, name(), "other@example.com", "key3") != first


def test_terms_are_accepted_per_user_network_and_version(db: Database) -> None:
    alice = store.upsert_user(db, name(), "alice@example.com", "k")
    bob = store.upsert_user(db, name(), "bob@example.com", "k")
    assert not store.accepted_terms(db, alice, "testnet", "1")
    store.accept_terms(db, alice, "testnet", "1")
    store.accept_terms(db, alice, "testnet", "1")  # idempotent
    assert store.accepted_terms(db, alice, "testnet", "1")
    assert not store.accepted_terms(db, bob, "testnet", "1")  # another user
    assert not store.accepted_terms(db, alice, "mainnet", "1")  # another grid network
    assert not store.accepted_terms(db, alice, "testnet", "2")  # another version
    with db.transaction() as cur:
        cur.execute("SELECT user_id, grid_network, version FROM auth.terms_acceptance WHERE user_id = %s", (alice,))
        assert [dict(r) for r in cur.fetchall()] == [{"user_id": alice, "grid_network": "testnet", "version": "1"}]
