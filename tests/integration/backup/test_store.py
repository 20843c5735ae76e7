"""The backup accounts' records on real PostgreSQL (services/backup/store.py), one account per name
(accounts.check_owner) and one writer per backup server (accounts.ServerLock, real Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from services.backup import accounts, store
from services.backup.config import backup_config
from services.backup.remote import ServerUnavailable
from services.common.db import Database
from services.common.errors import ApiError
from services.common.settings import Settings
from tests.conftest import TEST_REDIS_URL

RUN = f"m{uuid.uuid4().hex[:8]}"  # this run's account names start with it (removed afterwards)


@pytest.fixture
def db(migrated_database: str) -> Iterator[Database]:
    database = Database(migrated_database)
    yield database
    with database.transaction() as cur:
        cur.execute("DELETE FROM backup.accounts WHERE username LIKE %s", (f"{RUN}%",))
    database.close()


def account(db: Database, s1: bool = True, s2: bool = True) -> tuple[str, str]:
    """A new record: (3Bot name, account name)."""
    username = f"{RUN}{uuid.uuid4().hex[:12]}"
    name = f"{username}.3bot"
    store.record(db, name, username, s1, s2)
    return name, username


def test_an_account_reads_by_its_own_name_only(db: Database) -> None:
    alice, alice_user = account(db, True, False)
    bob, _ = account(db, False, True)
    got = store.get(db, alice)
    assert got is not None and (got.threebot_name, got.username, got.server1_done, got.server2_done) == (
        alice, alice_user, True, False)  # fmt: skip
    assert got.last_verified is None and got.created_at == got.updated_at
    other = store.get(db, bob)
    assert other is not None and other.threebot_name == bob
    assert store.get(db, f"{alice}x") is None


def test_the_owner_of_an_account_name(db: Database) -> None:
    alice, alice_user = account(db)
    bob, bob_user = account(db)
    assert store.owner_of(db, alice_user) == alice
    assert store.owner_of(db, bob_user) == bob
    assert store.owner_of(db, f"{alice_user}x") is None


def test_recording_again_updates_the_servers_and_the_time(db: Database) -> None:
    alice, alice_user = account(db, True, False)
    first = store.get(db, alice)
    store.record(db, alice, alice_user, False, True)
    again = store.get(db, alice)
    assert first is not None and again is not None
    assert (again.server1_done, again.server2_done) == (False, True)
    assert again.updated_at > first.updated_at and again.created_at == first.created_at


def test_done_reads_each_servers_flag() -> None:
    for s1, s2 in ((True, False), (False, True)):
        now = store.datetime.now()
        record = store.Account("a.3bot", "a", s1, s2, now, now, None)
        assert (record.done(1), record.done(2)) == (s1, s2)


def test_a_server_is_marked_done_only_for_the_account_as_it_was_read(db: Database) -> None:
    alice, alice_user = account(db, True, False)
    bob, _ = account(db, True, False)
    read = store.get(db, alice)
    assert read is not None
    with db.transaction() as cur:  # the other record last changed at the same instant
        cur.execute("UPDATE backup.accounts SET updated_at = %s WHERE threebot_name = %s", (read.updated_at, bob))
    assert store.mark_done(db, read, 2) is True
    done = store.get(db, alice)
    assert done is not None and (done.server1_done, done.server2_done) == (True, True)
    untouched = store.get(db, bob)
    assert untouched is not None and untouched.server2_done is False
    store.record(db, alice, alice_user, False, True)  # a new init since `read`: its copy may be stale
    assert store.mark_done(db, read, 1) is False
    stale = store.get(db, alice)
    assert stale is not None and stale.server1_done is False
    fresh = store.get(db, alice)
    assert fresh is not None and store.mark_done(db, fresh, 1) is True
    marked = store.get(db, alice)
    assert marked is not None and marked.server1_done is True


def test_another_name_for_the_same_account_is_a_409(db: Database) -> None:
    alice, alice_user = account(db)
    accounts.check_owner(db, alice, alice_user)  # its own account: allowed (a new password)
    accounts.check_owner(db, f"{alice_user}.other", f"{alice_user}x")  # a free account
    with pytest.raises(ApiError) as err:
        accounts.check_owner(db, f"{alice_user}.other", alice_user)
    (error,) = err.value.errors
    message = "another 3Bot name already owns this backup account"
    assert (err.value.status, err.value.message, error.code, error.description, error.field) == (
        409, message, "conflict", message, "threebot_name")  # fmt: skip


@pytest.fixture
def backend(db: Database, make_settings: Callable[..., Settings]) -> Iterator[accounts.Backend]:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    config = backup_config(make_settings(BACKUP_SERVER1=f"u@h{uuid.uuid4().hex[:8]}:22"))
    try:
        yield accounts.Backend(db, client, config)
    finally:
        client.delete(*(f"backup:htpasswd-lock:{s.key}" for s in config.servers))
        client.close()


def test_one_writer_per_server_at_a_time(backend: accounts.Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "LOCK_LEASE", 1)  # wait (and lease) 1 s instead of 120 s
    one, two = backend.config.servers
    key = f"backup:htpasswd-lock:{one.key}"
    with accounts.ServerLock(backend, one):
        assert 0 < backend.redis.pttl(key) <= 1000  # a lease: a crashed writer does not block the server forever
        started = time.monotonic()
        with (
            pytest.raises(ServerUnavailable, match=rf"^{one.key}: another update holds its lock$"),
            accounts.ServerLock(backend, one),
        ):
            pytest.fail("two writers on one server")
        assert time.monotonic() - started >= 0.9
        with accounts.ServerLock(backend, two):  # the other server is independent
            assert backend.redis.exists(f"backup:htpasswd-lock:{two.key}")
    assert not backend.redis.exists(key)  # released at the end of the block
    with accounts.ServerLock(backend, one):
        backend.redis.delete(key)  # the lease ran out meanwhile: leaving the block does not raise
    with pytest.raises(RuntimeError), accounts.ServerLock(backend, one):
        raise RuntimeError("a failed write")
    assert not backend.redis.exists(key)  # released after a failure too
