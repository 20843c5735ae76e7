"""The ubuntu wizard through the chatflow API, against real workers: every answer checked on the server, the
deployment submitted once, its progress visible."""

from __future__ import annotations

from typing import Any

from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.deployer.conftest import SSH_KEY


def walk(chat: ChatWorld, owner: str, session: dict[str, Any], answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Answer step after step (by step name) until the session is no longer active."""
    view = session
    for _ in range(40):
        if view["status"] != "active":
            return view
        name = view["step"]["name"]
        assert name in answers, (name, view["step"])
        view = chat.answer(owner, view, answers[name])
    raise AssertionError("the wizard did not end")


def ubuntu_answers(chat: ChatWorld, owner: str, name: str) -> dict[str, dict[str, Any]]:
    pool = chat.world.pool(owner)
    return {
        "name": {"name": name},
        "version": {"version": "ubuntu-20.04"},
        "resources": {"cpu": 1, "memory": 1024, "disk": 256},
        "pool_id": {"pool_id": str(pool)},
        "network": {"network": "net"},
        "logs": {"logs": "no"},
        "ssh_key": {"ssh_key": {"filename": "id.pub", "content": SSH_KEY + "\n"}},
        "node_auto": {"node_auto": "yes"},
        "ip": {"ip": "auto"},
        "ipv6": {"ipv6": "no"},
        "confirm": {},
    }


def test_ubuntu_wizard_deploys(chat: ChatWorld) -> None:
    owner = "alice.3bot"
    chat.world.network(owner)
    session = chat.start(owner, "ubuntu")
    assert session["step"]["index"] == 1 and session["step"]["name"] == "name"
    view = walk(chat, owner, session, ubuntu_answers(chat, owner, "wiz"))
    assert view["status"] == "submitted"
    assert view["step"]["fields"][0]["kind"] == "progress"
    solution_id = view["solution_id"]
    sol = chat.world.wait(solution_id)
    assert sol["status"] == "deployed", chat.world.events(solution_id)
    assert sol["idempotency_key"] == view["id"].replace("-", "")
