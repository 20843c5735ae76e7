"""GridClient against a real grid emulator process: every workload kind the marketplace creates, end to end.

Render → create → wait for the node's result → sign the deletion → wait until DELETED, plus the explorer's
refusals (402, 404) and the idempotence of deletion.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from services.common.explorer import Explorer, ExplorerRejected
from services.common.grid_identity import ensure_registered
from services.common.identity import Identity
from services.common.settings import load_settings
from services.deployer.grid.client import GridClient
from services.deployer.grid.kinds import Kind, NextAction, ResultState
from services.deployer.grid.network_plan import (
    Member,
    network_resource_fields,
    peers_for,
    public_addresses,
    random_wg_port,
    wg_keypair,
)
from services.deployer.grid.render import render
from services.deployer.solutions.base import Placed, Sealed, WorkloadPlan, container_fields
from tests.conftest import PYTHON, Processes, base_env, free_port, wait_http

NETWORK = "marketplace.3bot_it"
IP_RANGE = "10.77.0.0/16"
SUBNET = "10.77.1.0/24"
RECORD = {"owner": "alice.3bot", "name": "alice.3bot-it", "chatflow": "test", "solution_uuid": "cd" * 16}


@dataclass
class World:
    grid: str  # emulator base URL (admin endpoints under /_emulator)
    explorer: Explorer
    client: GridClient
    identity: Identity

    def pool(self, node_ids: list[str], cus: int, sus: int, pay: bool = True) -> int:
        """A new capacity pool of ours (§4.5, signed as §7.3), paid as a wallet pays (escrow address, asset,
        amount, memo ``p-<reservation id>``) and credited once the emulator's payment delay has passed."""
        data = {"pool_id": 0, "cus": cus, "sus": sus, "node_ids": node_ids, "currencies": ["TFT"]}
        text = json.dumps(data)
        answer = self.explorer.post(
            "/reservations/pools",
            {"json": text, "data_reservation": data, "customer_tid": self.client.tid,
             "customer_signature": self.identity.sign(text.encode()).hex()},
        )  # fmt: skip
        pool_id = int(answer["reservation_id"])
        if pay:
            escrow = answer["escrow_information"]
            payment = {"to": escrow["address"], "asset": escrow["asset"], "amount": escrow["amount"],
                       "memo": f"p-{pool_id}"}  # fmt: skip
            paid = requests.post(f"{self.grid}/_emulator/pay", json=payment, timeout=10)
            assert paid.status_code == 200, paid.text
            status, deadline = paid.json(), time.monotonic() + 30
            while status["state"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.2)
                status = requests.get(f"{self.grid}/_emulator/payments/{status['payment_id']}", timeout=10).json()
            assert status["state"] == "credited", status
        return pool_id

    def render(self, plan: WorkloadPlan, placed: Placed, secrets: dict[str, str] | None = None) -> dict[str, Any]:
        return render(plan, placed, tid=self.client.tid, identity=self.identity, metadata=RECORD,
                      secrets=secrets or {}, epoch=int(time.time()))  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("grid-client")
    (tmp / "logs").mkdir()
    port = free_port()
    grid = f"http://127.0.0.1:{port}"
    processes = Processes(tmp / "logs")
    try:
        args = ["--port", str(port), "--state", str(tmp / "grid.sqlite3"), "--nodes", "12",
                "--deploy-latency", "0.2", "--delete-latency", "0.2"]  # fmt: skip
        proc = processes.start("grid", [PYTHON, "-m", "emulators.grid", *args], {})
        wait_http(f"{grid}/_emulator/healthz", proc=proc)
        settings = load_settings(base_env(tmp, EXPLORER_URL=f"{grid}/api/v1", HTTP_READ_TIMEOUT="10"))
        identity = Identity(bytes(range(100, 132)))
        assert ensure_registered(settings, identity) > 0
        explorer = Explorer(settings, identity)
        yield World(grid=grid, explorer=explorer, client=GridClient(explorer), identity=identity)
        explorer.close()
    finally:
        processes.stop_all()


