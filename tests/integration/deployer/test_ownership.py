"""What another user must never get from the deployer: a deployment on someone else's pool, or someone else's
WireGuard private key — each tried by a second user right where a shortcut would let it through."""

from __future__ import annotations

import uuid

from services.common import contracts
from services.common.tasks import send
from tests.integration.deployer.conftest import DeployerWorld, sql


def test_another_users_pool_is_refused_right_after_its_owner_planned_into_it(world: DeployerWorld) -> None:
    # Pool ids are small sequential integers: naming someone else's must never reach their grid pool. The deployer
    # uses only the pools the chatflow verified as the submitter's (SubmitSolution.pools; the world's submit
    # hands over what the chatflow would: the submitter's own pools), and reads those grid pools itself.
    owner, other = "olga.3bot", "oscar.3bot"
    pool = world.pool(owner)
    world.pool(other)  # the other user is a customer too, with a pool of their own
    mine = world.submit(owner, "network", {"name": "home", "pool_ids": [pool]})["solution_id"]
    world.wait(mine, ("deploying", "deployed"))  # planned: the owner's pool was read and found good

    theirs = world.deploy(other, "network", {"name": "home", "pool_ids": [pool]})
    theirs_id = str(theirs["id"])
    assert world.wait(mine)["status"] == "deployed", world.events(mine)
    assert theirs["status"] == "rolled_back", world.events(theirs_id)
    assert f"you have no pool {pool}" in theirs["error"], theirs["error"]
    assert world.workloads(theirs_id) == []
    # Nothing of the other user's runs on the owner's pool.
    grid_pool = sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool)[0]["grid_pool_id"]
    owners = {world.identity.decrypt_metadata(w["metadata"])["owner"] for w in world.live_on_grid()
              if int(w["pool_id"]) == grid_pool}  # fmt: skip
    assert owners == {owner}


def test_a_pool_the_chatflow_did_not_verify_is_never_used(world: DeployerWorld) -> None:
    # A submission whose verified pools do not name the spec's pool (an older chatflow, a forged message that
    # maps someone else's id) is refused: the spec's pool id alone is never looked up anywhere.
    owner = "olga.3bot"
    pool = world.pool(owner)
    payload = contracts.SubmitSolution(idempotency_key=uuid.uuid4().hex, owner=owner, type="network",
                                       spec={"name": "unverified", "pool_ids": [pool]})  # fmt: skip
    answer = send(world.celery, contracts.DEPLOYER_SUBMIT, payload).get(timeout=30)
    sol = world.wait(answer["solution_id"])
    assert sol["status"] == "rolled_back" and f"you have no pool {pool}" in sol["error"], sol["error"]


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
