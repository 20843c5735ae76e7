"""Gitea and Gollum through their wizards over HTTP (the chatflow API), against the real stack: the gateways offered
are those of the user's pools (asked of the deployer's workers), the deployment lands in the right pools, its name
answers in the emulator's DNS, the secrets are never sent back, and cancel leaves the grid clean."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from services.deployer.grid.kinds import Kind
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_api import errors_of, session_path
from tests.integration.chatflow.test_ubuntu_wizard import walk
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld
from tests.integration.deployer.test_gitea import dig, grid_pool

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
PASSWORD = "pg-Wizard-Passw0rd-never-shown"
TOKEN = "ghp_" + "WizardTokenNeverShown1" * 2
SSH_FILE = {"filename": "id.pub", "content": SSH_KEY + "\n"}


def common_answers(pool: int, name: str) -> dict[str, dict[str, Any]]:
    return {
        "name": {"name": name},
        "pool_id": {"pool_id": str(pool)},
        "network": {"network": "net"},
        "ssh_key": {"ssh_key": SSH_FILE},
        "logs": {"logs": "no"},
        "node_auto": {"node_auto": "yes"},
        "ip": {"ip": "auto"},
        "confirm": {},
    }


def check_deployed_and_cancel(chat: ChatWorld, owner: str, view: dict[str, Any], type_: str, fqdn: str,
                              app_pool: int, gateway_pool: int, secret: str) -> None:  # fmt: skip
    """The deployment of a finished wizard: pools and node kinds, DNS, listing, no secret, then a clean cancel."""
    world: DeployerWorld = chat.world
    assert view["status"] == "submitted", view
    sid = view["solution_id"]
    sol = world.wait(sid, timeout=120)
    assert sol["status"] == "deployed", world.events(sid)
    rows = world.workloads(sid)
    gateway_ids = {g["node_id"] for g in requests.get(f"{world.grid}/api/v1/gateways", timeout=10).json()}
    for w in rows:
        on_gateway = Kind(w["kind"]).on_gateway
        assert w["pool_id"] == grid_pool(gateway_pool if on_gateway else app_pool), w["key"]
        assert (w["node_id"] in gateway_ids) is on_gateway, w["key"]
    assert sorted(w["kind"] for w in rows) == ["container", "container", "reverse_proxy", "subdomain"]
    status, answers = dig(world, fqdn)
    assert status == "NOERROR" and answers
    (entry,) = world.client().get(f"/api/solutions?type={type_}", headers=world.headers(owner)).get_json()["solutions"]
    assert entry["Domain"] == fqdn and sol["outputs"]["URL"] == f"https://{fqdn}"
    detail = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_data(as_text=True)
    session = chat.get(session_path(view), owner).get_data(as_text=True)
    assert secret not in json.dumps(entry) + detail + session + json.dumps(world.events(sid))

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)
    assert dig(world, fqdn)[0] == "NXDOMAIN"


def test_gitea_through_its_wizard(chat: ChatWorld) -> None:
    owner = "wgitea.3bot"
    world = chat.world
    world.network(owner)
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    answers = common_answers(app_pool, "git") | {
        "database": {"db_name": "gitea", "db_user": "git", "db_password": PASSWORD, "repository": "code"},
        "domain": {},
    }
    session = chat.start(owner, "gitea")
    seen: list[dict[str, Any]] = []
    view = session
    while view["status"] == "active" and view["step"]["name"] != "confirm":
        seen.append(view)
        view = chat.answer(owner, view, answers[view["step"]["name"]])
    (domain_step,) = [v for v in seen if v["step"]["name"] == "domain"]
    # The automatic domain names the managed domains of the gateways in the user's pools.
    text = json.dumps(domain_step["step"])
    assert "wgitea-git" in text and "gw1.grid.example" in text and "gw2.grid.example" in text
    assert PASSWORD not in json.dumps(view)  # the confirmation
    view = walk(chat, owner, view, answers)
    world.wait(view["solution_id"], timeout=120)
    fqdn = next(w["body"]["domain"] for w in world.workloads(view["solution_id"]) if w["kind"] == "subdomain")
    assert fqdn in ("wgitea-git.gw1.grid.example", "wgitea-git.gw2.grid.example")
    gateway_pool_of_fqdn = gateway_pool if fqdn.endswith("gw2.grid.example") else app_pool
    check_deployed_and_cancel(chat, owner, view, "gitea", fqdn, app_pool, gateway_pool_of_fqdn, PASSWORD)


def gollum_answers(pool: int, parent: str) -> dict[str, dict[str, Any]]:
    return common_answers(pool, "wiki") | {
        "resources": {"cpu": 1, "memory": 1024, "disk": 512},
        "email": {"email": "ops@example.com"},
        "github": {"github_user": "alice-w", "github_email": "alice@example.org", "github_repo": "team.wiki",
                   "github_token": TOKEN},
        "parent_domain": {"parent_domain": parent},
    }  # fmt: skip


def test_gollum_through_its_wizard_on_the_managed_domain_chosen(chat: ChatWorld) -> None:
    owner = "wgollum.3bot"
    world = chat.world
    world.network(owner)
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    answers = gollum_answers(app_pool, "gw2.grid.example")
    view = chat.start(owner, "gollum")
    while view["step"]["name"] != "parent_domain":
        view = chat.answer(owner, view, answers[view["step"]["name"]])
    offered = {c["value"] for c in view["step"]["fields"][0]["choices"]}
    assert offered == {"gw1.grid.example", "gw2.grid.example"}  # the user's two pools, one gateway each
    view = chat.answer(owner, view, answers["parent_domain"])
    confirmation = json.dumps(view["step"])
    assert "wgollum-wiki.gw2.grid.example" in confirmation and TOKEN not in confirmation
    view = walk(chat, owner, view, answers)
    check_deployed_and_cancel(chat, owner, view, "gollum", "wgollum-wiki.gw2.grid.example", app_pool,
                              gateway_pool, TOKEN)  # fmt: skip


@pytest.mark.parametrize(
    ("step", "field", "value"),
    [
        ("email", "email", "ops@example.com; reboot"),
        ("email", "email", "ops@exämple.com"),
        ("github", "github_user", "$(id)"),
        ("github", "github_email", "a`id`@example.com"),
        ("github", "github_repo", "wiki' && touch /pwned '"),
        ("github", "github_repo", "r" * 300),
        ("name", "name", "wiki.example"),
    ],
)
def test_hostile_wizard_answers_get_422_naming_the_field(chat: ChatWorld, step: str, field: str, value: str) -> None:
    owner = "wgollum2.3bot"
    world = chat.world
    world.network(owner)
    answers = gollum_answers(world.pool(owner, farm_id=1), "gw1.grid.example")
    view = chat.start(owner, "gollum")
    while view["step"]["name"] != step:
        view = chat.answer(owner, view, answers[view["step"]["name"]])
    bad = chat.post(session_path(view, "/answer"), owner, {"answers": {**answers[step], field: value}})
    assert bad.status_code == 422
    assert list(errors_of(bad)) == [field]
    assert chat.get(session_path(view), owner).json["step"]["name"] == step
    chat.delete(session_path(view), owner)


def test_hostile_gitea_form_values_get_422_naming_the_field(chat: ChatWorld) -> None:
    owner = "wgitea2.3bot"
    world = chat.world
    world.network(owner)
    answers = common_answers(world.pool(owner, farm_id=1), "git")
    view = chat.start(owner, "gitea")
    while view["step"]["name"] != "database":
        view = chat.answer(owner, view, answers[view["step"]["name"]])
    good = {"db_name": "gitea", "db_user": "git", "db_password": PASSWORD, "repository": "code"}
    for field, value in [("db_name", "pg; rm -rf /"), ("db_user", "$(reboot)"), ("repository", "répo"),
                         ("repository", "r" * 300)]:  # fmt: skip
        bad = chat.post(session_path(view, "/answer"), owner, {"answers": {**good, field: value}})
        assert bad.status_code == 422 and list(errors_of(bad)) == [field], (field, bad.json)
    chat.delete(session_path(view), owner)
