from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from services.common.db import Database, DatabaseUnavailable, after_commit
from tests.conftest import TEST_DATABASE_URL, closed_port


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(TEST_DATABASE_URL, maxconn=4)
    with database.transaction() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS public.db_test_items (id text PRIMARY KEY)")
    try:
        yield database
    finally:
        database.close()


def _exists(db: Database, key: str) -> bool:
    with db.transaction() as cur:
        cur.execute("SELECT 1 FROM public.db_test_items WHERE id = %(id)s", {"id": key})
        return cur.fetchone() is not None


def test_transaction_commits_and_runs_after_commit_hooks_afterwards(db: Database) -> None:
    key, seen = uuid.uuid4().hex, []
    with db.transaction() as cur:
        cur.execute("INSERT INTO public.db_test_items VALUES (%(id)s)", {"id": key})
        # A task sent here would race the commit; the hook must wait until the row is visible to others.
        after_commit(lambda: seen.append(_exists(db, key)))
        assert seen == []
    assert seen == [True]


def test_rollback_drops_the_row_and_the_hooks(db: Database) -> None:
    key, seen = uuid.uuid4().hex, []
    with pytest.raises(RuntimeError), db.transaction() as cur:
        cur.execute("INSERT INTO public.db_test_items VALUES (%(id)s)", {"id": key})
        after_commit(lambda: seen.append("sent"))
        raise RuntimeError("business rule failed")
    assert seen == []
    assert not _exists(db, key)


def test_after_commit_outside_a_transaction_runs_now() -> None:
    seen: list[int] = []
    after_commit(lambda: seen.append(1))
    assert seen == [1]


def test_connections_are_reused_and_bounded(db: Database) -> None:
    for _ in range(20):
        db.ping()
    with db.connection() as a, db.connection() as b:
        assert a is not b


def test_unreachable_database_raises_unavailable() -> None:
    dead = Database(f"postgresql://postgres@127.0.0.1:{closed_port()}/test", connect_timeout=2)
    with pytest.raises(DatabaseUnavailable):
        dead.ping()
