"""Reliability: crashes, a flaky grid, deadlines, duplicates, concurrency — each checked for duplicates and leaks.

After every scenario the grid and our index must agree exactly: every live workload of ours on the grid is a row
we know as sent/deployed, and every such row is live on the grid (no duplicate, nothing leaked).
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.deployer.conftest import DeployerWorld, sql
from tests.integration.deployer.test_lifecycle import ubuntu_spec


def assert_grid_matches_index(world: DeployerWorld) -> None:
    live = world.live_on_grid()
    live_ids = Counter(int(w["id"]) for w in live)
    rows = sql("SELECT grid_id FROM deployer.workloads WHERE state IN ('sent', 'deployed') AND grid_id IS NOT NULL")
    known = Counter(int(r["grid_id"]) for r in rows)
    assert set(live_ids) == set(known), {"on the grid only": set(live_ids) - set(known),
                                         "in our index only": set(known) - set(live_ids)}  # fmt: skip
    # No workload of a solution was created twice on the grid (one live workload per recorded key).
    records = [world.identity.decrypt_metadata(w["metadata"]) for w in live]
    keys = Counter((r["solution_uuid"], r["wl"]) for r in records if r)
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


def wait_all(world: DeployerWorld, ids: list[str], timeout: float = 180) -> list[dict[str, Any]]:
    return [world.wait(i, timeout=timeout) for i in ids]


@pytest.fixture(autouse=True)
def healthy_grid(world: DeployerWorld) -> Any:
    world.healthy()
    yield
    world.healthy()


def test_the_same_submit_twice_makes_one_solution(world: DeployerWorld) -> None:
    owner = "dave.3bot"
    world.network(owner)
    spec = ubuntu_spec(world, owner, "twice")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: world.submit(owner, "ubuntu", spec, key="session-twice-0001"), range(4)))
    assert all(a["ok"] for a in answers)
    assert len({a["solution_id"] for a in answers}) == 1
    sol = world.wait(answers[0]["solution_id"])
    assert sol["status"] == "deployed"
    assert len(world.workloads(str(sol["id"]))) == 1
    again = world.submit(owner, "ubuntu", spec, key="session-twice-0001")
    assert again["solution_id"] == answers[0]["solution_id"]
    # Another deployment with the same name is refused while this one lives (a unique index, not check-then-act).
    clash = world.submit(owner, "ubuntu", spec)
    assert not clash["ok"] and clash["errors"][0]["field"] == "name"
    assert_grid_matches_index(world)


def test_no_node_fits_fails_clearly_and_deploys_nothing(world: DeployerWorld) -> None:
    owner = "dave.3bot"
    world.network(owner)
    spec = {"name": "huge", "where": {"pool_id": world.pool(owner)}, "network": "net", "volume": {"size": 10 * 1024},
            "flist": "https://hub.grid.tf/tf-official-apps/redis_zinit.flist"}  # fmt: skip
    sol = world.deploy(owner, "flist", spec)
    assert sol["status"] == "rolled_back"
    assert "GiB of free SSD storage" in sol["error"], sol["error"]
    assert world.workloads(str(sol["id"])) == []
    assert sql("SELECT * FROM deployer.ip_allocations WHERE solution_id = %s", str(sol["id"])) == []
    assert_grid_matches_index(world)


def test_a_workload_that_never_deploys_is_rolled_back_at_its_deadline(world: DeployerWorld) -> None:
    owner = "dave.3bot"
    world.network(owner)
    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 3600}})
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "stuck"), timeout=120)
    assert sol["status"] == "rolled_back"
    assert "was not ready within" in sol["error"], sol["error"]
    world.assert_gone_from_grid(str(sol["id"]))
    assert sql("SELECT * FROM deployer.ip_allocations WHERE solution_id = %s", str(sol["id"])) == []
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    assert shown["status"] == "rolled_back" and any("failed:" in e["message"] for e in shown["events"])
    assert_grid_matches_index(world)


def test_a_flaky_slow_grid_still_converges(world: DeployerWorld) -> None:
    owner = "erin.3bot"
    world.network(owner)
    world.admin("config", {"error_rate": 0.2, "extra_latency": 0.05})
    ids = [world.submit(owner, "ubuntu", ubuntu_spec(world, owner, f"flaky{i}"))["solution_id"] for i in range(6)]
    sols = wait_all(world, ids)
    world.healthy()
    assert [s["status"] for s in sols] == ["deployed"] * 6, [(s["status"], s["error"]) for s in sols]
    assert_grid_matches_index(world)
    for sol in sols:
        assert world.cancel(owner, str(sol["id"])).status_code == 202
    for sol in sols:
        assert world.wait(str(sol["id"]), ("cancelled",))["status"] == "cancelled"
        world.assert_gone_from_grid(str(sol["id"]))
    assert_grid_matches_index(world)


def test_a_worker_killed_mid_deployment_does_not_lose_it(world: DeployerWorld) -> None:
    owner = "frank.3bot"
    world.network(owner)
    world.admin("config", {"deploy_latency": {"default": 0.2, "container": 4}})
    answer = world.submit(owner, "ubuntu", ubuntu_spec(world, owner, "survivor"))
    solution_id = answer["solution_id"]
    deadline = time.monotonic() + 60
    while not any(w["state"] == "sent" for w in world.workloads(solution_id)):
        assert time.monotonic() < deadline, world.events(solution_id)
        time.sleep(0.1)
    for proc in list(world.workers):  # every deployer worker dies at once: nothing acknowledges anything
        world.kill(proc)
        world.workers.remove(proc)
    world.start_worker("deployer-worker-3")
    world.start_worker("deployer-worker-4")
    world.admin("config", {"deploy_latency": {"default": 0.2}})
    deadline = time.monotonic() + 90
    while world.solution(solution_id)["status"] not in ("deployed", "rolled_back"):
        assert time.monotonic() < deadline, world.events(solution_id)
        world.reconcile()  # beat's job: re-drives the stalled solution
        time.sleep(1)
    assert world.solution(solution_id)["status"] == "deployed"
    assert len(world.workloads(solution_id)) == 1
    assert_grid_matches_index(world)


def test_twenty_concurrent_deployments_into_one_network_never_collide(world: DeployerWorld) -> None:
    owner = "carol.3bot"
    world.network(owner, "shared")
    pools = [world.pool(owner), world.pool(owner, farm_id=2)]
    specs = [
        {**ubuntu_spec(world, owner, f"c{i}"), "network": "shared", "where": {"pool_id": pools[i % 2]}}
        for i in range(20)
    ]
    with ThreadPoolExecutor(20) as executor:
        answers = list(executor.map(lambda s: world.submit(owner, "ubuntu", s), specs))
    sols = wait_all(world, [a["solution_id"] for a in answers], timeout=240)
    assert [s["status"] for s in sols] == ["deployed"] * 20, [(s["status"], s["error"]) for s in sols]
    ips = [w["body"]["network_connection"][0]["ipaddress"] for s in sols for w in world.workloads(str(s["id"]))]
    assert len(set(ips)) == 20
    net = sql("SELECT * FROM deployer.networks WHERE name = %s", f"{owner}_shared")[0]
    subnets = sql("SELECT subnet::text AS s, node_id, wg_listen_port FROM deployer.network_subnets "
                  "WHERE network_id = %s", net["id"])  # fmt: skip
    assert len({r["s"] for r in subnets}) == len(subnets)
    node_subnets = {r["node_id"]: r["s"] for r in subnets if r["node_id"]}
    for ip, sol in zip(ips, sols, strict=True):
        node = world.workloads(str(sol["id"]))[0]["node_id"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(node_subnets[node])
    world.reconcile()  # confirms the last versions nobody waited for (beat's job)
    # The newest network resource of every node routes to every other node (directly, or through the relay for
    # hidden nodes — GRID_API §11): no concurrent rewrite lost a peer.
    latest = sql("SELECT DISTINCT ON (node_id) node_id, body, state FROM deployer.workloads WHERE network_id = %s "
                 "AND kind = 'network_resource' AND state <> 'superseded' ORDER BY node_id, id DESC",
                 net["id"])  # fmt: skip
    assert {r["node_id"] for r in latest} == set(node_subnets)
    for row in latest:
        assert row["state"] == "deployed"
        peers = {r for p in row["body"]["peers"] for r in p["allowed_iprange"]}
        others = {s for n, s in node_subnets.items() if n != row["node_id"]}
        assert others <= peers, (row["node_id"], others - peers)
    assert_grid_matches_index(world)
