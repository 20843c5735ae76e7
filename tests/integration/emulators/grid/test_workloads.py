"""Workloads (§4.6, §12, §13): creation checks, deployment results, node-side validation, signed deletion."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import nacl.public
import pytest
from grid_emulator_client import TEST_LATENCY, Grid, data_json, has_public_ipv6
from grid_emulator_signing import Identity, identity, seal, sign_digest, workload_challenge


@dataclass
class Setup:
    grid: Grid
    alice: Identity
    pool_id: int
    node: dict[str, Any]
    other_node: dict[str, Any]
    gateway: dict[str, Any]


@pytest.fixture
def setup(grid: Grid, alice: Identity) -> Setup:
    nodes, gateways = grid.farm_nodes(1)
    # A node with a public IPv6 and HDDs first: containers here may ask for an IPv6 (test_node_truth.py covers
    # nodes without one), ZDBs want HDD space.
    nodes.sort(key=lambda node: (not has_public_ipv6(node), not node["total_resources"]["hru"]))
    node_ids = [n["node_id"] for n in nodes] + [g["node_id"] for g in gateways]
    pool_id = grid.paid_pool(alice, node_ids, cus=10_000_000, sus=10_000_000)
    return Setup(grid, alice, pool_id, nodes[0], nodes[1], gateways[0])


def _network(s: Setup, node: dict[str, Any] | None = None, subnet: str = "10.20.2.0/24") -> int:
    return s.grid.network(s.alice, node or s.node, s.pool_id, "alice.3bot_net", subnet)


def test_container_is_deployed_with_a_result_then_deleted(setup: Setup) -> None:
    s = setup
    network_id = _network(s)
    body = s.grid.container(s.alice, s.node, s.pool_id, "alice.3bot_net", "10.20.2.5", public_ip6=True)
    workload_id = s.grid.deploy(s.alice, body)

    pending = s.grid.workload(workload_id)
    assert pending["next_action"] == 3
    assert pending["result"]["workload_id"] == "" and pending["result"]["epoch"] == 0

    deployed = s.grid.wait_result(workload_id)
    result = deployed["result"]
    assert result["state"] == 1, result
    assert result["workload_id"] == f"{workload_id}-1"
    assert result["node_id"] == s.node["node_id"] and result["category"] == 1
    assert data_json(deployed)["ipv4"] == "10.20.2.5"
    assert data_json(deployed)["ipv6"].startswith("2a02:1802:")
    assert s.grid.workload(network_id)["result"]["state"] == 1

    reserved = s.grid.node(s.node["node_id"])["reserved_resources"]
    assert reserved == {"cru": 1, "mru": 1.0, "hru": 0.0, "sru": 0.25}
    assert s.grid.node(s.node["node_id"])["workloads"]["container"] == 1
    pool = s.grid.pool(s.pool_id)
    assert workload_id in pool["active_workload_ids"] and pool["active_cu"] == 0.25

    assert s.grid.sign_delete(s.alice, workload_id).status == 201
    assert s.grid.workload(workload_id)["next_action"] == 4
    s.grid.advance(TEST_LATENCY + 0.1)
    deleted = s.grid.workload(workload_id)
    assert deleted["next_action"] == 6 and deleted["result"]["state"] == 2
    assert [sig["tid"] for sig in deleted["signatures_delete"]] == [s.alice.tid]
    assert s.grid.node(s.node["node_id"])["reserved_resources"]["cru"] == 0
    assert workload_id not in s.grid.pool(s.pool_id)["active_workload_ids"]


def test_volume_zdb_kubernetes_and_gateway_results(setup: Setup) -> None:
    s, pk = setup, setup.node["public_key_hex"]
    volume = s.grid.deploy(s.alice, s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=10, type=1))
    zdb = s.grid.deploy(
        s.alice,
        s.grid.workload_body(
            s.alice, s.node["node_id"], s.pool_id, 0, size=5, mode=1, password=seal(pk, "pw"), disk_type=0, public=False
        ),
    )
    _network(s)
    k8s = s.grid.workload_body(
        s.alice,
        s.node["node_id"],
        s.pool_id,
        4,
        size=1,
        network_id="alice.3bot_net",
        ipaddress="10.20.2.7",
        cluster_secret=seal(pk, "cluster"),
        master_ips=[],
        ssh_keys=["ssh-ed25519 AAAA"],
    )
    k8s_id = s.grid.deploy(s.alice, k8s)
    domain = "alice-pad." + s.gateway["managed_domains"][0]
    sub = s.grid.deploy(
        s.alice,
        s.grid.workload_body(s.alice, s.gateway["node_id"], s.pool_id, 7, domain=domain, ips=["185.69.166.10"]),
    )
    wg_key = base64.b64encode(nacl.public.PrivateKey.generate().public_key.encode()).decode()
    four = s.grid.deploy(s.alice, s.grid.workload_body(s.alice, s.gateway["node_id"], s.pool_id, 9, public_key=wg_key))

    assert data_json(s.grid.wait_result(volume)) == {"volume_id": f"{volume}-1"}
    zdb_data = data_json(s.grid.wait_result(zdb))
    assert zdb_data["Namespace"] == f"{zdb}-1" and zdb_data["Port"] == 9900 and zdb_data["IPs"]
    assert data_json(s.grid.wait_result(k8s_id))["ip"] == "10.20.2.7"
    assert s.grid.wait_result(sub)["result"]["state"] == 1
    four_data = data_json(s.grid.wait_result(four))
    assert four_data["ips"][0].endswith("/64") and four_data["peers"][0]["endpoint"]
    node = s.grid.node(s.node["node_id"])
    # 10 GiB SSD volume + 5 GiB HDD zdb + k8s size 1 (1 vCPU, 2 GiB, 50 GiB SSD).
    assert node["reserved_resources"] == {"cru": 1, "mru": 2.0, "hru": 5.0, "sru": 60.0}
    assert node["used_resources"] == node["reserved_resources"]


def _error_of(s: Setup, body: dict[str, Any]) -> str:
    result = s.grid.wait_result(s.grid.deploy(s.alice, body))["result"]
    assert result["state"] == 0, result
    return str(result["message"])


def test_node_side_validation_gives_error_results(setup: Setup) -> None:
    s = setup
    _network(s)
    assert "not in the range" in _error_of(
        s, s.grid.container(s.alice, s.node, s.pool_id, "alice.3bot_net", "10.20.3.5")
    )
    assert "reserved" in _error_of(s, s.grid.container(s.alice, s.node, s.pool_id, "alice.3bot_net", "10.20.2.1"))
    assert "no network resource" in _error_of(
        s, s.grid.container(s.alice, s.other_node, s.pool_id, "alice.3bot_net", "10.20.2.5")
    )
    volume = s.grid.deploy(
        s.alice, s.grid.workload_body(s.alice, s.other_node["node_id"], s.pool_id, 2, size=1, type=1)
    )
    s.grid.wait_result(volume)
    mounted = s.grid.container(
        s.alice,
        s.node,
        s.pool_id,
        "alice.3bot_net",
        "10.20.2.6",
        volumes=[{"volume_id": f"{volume}-1", "mountpoint": "/d"}],
    )
    assert "volume" in _error_of(s, mounted)
    wrong_seal = s.grid.container(
        s.alice,
        s.node,
        s.pool_id,
        "alice.3bot_net",
        "10.20.2.8",
        secret_environment={"X": seal(s.other_node["public_key_hex"], "x")},
    )
    assert "cannot decrypt" in _error_of(s, wrong_seal)
    outside = s.grid.workload_body(s.alice, s.gateway["node_id"], s.pool_id, 7, domain="alice.example.com", ips=[])
    assert "not a subdomain" in _error_of(s, outside)
    on_node = s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 8, domain="alice.example.com")
    assert "only be deployed on a gateway" in _error_of(s, on_node)
    on_gateway = s.grid.workload_body(s.alice, s.gateway["node_id"], s.pool_id, 2, size=1, type=1)
    assert "cannot be deployed on gateway" in _error_of(s, on_gateway)
    # A failed workload ends DELETED but keeps its Error result.
    failed = s.grid.deploy(s.alice, on_gateway)
    s.grid.wait_result(failed)
    s.grid.advance(TEST_LATENCY + 0.1)
    final = s.grid.workload(failed)
    assert final["next_action"] == 6 and final["result"]["state"] == 0


def test_duplicate_ip_is_refused_by_the_node(setup: Setup) -> None:
    s = setup
    _network(s)
    first = s.grid.deploy(s.alice, s.grid.container(s.alice, s.node, s.pool_id, "alice.3bot_net", "10.20.2.9"))
    assert s.grid.wait_result(first)["result"]["state"] == 1
    assert "already used" in _error_of(s, s.grid.container(s.alice, s.node, s.pool_id, "alice.3bot_net", "10.20.2.9"))


def test_create_checks(setup: Setup) -> None:
    s = setup
    body = s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1)

    def create(b: dict[str, Any], who: Identity | None = None) -> tuple[int, Any]:
        reply = s.grid.api("POST", "/reservations/workloads", b, signer=who or s.alice)
        return reply.status, reply.body

    assert s.grid.api("POST", "/reservations/workloads", body).status == 401  # no HTTP signature
    forged = {**body, "customer_signature": sign_digest(identity("mallory.3bot").key, workload_challenge(body))}
    assert create(forged) == (400, {"error": "failed to verify customer signature"})
    assert create({**body, "size": 2}) == (400, {"error": "failed to verify customer signature"})
    assert create({**body, "customer_tid": 9999})[0] == 400
    assert create({**body, "customer_signature": "xyz"})[0] == 400
    assert create({**body, "customer_signature": ""})[0] == 400
    assert create({**body, "workload_type": 42})[0] == 400
    assert create({**body, "workload_type": 3})[0] == 400
    assert (
        create(s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1, reference="x"))[0] == 400
    )
    assert (
        create(s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1, metadata="m" * 1025))[0]
        == 400
    )
    assert (
        create(s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1, next_action=4))[0] == 400
    )
    assert create(s.grid.workload_body(s.alice, s.node["node_id"], 0, 2, size=1, type=1))[0] == 400
    assert create(s.grid.workload_body(s.alice, s.node["node_id"], 4242, 2, size=1, type=1)) == (
        404,
        {"error": "pool does not exist"},
    )
    bob = s.grid.register("bob.3bot")
    bobs = s.grid.workload_body(bob, s.node["node_id"], s.pool_id, 2, size=1, type=1)
    assert create(bobs, bob) == (403, {"error": "not allowed to deploy workload on this pool"})
    farm2_node = s.grid.nodes("farm=2")[0]["node_id"]
    elsewhere = s.grid.workload_body(s.alice, farm2_node, s.pool_id, 2, size=1, type=1)
    assert create(elsewhere)[0] == 403
    status, reply = create(body)
    assert status == 201 and reply["reservation_id"] > 0
    # The explorer keeps its own receipt time as epoch; the customer signature was over the sent one.
    stored = s.grid.workload(reply["reservation_id"])
    assert stored["customer_signature"] == body["customer_signature"] and stored["size"] == 1 and stored["json"] == ""


def test_unpaid_pool_refuses_workloads_that_burn_with_402(grid: Grid, alice: Identity) -> None:
    nodes, _ = grid.farm_nodes(1)
    reply = grid.pool_request(alice, [nodes[0]["node_id"]], cus=3600, sus=3600)
    pool_id = reply.body["reservation_id"]
    body = grid.workload_body(alice, nodes[0]["node_id"], pool_id, 2, size=10, type=1)
    refused = grid.create(alice, body)
    assert (refused.status, refused.body) == (402, {"error": "pool needs additional capacity to support this workload"})
    stored = grid.api("GET", f"/reservations/workloads?customer_tid={alice.tid}&next_action=5").body
    assert [w["next_action"] for w in stored] == [5]
    # A network resource has no CU/SU: it may go into an unpaid pool.
    assert grid.network(alice, nodes[0], pool_id, "n", "10.1.2.0/24") > 0


def test_402_when_the_pool_would_run_dry_within_120_seconds(grid: Grid, alice: Identity) -> None:
    node = grid.farm_nodes(1)[0][0]
    # 1 vCPU + 1 GiB = 0.25 CU/s: 25 CU-seconds last 100 s (refused), 40 last 160 s (accepted).
    short = grid.paid_pool(alice, [node["node_id"]], cus=25, sus=10_000)
    container = grid.container(alice, node, short, "net", "10.9.9.9", secret_environment={})
    assert grid.create(alice, container).status == 402
    enough = grid.paid_pool(alice, [node["node_id"]], cus=40, sus=10_000)
    assert (
        grid.create(alice, grid.container(alice, node, enough, "net", "10.9.9.9", secret_environment={})).status == 201
    )


def test_signing_rules(setup: Setup) -> None:
    s = setup
    workload_id = s.grid.deploy(s.alice, s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1))
    s.grid.wait_result(workload_id)
    bob = s.grid.register("bob.3bot")
    wrong = s.grid.sign_delete(bob, workload_id)
    assert (wrong.status, wrong.body) == (401, {"error": f"signature not required for user '{bob.tid}'"})
    # alice's tid, bob's key: the signature does not verify.
    forged = s.grid.sign_delete(bob, workload_id, signer_tid=s.alice.tid)
    assert (forged.status, forged.body) == (401, {"error": "failed to verify signature"})
    # Signing over the client's local copy (its own epoch) instead of the stored one fails too.
    local = s.grid.workload(workload_id)
    local["epoch"] -= 1
    signature = sign_digest(s.alice.key, workload_challenge(local) + f"delete{s.alice.tid}")
    stale = s.grid.api(
        "POST",
        f"/reservations/workloads/{workload_id}/sign/delete",
        {"signature": signature, "tid": s.alice.tid, "epoch": 1},
        signer=s.alice,
    )
    assert stale.status == 401
    assert s.grid.sign_delete(s.alice, workload_id).status == 201
    again = s.grid.sign_delete(s.alice, workload_id)
    assert again.status == 400
    bad_hex = s.grid.api(
        "POST",
        f"/reservations/workloads/{workload_id}/sign/delete",
        {"signature": "zz", "tid": s.alice.tid},
        signer=s.alice,
    )
    assert bad_hex.status == 400
    unknown = s.grid.api(
        "POST", "/reservations/workloads/99999/sign/delete", {"signature": "ab", "tid": s.alice.tid}, signer=s.alice
    )
    assert (unknown.status, unknown.body) == (404, {"error": "workload not found"})
    not_expected = s.grid.api(
        "POST",
        f"/reservations/workloads/{workload_id}/sign/provision",
        {"signature": "ab", "tid": s.alice.tid},
        signer=s.alice,
    )
    assert (not_expected.status, not_expected.body) == (401, {"error": "workload not expecting signatures"})


def test_provisioning_signatures_gate_deployment(setup: Setup) -> None:
    s = setup
    bob = s.grid.register("bob.3bot")
    body = s.grid.workload_body(
        s.alice,
        s.node["node_id"],
        s.pool_id,
        2,
        size=1,
        type=1,
        signing_request_provision={"signers": [bob.tid], "quorum_min": 1},
    )
    body["customer_signature"] = sign_digest(s.alice.key, workload_challenge(body))
    workload_id = s.grid.deploy(s.alice, body)
    s.grid.advance(5)
    assert s.grid.workload(workload_id)["next_action"] == 1  # SIGN: waits for bob
    stored = s.grid.workload(workload_id)
    signature = sign_digest(bob.key, workload_challenge(stored) + f"provision{bob.tid}")
    reply = s.grid.api(
        "POST",
        f"/reservations/workloads/{workload_id}/sign/provision",
        {"signature": signature, "tid": bob.tid, "epoch": 0},
        signer=bob,
    )
    assert reply.status == 201 and reply.body is None
    assert s.grid.workload(workload_id)["next_action"] == 3
    assert s.grid.wait_result(workload_id)["result"]["state"] == 1


def test_listing_workloads(setup: Setup) -> None:
    s = setup
    ids = [
        s.grid.deploy(s.alice, s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1))
        for _ in range(3)
    ]
    s.grid.sign_delete(s.alice, ids[0])
    live = s.grid.api("GET", f"/reservations/workloads?customer_tid={s.alice.tid}&next_action=3&size=1")
    assert live.headers["Pages"] == "2" and [w["id"] for w in live.body] == [ids[1]]
    page2 = s.grid.api("GET", f"/reservations/workloads?customer_tid={s.alice.tid}&next_action=3&size=1&page=2")
    assert [w["id"] for w in page2.body] == [ids[2]]
    assert s.grid.api("GET", "/reservations/workloads?customer_tid=999").headers["Pages"] == "0"
    assert s.grid.api("GET", "/reservations/workloads/abc").status == 400
    assert s.grid.api("GET", "/reservations/workloads/999999").status == 404


def test_stored_epoch_is_the_receipt_time_and_deletions_sign_the_stored_copy(setup: Setup) -> None:
    s = setup
    body = s.grid.workload_body(s.alice, s.node["node_id"], s.pool_id, 2, size=1, type=1, epoch=1598350000)
    workload_id = s.grid.deploy(s.alice, body)
    stored = s.grid.workload(workload_id)
    assert stored["epoch"] >= time.time() - 60
    # A deletion signed over the client's own copy (its epoch) is refused; over the stored copy it works.
    local = sign_digest(s.alice.key, workload_challenge(body) + f"delete{s.alice.tid}")
    path = f"/reservations/workloads/{workload_id}/sign/delete"
    refused = s.grid.api("POST", path, {"signature": local, "tid": s.alice.tid, "epoch": 0}, signer=s.alice)
    assert (refused.status, refused.body) == (401, {"error": "failed to verify signature"})
    assert s.grid.sign_delete(s.alice, workload_id).status == 201
