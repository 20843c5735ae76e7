"""Gollum on a public name (issue 12) against the real stack: the grid emulator with its DNS and CT log, deployer
workers, PostgreSQL. Each workload in its pool and on its kind of node; the GitHub token nowhere but sealed."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql
from tests.integration.deployer.test_gitea import assert_tunnelled_layout, ct, dig, grid_pool

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
__all__ = ["ct"]  # the fixture, imported to be used here
TOKEN = "ghp_" + "NeverShownAnywhere0" * 2


def gollum_spec(world: DeployerWorld, owner: str, name: str, app_pool: int, gateway_pools: list[int],
                parent: str, **overrides: Any) -> dict[str, Any]:  # fmt: skip
    world.network(owner)
    return {"name": name, "where": {"pool_id": app_pool}, "network": "net", "ssh_key": SSH_KEY,
            "resources": {"cpu": 1, "memory": 1024, "disk": 512}, "email": "ops@example.com",
            "github_user": "alice-w", "github_email": "alice@example.org", "github_repo": "team.wiki",
            "parent_domain": parent, "gateway_pool_ids": gateway_pools, **overrides}  # fmt: skip


def logs_text(world: DeployerWorld) -> str:
    """Everything every process of the world wrote (workers, beat, the emulator)."""
    return "".join(p.read_text(errors="replace") for p in Path(world.tmp, "logs").iterdir() if p.is_file())


def test_gollum_deploys_in_the_right_pools_resolves_keeps_the_token_sealed_and_cancels_clean(
    world: DeployerWorld, ct: None
) -> None:
    owner = "gollum1.3bot"
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    spec = gollum_spec(world, owner, "wiki", app_pool, [app_pool, gateway_pool], "gw2.grid.example")
    sol = world.deploy(owner, "gollum", spec, {"github_token": TOKEN}, timeout=120)
    sid = str(sol["id"])
    assert sol["status"] == "deployed", world.events(sid)
    fqdn = "gollum1-wiki.gw2.grid.example"
    rows = assert_tunnelled_layout(world, sid, app_pool, gateway_pool, fqdn)
    container = rows[1]
    words = shlex.split(container["body"]["entrypoint"])
    assert words == ["/bin/bash", "/start.sh", fqdn, "ops@example.com"]
    env = {
        "pub_key": SSH_KEY,
        "GITHUB_USER": "alice-w",
        "GITHUB_EMAIL": "alice@example.org",
        "GITHUB_REPO": "team.wiki",
    }
    assert container["body"]["environment"] == env
    assert set(container["body"]["secret_environment"]) == {"GITHUB_TOKEN"}
    assert sol["outputs"]["URL"] == f"https://{fqdn}"

    status, answers = dig(world, fqdn)
    assert status == "NOERROR" and answers == rows[0]["body"]["ips"] and answers

    listed = world.client().get("/api/solutions?type=gollum", headers=world.headers(owner)).get_json()["solutions"]
    (entry,) = listed
    assert entry["type"] == "gollum" and entry["Name"] == "wiki" and entry["Domain"] == fqdn
    assert entry["Network"] == "net" and entry["Pool"] == grid_pool(app_pool) and entry["RootFS Size"] == 512
    shown = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_data(as_text=True)
    grid_text = json.dumps([world.grid_workload(int(w["grid_id"])) for w in rows])
    text = json.dumps(listed) + shown + json.dumps(world.events(sid)) + json.dumps(rows, default=str)
    assert TOKEN not in text + grid_text + logs_text(world)

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)
    live = {int(w["id"]) for w in world.live_on_grid()}
    assert not live & {int(w["grid_id"]) for w in rows}  # gateway workloads included
    assert dig(world, fqdn)[0] == "NXDOMAIN"
    assert TOKEN not in logs_text(world)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "ops@example.com; reboot"),
        ("email", "$(curl evil)@example.com"),
        ("github_email", "a`id`@example.com"),
        ("github_user", "alice && rm -rf /"),
        ("github_repo", "wiki'; touch /pwned; '"),
        ("github_repo", "wïki"),
        ("parent_domain", "gw1.grid.example\nls"),
        ("parent_domain", "g" * 300 + ".example"),
        ("name", "wiki.example"),
    ],
)
def test_hostile_free_text_is_refused_at_submission_naming_the_field(world: DeployerWorld, field: str,
                                                                     value: str) -> None:  # fmt: skip
    owner = "gollum2.3bot"
    pool = world.pool(owner, farm_id=1)
    spec = gollum_spec(world, owner, "wiki", pool, [pool], "gw1.grid.example") | {field: value}
    answer = world.submit(owner, "gollum", spec, {"github_token": TOKEN})
    assert answer["ok"] is False and [e["field"] for e in answer["errors"]] == [field], answer
    assert not sql("SELECT id FROM deployer.solutions WHERE owner = %s AND type = 'gollum'", owner)


def test_the_node_chosen_for_the_wiki_has_room_for_its_tunnel_client_too(world: DeployerWorld, ct: None) -> None:
    """The tcprouter client runs on the wiki's node (colocated), so that node must have room for both. Before, the
    node was chosen for the wiki alone: on a node with exactly the wiki's CPU free, the client then failed ("node …
    has only 0 free CPU cores") — a CI flake of the 3Bot tests once the shared grid filled up."""
    owner = "gollum3.3bot"
    app_pool, gateway_pool = world.pool(owner, farm_id=1, key="tight"), world.pool(owner, farm_id=2)
    spec = gollum_spec(world, owner, "tight", app_pool, [gateway_pool], "gw2.grid.example")
    roomy = sql("SELECT node_id, free_cru FROM deployer.nodes WHERE farm_id = 1 AND free_cru >= 3 AND free_mru >= 4 "
                "AND free_sru >= 10 ORDER BY node_id LIMIT 2")  # fmt: skip
    (tight, tight_free), (spare, _) = ((r["node_id"], r["free_cru"]) for r in roomy)
    others = [r["node_id"] for r in sql("SELECT node_id FROM deployer.nodes WHERE farm_id = 1 AND node_id <> ALL(%s)",
                                        [tight, spare])]  # fmt: skip
    with world.holding({**dict.fromkeys([*others, spare], 1000), tight: tight_free - 1}):  # the wiki's 1 CPU left
        failed = world.deploy(owner, "gollum", spec, {"github_token": TOKEN}, timeout=120)
    assert failed["status"] == "rolled_back", world.events(str(failed["id"]))
    assert "has 2 free CPU cores (the most any has is 1 core)" in failed["error"], failed["error"]
    with world.holding({**dict.fromkeys(others, 1000), tight: tight_free - 1}):  # a node with room for both too
        sol = world.deploy(owner, "gollum", {**spec, "name": "tight2"}, {"github_token": TOKEN}, timeout=120)
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    assert {w["node_id"] for w in world.workloads(str(sol["id"])) if w["kind"] == "container"} == {spare}
