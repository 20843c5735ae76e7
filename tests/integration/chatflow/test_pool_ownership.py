"""Another user's pool is never a wizard's choice, even while its owner's list of pools is cached.

The wizard caches the other services' answers in Redis for a few seconds (services/chatflow/queries.py); pool
ids are small sequential integers, so an answer cached without its owner would let anyone name someone else's
paid pool. The deployer's own check behind the wizard is tested in tests/integration/deployer/test_ownership.py.
"""

from __future__ import annotations

import time
from typing import Any

from services.chatflow.queries import CACHE_SECONDS
from tests.integration.chatflow.conftest import ChatWorld

RESOURCES = {"cpu": 1, "memory": 1024, "disk": 256}


def _at_pool_step(chat: ChatWorld, owner: str, name: str) -> dict[str, Any]:
    session = chat.start(owner, "ubuntu")
    view = chat.answer(owner, session, {"name": name})
    view = chat.answer(owner, view, {"version": "ubuntu-20.04"})
    view = chat.answer(owner, view, RESOURCES)
    assert view["step"]["name"] == "pool_id", view["step"]
    return view


def _choices(view: dict[str, Any]) -> list[str]:
    [field] = view["step"]["fields"]
    return [c["value"] for c in field["choices"]]


def test_another_users_pool_is_refused_right_after_its_owners_list_was_cached(chat: ChatWorld) -> None:
    owner, other = "pia.3bot", "paul.3bot"
    pool, own_pool = chat.world.pool(owner), chat.world.pool(other)
    started = time.monotonic()
    mine = _at_pool_step(chat, owner, "mine")
    assert str(pool) in _choices(mine)  # the owner's capable pools for these resources are now cached

    theirs = _at_pool_step(chat, other, "theirs")
    assert _choices(theirs) == [str(own_pool)]
    refused = chat.post(f"/api/chatflows/sessions/{theirs['id']}/answer", other, {"answers": {"pool_id": str(pool)}})
    # Same query, within the cache's lifetime: an answer cached without its owner would have been served here.
    assert time.monotonic() - started < CACHE_SECONDS
    assert refused.status_code == 422, refused.json
    assert [e["field"] for e in refused.json["errors"]] == ["pool_id"]
    stayed = chat.get(f"/api/chatflows/sessions/{theirs['id']}", other).json
    assert stayed["step"]["name"] == "pool_id" and "pool_id" not in stayed["answers"]
