"""A pool paid a moment ago is offered by the wizards at once (their cached pool answers are invalidated by the
change, not by a timer): the pools worker bumps the owner's pools version once the payment is credited."""

from __future__ import annotations

import time
import uuid

from services.chatflow.queries import CACHE_SECONDS
from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.tasks import send
from services.pools import service as pools
from tests.conftest import TEST_DATABASE_URL
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.deployer.conftest import sql


def _unpaid_pool(chat: ChatWorld, owner: str) -> int:
    db, explorer = Database(TEST_DATABASE_URL, maxconn=2), Explorer(chat.world.settings, chat.world.identity)
    try:
        pool_id, _ = pools.create_pool(db, explorer, chat.world.settings, owner, uuid.uuid4().hex, 1, "TFT",
                                       40 * 86400, 400 * 86400, 1)  # fmt: skip
    finally:
        db.close()
        explorer.close()
    return pool_id


def _choices(view: dict[str, object]) -> list[str]:
    [field] = view["step"]["fields"]  # type: ignore[index]
    return [c["value"] for c in field["choices"]]


def test_a_pool_paid_a_moment_ago_is_offered_by_the_network_wizard_at_once(chat: ChatWorld) -> None:
    owner = "paid-now.3bot"
    active, unpaid = chat.world.pool(owner), _unpaid_pool(chat, owner)
    session = chat.start(owner, "network")
    view = chat.answer(owner, session, {"name": "lab"})
    view = chat.answer(owner, view, {"connection": "ipv4"})
    assert view["step"]["name"] == "pool_ids" and _choices(view) == [str(active)]
    # Both pool answers are cached now: the owner's pools, and the capable ones the access-node check asks.
    view = chat.answer(owner, view, {"pool_ids": [str(active)]})
    view = chat.post(f"/api/chatflows/sessions/{session['id']}/back", owner).json
    assert view["step"]["name"] == "pool_ids"

    grid_pool = sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", unpaid)[0]["grid_pool_id"]
    assert chat.world.admin("pay", {"reservation_id": grid_pool}).status_code == 200
    deadline = time.monotonic() + 30  # the grid credits the payment after its delay; the real worker sees it
    while sql("SELECT state FROM pools.pools WHERE id = %s", unpaid)[0]["state"] != "active":
        assert time.monotonic() < deadline
        send(chat.world.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
    credited = time.monotonic()

    view = chat.get(f"/api/chatflows/sessions/{session['id']}", owner).json
    assert str(unpaid) in _choices(view)
    accepted = chat.post(f"/api/chatflows/sessions/{session['id']}/answer", owner,
                         {"answers": {"pool_ids": [str(unpaid)]}})  # fmt: skip
    assert time.monotonic() - credited < CACHE_SECONDS  # within the cached answers' lifetime
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["step"]["name"] == "ip_range_mode"
