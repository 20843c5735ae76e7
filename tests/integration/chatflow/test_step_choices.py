"""A wizard session keeps its step choices for CHOICES_SECONDS (issue 16): showing a step again, and the answer
validated against it, do not ask the deployer again; the kept choices expire, and a restart drops them.
Real parts: the chatflow app, the deployer worker over Celery, Redis."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

from services.chatflow.queries import CHOICES_SECONDS
from services.common import contracts
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_ubuntu_wizard import ubuntu_answers


def _network_choices(view: dict[str, Any]) -> list[str]:
    [field] = view["step"]["fields"]
    return [c["value"] for c in field["choices"]]


def test_a_sessions_step_choices_are_kept_then_asked_again(chat: ChatWorld) -> None:
    owner = f"choices-{uuid.uuid4().hex[:6]}.3bot"
    chat.world.network(owner)
    answers = ubuntu_answers(chat, owner, "kept")
    view = chat.start(owner, "ubuntu")
    for step in ("name", "version", "resources", "pool_id"):
        view = chat.answer(owner, view, answers[step])
    assert view["step"]["name"] == "network" and _network_choices(view) == ["net"]
    client = redis.Redis.from_url(chat.world.settings.redis_url)
    key = f"chatflow:choices:{view['id']}"
    try:
        (field,) = [f.decode() for f in client.hkeys(key) if f.startswith(contracts.DEPLOYER_LIST_NETWORKS.encode())]
        assert 0 < client.ttl(key) <= CHOICES_SECONDS
        # What the deployer answered is kept: change the kept copy, and the step shows the change — it was not
        # asked again, neither to show the step nor to check the answer against its choices.
        kept = json.loads(client.hget(key, field) or b"{}")
        kept["answer"]["networks"][0]["name"] = "kept-net"
        client.hset(key, field, json.dumps(kept))
        path = f"/api/chatflows/sessions/{view['id']}"
        assert _network_choices(chat.get(path, owner).json) == ["kept-net"]
        refused = chat.answer(owner, view, {"network": "net"}, status=422)  # not among the kept choices
        assert refused["errors"][0]["field"] == "network"
        # Older than CHOICES_SECONDS: asked again.
        kept["at"] = time.time() - CHOICES_SECONDS - 1
        client.hset(key, field, json.dumps(kept))
        assert _network_choices(chat.get(path, owner).json) == ["net"]
        # A restart drops the session's choices.
        assert client.exists(key) == 1
        assert chat.post(f"{path}/restart", owner).status_code == 200
        assert client.exists(key) == 0
    finally:
        client.close()
