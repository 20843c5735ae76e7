"""The 3Bot wizard over HTTP (the chatflow API) against the real stack and a loopback TLS double answering
``/admin`` like a 3Bot: a re-deployed name's backup password is checked against the identity already in the
emulator's phonebook (LOGIN_PROTOCOL §9.4; wrong → 422 "incorrect password for this 3Bot"), the managed domains
offered are those of the user's gateways, the deployment lands in the right pools and comes up, the password is never
sent back, and cancel leaves the grid clean."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from services.common import hosted_3bot
from services.deployer import readiness
from services.deployer.grid.kinds import Kind
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_api import errors_of, session_path
from tests.integration.chatflow.test_gitea_gollum_wizards import SSH_FILE
from tests.integration.chatflow.test_ubuntu_wizard import walk
from tests.integration.deployer.test_gitea import dig, grid_pool
from tests.integration.threebot_double import UP, ThreebotDouble, for_env

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
PASSWORD = "Wizard-Backup-NeverShown"


@pytest.fixture
def double(chat: ChatWorld) -> Iterator[ThreebotDouble]:
    served = for_env(chat.world.env)
    yield served
    served.stop()


def answers(pool: int, name: str, password: str = PASSWORD) -> dict[str, dict[str, Any]]:
    return {
        "name": {"name": name},
        "resources": {"cpu": 1, "memory": 2048, "disk": 2048},
        "pool_id": {"pool_id": str(pool)},
        "network": {"network": "net"},
        "backup_password": {"backup_password": password},
        "sdk_branch": {"sdk_branch": "development"},
        "ssh_key": {"ssh_key": SSH_FILE},
        "parent_domain": {"parent_domain": "gw2.grid.example"},
        "ipv6": {"ipv6": "no"},
        "confirm": {},
    }


def register(chat: ChatWorld, name: str, password: str) -> None:
    """An existing hosted-3Bot identity in the emulator's phonebook, with the key the image derives (§9.4)."""
    body = {"name": name, "email": f"{name}@threefold.me", "pubkey": hosted_3bot.verify_key_hex(password),
            "host": "", "description": "hosted 3Bot"}  # fmt: skip
    response = requests.post(f"{chat.world.grid}/api/v1/users", json=body, timeout=10)
    assert response.status_code == 201, response.text


def test_threebot_through_its_wizard_checks_the_backup_password_deploys_comes_up_and_cancels(
    chat: ChatWorld, double: ThreebotDouble
) -> None:
    owner = "wtbot.3bot"
    world = chat.world
    world.network(owner)
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    register(chat, "wtbot_back", PASSWORD)  # a re-deployment: its backups are to be restored
    fqdn = "wtbot-back.gw2.grid.example"
    double.behaviour[fqdn] = UP
    given = answers(app_pool, "back")
    view = chat.start(owner, "threebot")
    while view["step"]["name"] != "backup_password":
        view = chat.answer(owner, view, given[view["step"]["name"]])
    wrong = chat.post(session_path(view, "/answer"), owner, {"answers": {"backup_password": "not-the-password"}})
    assert wrong.status_code == 422 and errors_of(wrong) == {"backup_password": "refused"}
    assert wrong.json["errors"][0]["description"] == "incorrect password for this 3Bot"
    assert "not-the-password" not in wrong.get_data(as_text=True)
    too_long = chat.post(session_path(view, "/answer"), owner, {"answers": {"backup_password": "p" * 33}})
    assert too_long.status_code == 422 and list(errors_of(too_long)) == ["backup_password"]
    view = chat.answer(owner, view, given["backup_password"])
    while view["step"]["name"] != "parent_domain":
        view = chat.answer(owner, view, given[view["step"]["name"]])
    offered = {c["value"] for c in view["step"]["fields"][0]["choices"]}
    assert offered == {"gw1.grid.example", "gw2.grid.example"}  # the user's two pools, one gateway each
    view = chat.answer(owner, view, given["parent_domain"])
    view = chat.answer(owner, view, given["ipv6"])
    confirmation = json.dumps(view["step"])
    assert fqdn in confirmation and "SSD" in confirmation and PASSWORD not in confirmation
    view = walk(chat, owner, view, given)

    sid = view["solution_id"]
    world.wait(sid, timeout=120)
    end = time.monotonic() + 30
    while world.solution(sid)["outputs"].get("Status") == readiness.INITIALISING and time.monotonic() < end:
        time.sleep(0.2)
    assert world.solution(sid)["outputs"]["Status"] == readiness.UP, world.events(sid)
    container = next(w for w in world.workloads(sid) if w["key"] == "container")
    assert container["body"]["environment"]["INSTANCE_NAME"] == "back"
    assert container["body"]["environment"]["THREEBOT_NAME"] == "wtbot"
    assert set(container["body"]["secret_environment"]) == {"BACKUP_PASSWORD"}
    rows = world.workloads(sid)
    gateway_ids = {g["node_id"] for g in requests.get(f"{world.grid}/api/v1/gateways", timeout=10).json()}
    for w in rows:
        on_gateway = Kind(w["kind"]).on_gateway
        assert w["pool_id"] == grid_pool(gateway_pool if on_gateway else app_pool), w["key"]
        assert (w["node_id"] in gateway_ids) is on_gateway, w["key"]
    assert next(w for w in rows if w["key"] == "tcprouter")["node_id"] == container["node_id"]
    assert dig(world, fqdn)[0] == "NOERROR"
    (entry,) = world.client().get("/api/solutions?type=threebot", headers=world.headers(owner)).get_json()["solutions"]
    assert entry["Domain"] == fqdn and entry["Name"] == "back"
    detail = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner))
    assert detail.get_json()["outputs"]["Admin URL"] == f"https://{fqdn}/admin"
    session = chat.get(session_path(view), owner).get_data(as_text=True)
    text = json.dumps(entry) + detail.get_data(as_text=True) + session + json.dumps(world.events(sid))
    assert PASSWORD not in text

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)
    assert dig(world, fqdn)[0] == "NXDOMAIN"


def test_a_new_3bot_name_accepts_any_password_and_hostile_answers_get_422_naming_the_field(chat: ChatWorld) -> None:
    owner = "wtbot2.3bot"
    world = chat.world
    world.network(owner)
    given = answers(world.pool(owner, farm_id=1), "fresh", password="any-password-will-do")
    view = chat.start(owner, "threebot")
    while view["step"]["name"] != "sdk_branch":
        view = chat.answer(owner, view, given[view["step"]["name"]])  # no identity: the password is accepted
    for value in ("dev; reboot", "$(id)", "b" * 101, "-x"):
        bad = chat.post(session_path(view, "/answer"), owner, {"answers": {"sdk_branch": value}})
        assert bad.status_code == 422 and list(errors_of(bad)) == ["sdk_branch"], (value, bad.json)
    view = chat.answer(owner, view, given["sdk_branch"])
    bad = chat.post(session_path(view, "/answer"), owner,
                    {"answers": {"ssh_key": {"filename": "id.pub", "content": "notakey\n"}}})  # fmt: skip
    assert bad.status_code == 422 and list(errors_of(bad)) == ["ssh_key"]
    assert "any-password-will-do" not in json.dumps(chat.get(session_path(view), owner).json)
    chat.delete(session_path(view), owner)
