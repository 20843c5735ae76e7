"""A step's probe of a remote (the flist hub) runs before the session's row lock (services/chatflow/service.py).

The hub check once ran inside ``answer``'s transaction, holding the session's row lock for as long as the hub
took (up to 10 s): the user's other tab, and every answer to that session, waited on it. The probe below asks
PostgreSQL, from another connection, whether the row is locked while it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import redis

from services.chatflow.flow import Flow, Step
from services.chatflow.flows import FLOWS
from services.chatflow.queries import Queries
from services.chatflow.questions import String
from services.chatflow.service import Engine
from services.common.db import Database
from services.common.errors import ApiError
from services.common.identity import Identity
from tests.conftest import TEST_REDIS_URL, RowLocks

TABLE = "chatflow.sessions"


@pytest.fixture
def engine(migrated_database: str) -> Iterator[Engine]:
    db = Database(migrated_database, maxconn=2)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    # The flows here ask no other service: no Celery (a session's step choices would be kept in Redis).
    queries = Queries(None, client, 1)  # type: ignore[arg-type]
    yield Engine(db, Identity(bytes(range(32))), queries=queries, ttl=600)
    client.close()
    db.close()


def test_the_probe_runs_with_the_session_unlocked(
    engine: Engine, row_locks: RowLocks, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, seen = f"u{uuid.uuid4().hex[:12]}.3bot", []
    session: dict[str, Any] = {}

    def probe(answers: Mapping[str, Any]) -> Mapping[str, str]:
        seen.append(row_locks.locked_elsewhere(TABLE, session["id"]))
        return {} if answers.get("image") == "known" else {"image": "the remote has no such image"}

    steps = [Step("image", "Image", [String("image", "Image")], probe=probe), Step("more", "More", [String("x", "X")])]
    monkeypatch.setitem(FLOWS, "probed", Flow("probed", "Probed", "a probe", "advanced", "/i.svg", steps))
    session.update(engine.start(owner, "probed"))
    try:
        with pytest.raises(ApiError) as refused:
            engine.answer(owner, session["id"], {"image": "unknown"})
        assert refused.value.status == 422
        assert [(e.field, e.description) for e in refused.value.errors] == [("image", "the remote has no such image")]
        assert engine.answer(owner, session["id"], {"image": "known"})["step"]["name"] == "more"
        assert seen == [False, False]
    finally:
        with engine.db.transaction() as cur:
            cur.execute("DELETE FROM chatflow.sessions WHERE owner = %s", (owner,))
