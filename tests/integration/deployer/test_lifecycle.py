"""Each planner end to end through ``deployer.submit`` to ``deployed``, then cancelled → nothing left on the grid."""

from __future__ import annotations

from typing import Any

from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld


def _cancel_and_check(world: DeployerWorld, owner: str, solution_id: str) -> None:
    response = world.cancel(owner, solution_id)
    assert response.status_code == 202, response.json
    assert response.json["status"] in ("cancelling", "cancelled")
    sol = world.wait(solution_id, ("cancelled",))
    assert sol["status"] == "cancelled"
    world.assert_gone_from_grid(solution_id)
    assert all(w["state"] in ("deleted", "superseded") for w in world.workloads(solution_id))


def test_network_is_deployed_with_a_one_time_wireguard_config(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    sol = world.deploy(owner, "network", {"name": "lab", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    assert shown["IP Range"].endswith(".0.0/16")
    assert len(shown["nodes"]) == 1
    first = world.client().get(f"/api/solutions/{sol['id']}/wireguard", headers=world.headers(owner))
    assert first.status_code == 200
    config = first.get_data(as_text=True)
    assert "[Interface]" in config and "PrivateKey = " in config and "PersistentKeepalive = 25" in config
    again = world.client().get(f"/api/solutions/{sol['id']}/wireguard", headers=world.headers(owner))
    assert again.status_code == 404  # shown once, never stored in clear
    _cancel_and_check(world, owner, str(sol["id"]))


def ubuntu_spec(world: DeployerWorld, owner: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "where": {"pool_id": world.pool(owner)}, "network": "net", "ssh_key": SSH_KEY, **extra}


def test_ubuntu_end_to_end(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "box"))
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    ip = shown["IPv4 Address"]
    assert shown["outputs"]["ssh"] == f"ssh root@{ip}"
    assert any(e["message"].startswith("container deployed, IP ") for e in shown["events"])
    _cancel_and_check(world, owner, str(sol["id"]))
