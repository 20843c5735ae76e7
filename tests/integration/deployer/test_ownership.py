"""What another user must never get from the deployer: a deployment on someone else's pool, or someone else's
WireGuard private key — each tried by a second user right where a shortcut would let it through."""

from __future__ import annotations

from typing import Any

from services.deployer.context import POOL_VERDICT_TTL
from tests.integration.deployer.conftest import DeployerWorld, sql


def _first_event(solution_id: str, prefix: str) -> Any:
    rows = sql("SELECT min(at) AS at FROM deployer.solution_events WHERE solution_id = %s AND message LIKE %s",
               solution_id, prefix + "%")  # fmt: skip
    return rows[0]["at"]


def test_another_users_pool_is_refused_while_its_owners_verdict_is_cached(world: DeployerWorld) -> None:
    # The deployer caches a pool's capacity verdict for POOL_VERDICT_TTL s; pool ids are small sequential
    # integers, so a key without the owner would hand the owner's "ok" to anyone naming the same pool.
    owner, other = "olga.3bot", "oscar.3bot"
    pool = world.pool(owner)
    world.pool(other)  # the other user is a customer too, with a pool of their own
    mine = world.submit(owner, "network", {"name": "home", "pool_ids": [pool]})["solution_id"]
    world.wait(mine, ("deploying", "deployed"))  # planned: the owner's verdict is cached from here on

    theirs = world.deploy(other, "network", {"name": "home", "pool_ids": [pool]})
    theirs_id = str(theirs["id"])
    assert world.wait(mine)["status"] == "deployed", world.events(mine)
    assert theirs["status"] == "rolled_back", world.events(theirs_id)
    assert f"you have no pool {pool}" in theirs["error"], theirs["error"]
    # Refused for the very same pool and resources within the verdict's lifetime (what lets this test fail).
    asked_within = _first_event(theirs_id, "failed:") - _first_event(mine, "submitted")
    assert asked_within.total_seconds() < POOL_VERDICT_TTL, asked_within
    assert world.workloads(theirs_id) == []
    # Nothing of the other user's runs on the owner's pool.
    grid_pool = sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool)[0]["grid_pool_id"]
    owners = {world.identity.decrypt_metadata(w["metadata"])["owner"] for w in world.live_on_grid()
              if int(w["pool_id"]) == grid_pool}  # fmt: skip
    assert owners == {owner}


def test_another_user_cannot_take_a_networks_wireguard_config(world: DeployerWorld) -> None:
    owner, other = "olga.3bot", "oscar.3bot"
    sol = world.deploy(owner, "network", {"name": "vault", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    path = f"/api/solutions/{sol['id']}/wireguard"

    # The download is a POST (it erases the config); the other user's is same-origin and signed in, like a real one.
    taken = world.client().post(path, headers=world.headers(other))
    assert taken.status_code == 404
    assert taken.json["message"] == "no such solution"  # exactly like an unknown id
    assert "PrivateKey" not in taken.get_data(as_text=True)
    # The refused attempt consumed nothing: the owner still downloads it, once.
    download = world.client().post(path, headers=world.headers(owner))
    assert download.status_code == 200
    assert "PrivateKey = " in download.get_data(as_text=True)
    assert world.client().post(path, headers=world.headers(owner)).status_code == 410
