"""The deployer against the grid's harsh truths: node reports that lag behind deployments, network resources whose
deletion tears the network down on a node, public IPv6 only on nodes that have one, unknown flists."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from services.common import contracts
from services.common.tasks import send
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql

OWNER = "lag.3bot"


def _refresh(world: DeployerWorld) -> None:
    send(world.celery, contracts.DEPLOYER_REFRESH_NODES, contracts.RefreshNodes()).get(timeout=60)


def _truth(world: DeployerWorld, node_id: str) -> dict[str, Any]:
    """What the node itself runs now (the emulator's admin view, no report lag)."""
    return dict(requests.get(f"{world.grid}/_emulator/nodes/{node_id}", timeout=10).json())


@pytest.fixture
def lagging(world: DeployerWorld) -> Iterator[None]:
    """Node reports an hour behind, and no other tenants (so only our own usage can overbook a node)."""
    before = requests.get(f"{world.grid}/_emulator/config", timeout=10).json()
    assert world.admin("config", {"report_lag": 3600, "other_tenants": 0}).status_code == 200
    yield
    world.admin("config", {"report_lag": before["report_lag"], "other_tenants": before["other_tenants"]})


def test_a_lagging_node_report_never_overbooks_a_node(world: DeployerWorld, lagging: None) -> None:
    world.network(OWNER)
    pool = world.pool(OWNER)
    _refresh(world)
    # An up node of the pool's farm that runs nothing of ours yet, with room for two disks of 40 % and not three.
    candidates = sql("SELECT node_id, free_sru FROM deployer.nodes WHERE farm_id = 1 AND free_sru >= 100 AND "
                     "free_cru >= 4 AND free_mru >= 4 AND updated > now() - interval '10 minutes' "
                     "ORDER BY free_sru, node_id")  # fmt: skip
    node = next(c for c in candidates if _truth(world, c["node_id"])["customers"]["sru"] == 0)
    node_id, total_sru = node["node_id"], _truth(world, node["node_id"])["total_resources"]["sru"]
    disk_gib = int(node["free_sru"] * 0.4)
    outcomes = []
    for index in range(3):
        spec = {"name": f"fill-{index}", "where": {"pool_id": pool, "node_id": node_id}, "network": "net",
                "ssh_key": SSH_KEY, "resources": {"cpu": 1, "memory": 1024, "disk": disk_gib * 1024}}  # fmt: skip
        sol = world.deploy(OWNER, "ubuntu", spec)
        outcomes.append(sol)
        truth = _truth(world, node_id)
        assert truth["customers"]["sru"] <= total_sru, f"node {node_id} overbooked: {truth}"
        # The grid still reports the node as it was an hour ago; the index must not believe it.
        _refresh(world)
        reported = requests.get(f"{world.grid}/api/v1/nodes/{node_id}", timeout=10).json()
        assert reported["workloads"]["container"] == 0
    events = [world.events(str(s["id"])) for s in outcomes]
    assert [s["status"] for s in outcomes[:2]] == ["deployed", "deployed"], events
    third = outcomes[2]
    assert third["status"] == "rolled_back"
    # Refused while planning, from our own bookkeeping: nothing was sent to a node that had no room.
    assert world.workloads(str(third["id"])) == [], world.events(str(third["id"]))
    assert "SSD" in third["error"] or "room" in third["error"], third["error"]
    for sol in outcomes[:2]:
        world.cancel(OWNER, str(sol["id"]))
        world.wait(str(sol["id"]))


def test_rolling_back_a_network_change_never_cuts_off_a_live_container(world: DeployerWorld) -> None:
    owner = "teardown.3bot"
    world.network(owner)
    pool = world.pool(owner)
    first = world.deploy(owner, "ubuntu", {"name": "live", "where": {"pool_id": pool}, "network": "net",
                                           "ssh_key": SSH_KEY})  # fmt: skip
    assert first["status"] == "deployed", world.events(str(first["id"]))
    live = next(w for w in world.workloads(str(first["id"])) if w["kind"] == "container")
    network_nodes = {r["node_id"] for r in sql("SELECT node_id FROM deployer.network_subnets WHERE node_id IS NOT "
                                                "NULL AND network_id = %s", first["network_id"])}  # fmt: skip
    other = sql("SELECT node_id FROM deployer.nodes WHERE farm_id = 1 AND free_sru > 10 AND free_cru >= 2 AND "
                "updated > now() - interval '10 minutes' AND NOT (node_id = ANY(%s)) ORDER BY node_id LIMIT 1",
                sorted(network_nodes))[0]["node_id"]  # fmt: skip
    # A second deployment adds a node to the network (every node's resource is re-sent, so the live container's
    # node gets a newer version), then fails on its node (an image the hub does not have) and rolls back.
    spec = {"name": "doomed", "where": {"pool_id": pool, "node_id": other}, "network": "net",
            "flist": "https://hub.grid.tf/nobody/missing.flist", "corex": True}  # fmt: skip
    doomed = world.deploy(owner, "flist", spec)
    assert doomed["status"] == "rolled_back", world.events(str(doomed["id"]))
    assert "not found on the hub" in doomed["error"]
    versions = sql("SELECT count(*) AS n FROM deployer.workloads WHERE network_id = %s AND kind = "
                   "'network_resource' AND node_id = %s AND grid_id IS NOT NULL", first["network_id"],
                   live["node_id"])[0]["n"]  # fmt: skip
    assert versions >= 2  # the live container's node got a newer version of the network
    world.reconcile()
    time.sleep(1)  # deletions the rollback asked for are confirmed by the grid (0.2 s)
    still = world.grid_workload(int(live["grid_id"]))
    assert still["next_action"] == 3 and still["result"]["state"] == 1, still["result"]
    assert world.solution(str(first["id"]))["status"] == "deployed"
    world.cancel(owner, str(first["id"]))
    world.wait(str(first["id"]))


def test_a_public_ipv6_is_asked_only_of_nodes_that_have_one(world: DeployerWorld) -> None:
    owner = "six.3bot"
    world.network(owner)
    pool = world.pool(owner)
    _refresh(world)
    sol = world.deploy(owner, "ubuntu", {"name": "six", "where": {"pool_id": pool}, "network": "net",
                                         "ssh_key": SSH_KEY, "public_ipv6": True})  # fmt: skip
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    container = next(w for w in world.workloads(str(sol["id"])) if w["kind"] == "container")
    data = world.grid_workload(int(container["grid_id"]))["result"]["data_json"]
    assert (json.loads(data) if isinstance(data, str) else data)["ipv6"].startswith("2a02:1802:")
    assert sql("SELECT has_ipv6 FROM deployer.nodes WHERE node_id = %s", container["node_id"])[0]["has_ipv6"]
    world.cancel(owner, str(sol["id"]))
    world.wait(str(sol["id"]))

    no_ipv6 = sql("SELECT node_id FROM deployer.nodes WHERE farm_id = 1 AND NOT has_ipv6 AND free_sru > 10 "
                  "ORDER BY node_id LIMIT 1")[0]["node_id"]  # fmt: skip
    refused = world.deploy(owner, "ubuntu", {"name": "six-no", "where": {"pool_id": pool, "node_id": no_ipv6},
                                             "network": "net", "ssh_key": SSH_KEY, "public_ipv6": True})  # fmt: skip
    assert refused["status"] == "rolled_back" and "IPv6" in refused["error"], refused["error"]
    assert world.workloads(str(refused["id"])) == [], world.events(str(refused["id"]))
