"""The apps (issue 13, SOLUTIONS §1.10, §4) against the real stack: the grid emulator with its DNS and CT log, pools
and deployer workers, PostgreSQL. A pool per deployment, the shared ``<owner>_apps`` network, the automatic domain,
cancel leaving the grid clean; and an app added as a file, deployed with no Python change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from services.deployer.grid.kinds import Kind
from services.deployer.solutions import PLANNERS, app_registry
from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_gitea import ct, dig, grid_pool

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
__all__ = ["ct"]  # the fixture, imported for this module's tests
EMAIL = "apps@example.com"
PUBLISHER = {"type": "wiki", "title": "Docs", "url": "https://github.com/example/docs", "branch": "main"}


def app_spec(name: str, pool: int, answers: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "pool_id": pool, "network": "apps", "email": EMAIL, "answers": answers,
            "gateway_pool_ids": [pool]}  # fmt: skip


def apps_network(world: DeployerWorld, owner: str, pool: int) -> str:
    """SOLUTIONS §1.10 step 6.4: the owner's apps network, created in the first app's pool."""
    sol = world.deploy(owner, "network", {"name": "apps", "pool_ids": [pool], "ip_range": "10.100.0.0/16"})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    return str(sol["id"])


def check_placement(world: DeployerWorld, sid: str, pool: int, keys: list[str]) -> list[dict[str, Any]]:
    """Gateway workloads on a gateway, paid by the gateway pool; the rest on the app's node, paid by the app pool."""
    rows = world.workloads(sid)
    assert [w["key"] for w in rows] == keys
    gateways = {g["node_id"] for g in requests.get(f"{world.grid}/api/v1/gateways", timeout=10).json()}
    app_node = next(w["node_id"] for w in rows if w["key"] == "container")
    for w in rows:
        on_gateway = Kind(w["kind"]).on_gateway
        assert w["pool_id"] == grid_pool(pool) == world.grid_workload(int(w["grid_id"]))["pool_id"], w["key"]
        assert (w["node_id"] in gateways) is on_gateway, w["key"]
        if not on_gateway:
            assert w["node_id"] == app_node, w["key"]  # volume and TLS proxy beside the app
    return rows


def no_secret_shown(world: DeployerWorld, owner: str, sid: str, type_: str) -> None:
    secret = sql("SELECT secrets FROM deployer.solutions WHERE id = %s", sid)[0]["secrets"]
    secrets = world.identity.decrypt_secrets(bytes(secret).decode() if not isinstance(secret, str) else secret)
    listed = world.client().get(f"/api/solutions?type={type_}", headers=world.headers(owner)).get_data(as_text=True)
    shown = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_data(as_text=True)
    plain = [{k: v for k, v in w["body"].items() if k != "secret_environment"} for w in world.workloads(sid)]
    text = listed + shown + json.dumps(world.events(sid)) + json.dumps(plain, default=str)
    assert secrets and all(value not in text for value in secrets.values())