def wait_for(client: GridClient, grid_id: int, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workload = client.workload(grid_id)
        if done(workload):
            return workload
        time.sleep(0.1)
    raise AssertionError(f"workload {grid_id} did not get there: {workload}")


def deployed(client: GridClient, grid_id: int) -> dict[str, Any]:
    workload = wait_for(client, grid_id, lambda w: bool(w["result"]["workload_id"]))
    assert workload["result"]["state"] == ResultState.OK, workload["result"]["message"]
    return workload


def public_node(world: World) -> dict[str, Any]:
    """A node of the first farm reachable over IPv4 (the network needs a public member)."""
    nodes = world.explorer.get_json("/nodes", {"farm": 1})
    return next(n for n in nodes if public_addresses(n)[0] is not None)


def test_every_kind_deploys_and_is_deleted(world: World) -> None:
    client = world.client
    node = public_node(world)
    node_id = node["node_id"]
    assert client.node(node_id)["node_id"] == node_id
    pool_id = world.pool([node_id], cus=200_000, sus=200_000)
    assert client.pool(pool_id)["cus"] == pytest.approx(200_000, rel=0.01)
    placed = Placed(role="main", node_id=node_id, grid_pool_id=pool_id)

    # The network: one member, so no peers; its WireGuard private key is sealed to the node while rendering.
    private, public = wg_keypair()
    ipv4, ipv6 = public_addresses(node)
    member = Member(node_id, SUBNET, public, random_wg_port(random.Random(5), node["wg_ports"]), ipv4, ipv6)
    fields = network_resource_fields(NETWORK, IP_RANGE, member, Sealed("wg"), peers_for(member, [member], []))
    network_body = render(
        WorkloadPlan("nr", Kind.NETWORK_RESOURCE, "net", fields), Placed("net", node_id, pool_id), tid=client.tid,
        identity=world.identity, metadata={"network": NETWORK}, secrets={"wg": private}, epoch=int(time.time()),
    )  # fmt: skip
    volume_plan = WorkloadPlan(key="volume", kind=Kind.VOLUME, role="main", fields={"size": 2, "type": 1})
    zdb_plan = WorkloadPlan(
        key="zdb", kind=Kind.ZDB, role="main",
        fields={"size": 3, "mode": 0, "password": Sealed("zdb"), "disk_type": 1, "public": False,
                "stats_aggregator": []},
    )  # fmt: skip
    first = {
        "network": client.create_workload(network_body),
        "volume": client.create_workload(world.render(volume_plan, placed)),
        "zdb": client.create_workload(world.render(zdb_plan, placed, {"zdb": "zdb-secret"})),
    }
    results = {key: deployed(client, grid_id) for key, grid_id in first.items()}
    assert results["volume"]["result"]["data_json"] == {"volume_id": f"{first['volume']}-1"}
    assert results["zdb"]["result"]["data_json"]["Namespace"] == f"{first['zdb']}-1"
    assert world.identity.decrypt_metadata(results["volume"]["metadata"]) == RECORD

    # Stage two uses the results of stage one: the volume's id, IPs inside the network's /24.
    container_plan = WorkloadPlan(
        key="container", kind=Kind.CONTAINER, role="main",
        fields=container_fields(
            flist="https://hub.grid.tf/tf-official-apps/redis_zinit.flist", cpu=1, memory=1024, disk=256,
            network=NETWORK, ip="10.77.1.2", environment={"A": "1"},
            secret_environment={"PASS": Sealed("pass")},
            volumes=[{"volume_id": results["volume"]["result"]["workload_id"], "mountpoint": "/data"}],
        ),
    )  # fmt: skip
    k8s_plan = WorkloadPlan(
        key="master", kind=Kind.KUBERNETES, role="main", description='{"role": "master"}',
        fields={"size": 1, "network_id": NETWORK, "ipaddress": "10.77.1.3", "cluster_secret": Sealed("k8s"),
                "master_ips": [], "ssh_keys": ["ssh-ed25519 AAAA test"], "stats_aggregator": []},
    )  # fmt: skip
    secrets = {"pass": "container-secret", "k8s": "cluster-secret"}
    second = {
        "container": client.create_workload(world.render(container_plan, placed, secrets)),
        "kubernetes": client.create_workload(world.render(k8s_plan, placed, secrets)),
    }
    results.update({key: deployed(client, grid_id) for key, grid_id in second.items()})
    assert results["container"]["result"]["data_json"]["ipv4"] == "10.77.1.2"
    assert results["kubernetes"]["result"]["data_json"]["ip"] == "10.77.1.3"

    every = {**first, **second}
    # Small pages: the listing must walk every page.
    live = {w["id"]: w for w in client.live_workloads(page_size=2)}
    assert set(every.values()) <= live.keys()
    assert all(isinstance(w["result"]["data_json"], dict) for w in live.values())

    # Workloads first, the network last (a container's IP needs the network while it runs).
    for key in ("container", "kubernetes", "volume", "zdb", "network"):
        client.sign_delete(every[key])
        client.sign_delete(every[key])  # a repeated request is a success
    for grid_id in every.values():
        gone = wait_for(client, grid_id, lambda w: w["next_action"] == NextAction.DELETED)
        assert gone["result"]["state"] == ResultState.DELETED
        client.sign_delete(grid_id)  # and so is one after the deletion
    assert set(every.values()).isdisjoint(w["id"] for w in client.live_workloads())


def test_pool_that_cannot_pay_is_refused_with_402(world: World) -> None:
    node = public_node(world)
    pool_id = world.pool([node["node_id"]], cus=0, sus=0, pay=False)
    plan = WorkloadPlan(key="volume", kind=Kind.VOLUME, role="main", fields={"size": 1, "type": 1})
    with pytest.raises(ExplorerRejected) as refused:
        world.client.create_workload(world.render(plan, Placed("main", node["node_id"], pool_id)))
    assert refused.value.status == 402
    assert "capacity" in refused.value.message


def test_unknown_workload_is_404(world: World) -> None:
    with pytest.raises(ExplorerRejected) as unknown:
        world.client.workload(999_999)
    assert unknown.value.status == 404
    with pytest.raises(ExplorerRejected):
        world.client.sign_delete(999_999)


def test_the_live_listing_misses_no_workload_while_others_leave(world: World) -> None:
    """Workloads leaving DEPLOY while the pages are read shift the list; a workload live throughout is never missed
    (the lost-answer search relies on it: a missed workload would be sent a second time)."""
    client = world.client
    node = public_node(world)
    pool_id = world.pool([node["node_id"]], cus=1_000_000, sus=1_000_000)
    plan = WorkloadPlan(key="volume", kind=Kind.VOLUME, role="main", fields={"size": 1, "type": 1})
    created = [client.create_workload(world.render(plan, Placed("main", node["node_id"], pool_id))) for _ in range(6)]
    for grid_id in created:
        deployed(client, grid_id)
    live = sorted(int(w["id"]) for w in client.live_workloads())
    assert set(created) <= set(live)
    listing = client.live_workloads(page_size=2)
    seen = {int(next(listing)["id"])}
    for grid_id in live[:2]:  # the first page's workloads leave while the listing is under way
        client.sign_delete(grid_id)
        wait_for(client, grid_id, lambda w: w["next_action"] == NextAction.DELETED)
    seen |= {int(w["id"]) for w in listing}
    assert set(live[2:]) <= seen, sorted(set(live[2:]) - seen)