def test_cryptpad_and_a_publisher_share_the_apps_network_and_cancel_leaves_the_grid_clean(
    world: DeployerWorld, ct: None
) -> None:
    owner = "apps1.3bot"
    pad_pool = world.pool(owner, farm_id=1, key="cryptpad")  # a pool per deployment
    network_id = apps_network(world, owner, pad_pool)
    pad = world.deploy(owner, "cryptpad", app_spec("pad", pad_pool, {"size": "5"}), timeout=180)
    pad_id = str(pad["id"])
    assert pad["status"] == "deployed", world.events(pad_id)
    rows = check_placement(world, pad_id, pad_pool, ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"])
    fqdn = "apps13bot-pad.gw1.grid.example"
    assert rows[0]["body"]["domain"] == fqdn == rows[3]["body"]["domain"]
    assert rows[2]["body"]["environment"] == {"size": "5120"} and rows[1]["body"]["size"] == 5
    assert rows[2]["body"]["network_connection"][0]["network_id"] == f"{owner}_apps"
    assert dig(world, fqdn)[0] == "NOERROR"
    (entry,) = world.client().get("/api/solutions?type=cryptpad", headers=world.headers(owner)).get_json()["solutions"]
    assert entry["Domain"] == fqdn and entry["Network"] == "apps" and entry["Pool"] == grid_pool(pad_pool)
    assert pad["outputs"]["URL"] == f"https://{fqdn}" and fqdn in pad["outputs"]["Message"]
    no_secret_shown(world, owner, pad_id, "cryptpad")

    pub_pool = world.pool(owner, farm_id=1, key="publisher")
    pub = world.deploy(owner, "publisher", app_spec("docs", pub_pool, PUBLISHER), timeout=180)
    pub_id = str(pub["id"])
    assert pub["status"] == "deployed", world.events(pub_id)
    rows = check_placement(world, pub_id, pub_pool, ["subdomain", "reverse_proxy", "container"])
    env = rows[2]["body"]["environment"]
    assert env["DOMAIN"] == "apps13bot-docs.gw1.grid.example" and env["TYPE"] == "wiki" and env["EMAIL"] == EMAIL
    assert "TRC_SECRET" in rows[2]["body"]["secret_environment"] and "TRC_SECRET" not in env
    no_secret_shown(world, owner, pub_id, "publisher")
    # One apps network for both, reused (not a second one).
    nets = sql("SELECT id FROM deployer.solutions WHERE owner = %s AND type = 'network'", owner)
    assert [str(n["id"]) for n in nets] == [network_id]
    assert rows[2]["body"]["network_connection"][0]["network_id"] == f"{owner}_apps"

    assert world.cancel(owner, pad_id).status_code == 202
    assert world.wait(pad_id, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(pad_id)  # gateway workloads included
    assert dig(world, fqdn)[0] == "NXDOMAIN"
    # The network stays while the Publisher uses it; the pools stay (never cancelled).
    assert world.solution(network_id)["status"] == "deployed"
    refused = world.cancel(owner, network_id)
    assert refused.status_code == 409 and "publisher docs" in refused.get_data(as_text=True)
    assert world.cancel(owner, pub_id).status_code == 202
    assert world.wait(pub_id, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(pub_id)
    states = sql("SELECT state FROM pools.pools WHERE id IN (%s, %s)", pad_pool, pub_pool)
    assert [s["state"] for s in states] == ["active", "active"]
    assert world.cancel(owner, network_id).status_code == 202  # no app uses it any more
    assert world.wait(network_id, ("cancelled",), timeout=60)["status"] == "cancelled"


NEW_APP = """
type: notes
title: Notes
description: A note taking app nobody wrote Python for.
icon: notes.svg
image: FLIST_REDIS
entrypoint: "/start.sh {{ domain }} {{ answers.motto }}"
resources: {cpu: 1, memory: 1024, disk: 512}
volume: {sizes: [1, 2], default: 1, mount: /data}
questions:
  - {name: motto, kind: string, label: Motto, max_length: 40}
  - {name: token, kind: secret, label: Token}
env:
  MOTTO: "{{ answers.motto }}"
secret_env:
  TOKEN: {answer: token}
  KEY: {generate: password}
exposure: {pattern: C, port: 6379, enforce_https: false}
overview: [name, domain]
end: "Notes at {{ url }}"
"""


def test_an_app_added_as_a_definition_file_deploys_with_no_python_change(world: DeployerWorld, ct: None) -> None:
    directory = Path(world.tmp) / "app-definitions"
    directory.mkdir(exist_ok=True)
    (directory / "notes.yaml").write_text(NEW_APP, encoding="utf-8")
    world.env["APP_DEFINITIONS_DIR"] = str(directory)  # the operator's setting; the workers read it as they start
    for proc in list(world.workers):
        world.kill(proc)
        world.workers.remove(proc)
    world.start_worker("deployer-worker-apps-1")
    world.start_worker("deployer-worker-apps-2")
    settings = world.settings.model_copy(update={"app_definitions_dir": directory})
    saved = dict(PLANNERS)
    app_registry.install(settings, PLANNERS)  # what the web app does as it starts (its listing)
    try:
        _deploy_the_new_app(world)
    finally:
        # The registry is this process's: later tests (the unit tests of the registry too) see the shipped apps.
        PLANNERS.clear()
        PLANNERS.update(saved)


def _deploy_the_new_app(world: DeployerWorld) -> None:
    owner = "apps2.3bot"
    pool = world.pool(owner, farm_id=1, key="notes")
    apps_network(world, owner, pool)
    spec = app_spec("jot", pool, {"motto": "x; rm -rf /", "size": 2})
    sol = world.deploy(owner, "notes", spec, {"token": "TOKEN-typed-by-the-user"}, timeout=180)
    sid = str(sol["id"])
    assert sol["status"] == "deployed", world.events(sid)
    rows = check_placement(world, sid, pool, ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"])
    app = rows[2]["body"]
    assert app["entrypoint"] == "/start.sh apps23bot-jot.gw1.grid.example 'x; rm -rf /'"
    assert app["environment"] == {"MOTTO": "x; rm -rf /"} and set(app["secret_environment"]) == {"TOKEN", "KEY"}
    assert rows[1]["body"]["size"] == 2
    no_secret_shown(world, owner, sid, "notes")
    assert sol["outputs"]["Message"] == "Notes at https://apps23bot-jot.gw1.grid.example"
    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)


def test_a_planned_node_filled_since_the_overview_moves_the_app_to_another_node_of_its_pool(
    world: DeployerWorld, ct: None
) -> None:
    """The apps wizard plans a node before payment; concurrent apps may fill it before this one is planned. That
    node is the marketplace's plan, not the user's pick: the app goes on another fitting node of its pool, and an
    event says so (before, the deployment failed and rolled back: "node … has only 0 free CPU cores")."""
    owner = "apps3.3bot"
    pool = world.pool(owner, farm_id=1, key="moved")
    apps_network(world, owner, pool)
    node = sql("SELECT node_id FROM deployer.nodes WHERE farm_id = 1 ORDER BY node_id LIMIT 1")[0]["node_id"]
    with world.holding({node: 1000}):  # another deployment took all of that node's room
        pad = world.deploy(owner, "cryptpad", {**app_spec("moved", pool, {"size": "5"}), "node_id": node},
                           timeout=180)  # fmt: skip
    pad_id = str(pad["id"])
    assert pad["status"] == "deployed", world.events(pad_id)
    rows = check_placement(world, pad_id, pool, ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"])
    assert rows[2]["node_id"] != node
    assert any(f"node {node} planned for" in e and "another node of the pool" in e for e in world.events(pad_id))
    assert world.cancel(owner, pad_id).status_code in (200, 202)
    assert world.wait(pad_id)["status"] == "cancelled"
    world.assert_gone_from_grid(pad_id)
