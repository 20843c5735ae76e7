"""Workload and delete challenges against the test vectors of GRID_API §7.1 and §7.2."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from services.common.identity import Identity, verify_detached
from services.deployer.grid.challenge import delete_challenge, sign_challenge, workload_challenge

KEY = Identity(bytes(range(32)))
INFO = {
    "workload_id": 1,
    "pool_id": 42,
    "reference": "",
    "description": "",
    "customer_tid": 7,
    "epoch": 1598350000,
    "metadata": "",
}
SUBDOMAIN = {
    **INFO,
    "node_id": "GW1",
    "workload_type": 7,
    "domain": "alice3bot-pad.gateway.example",
    "ips": ["185.69.166.10", "185.69.166.11"],
}
CONTAINER: dict[str, Any] = {
    **INFO,
    "node_id": "NODE1",
    "workload_type": 1,
    "next_action": 3,
    "customer_signature": "",
    "signing_request_provision": {"signers": [], "quorum_min": 0},
    "signing_request_delete": {"signers": [7], "quorum_min": 1},
    "signatures_provision": [],
    "signatures_delete": [],
    "flist": "https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
    "hub_url": "",
    "storage_url": "zdb://hub.grid.tf:9900",
    "environment": {"SSH_KEY": "ssh-ed25519 AAAA test", "A": "1"},  # signed in key order, whatever the dict's
    "secret_environment": {"PASS": "abcd"},
    "entrypoint": "",
    "interactive": False,
    "volumes": [{"volume_id": "42-1", "mountpoint": "/data"}],
    "network_connection": [{"network_id": "alice.3bot_net", "ipaddress": "10.20.2.5", "public_ip6": True}],
    "logs": [{"type": "redis", "data": {"stdout": "redis://x:1/c-stdout", "stderr": "redis://x:1/c-stderr"}}],
    "stats_aggregator": [],
    "capacity": {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1},
}


def digest_hex(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


def test_subdomain_vector() -> None:
    challenge = workload_challenge(SUBDOMAIN)
    assert challenge == "1GW1427SUBDOMAIN1598350000alice3bot-pad.gateway.example185.69.166.10185.69.166.11"
    assert digest_hex(challenge) == "2ebb6216b2b3373812731bb852e2164a9fda8b33c81e956af3a3074a455b591f"
    assert sign_challenge(KEY, challenge) == (
        "ead7fe56f55e498e685f030ee3ab1b0bf8722bc8be66c376c05185fa75402e38"
        "e548903171c94ff78303cbcea7d4bc47449867ba586b7f332bbebdd5f660a808"
    )


def test_container_vector() -> None:
    challenge = workload_challenge(CONTAINER)
    assert challenge == (
        "1NODE1427CONTAINER1598350000https://hub.grid.tf/tf-official-apps/redis_zinit.flistfalse"
        "A=1SSH_KEY=ssh-ed25519 AAAA testPASS=abcd42-1/dataalice.3bot_net10.20.2.5true11024256ssd"
    )
    assert digest_hex(challenge) == "c46fc781ccac222dd48b7b8f009d075db25c4b22c828f0cfe4f6187b8801fcee"
    signature = sign_challenge(KEY, challenge)
    assert signature == (
        "57fcce83afa31c94ce43c86cae602be4389e184881f06055e1967a5e55b419f2"
        "cc1f879512532322ebf739170c0180ee83c3f64f156edff63f8dc64bf55c1c0d"
    )
    assert verify_detached(KEY.verify_key, hashlib.sha256(challenge.encode()).digest(), bytes.fromhex(signature))


def test_delete_vector_uses_the_stored_workload() -> None:
    stored = {**SUBDOMAIN, "id": 57, "next_action": 3, "result": {"state": 1}, "json": ""}
    challenge = delete_challenge(stored, 7)
    assert challenge == "1GW1427SUBDOMAIN1598350000alice3bot-pad.gateway.example185.69.166.10185.69.166.11delete7"
    assert digest_hex(challenge) == "1034bf62e155114805ed5b6b904a45563402a22e5f8d9512275e0f0a33f4e0eb"
    assert sign_challenge(KEY, challenge) == (
        "5a75e2b6607849383f72585c129ea1640d88a7e89a21b2d2679351f350e724bf"
        "d1e9a0311aff018d678bb2fe46e8db2cabf53f4c09c6e165b3abd89f9e52800a"
    )


def test_other_types_follow_the_piece_tables() -> None:
    base = {**INFO, "node_id": "N"}
    head = "1N427{}1598350000"
    volume = {**base, "workload_type": 2, "size": 10, "type": 1}
    assert workload_challenge(volume) == head.format("VOLUME") + "10SSD"
    zdb = {**base, "workload_type": 0, "size": 5, "mode": 1, "password": "ff", "disk_type": 0, "public": False}
    assert workload_challenge(zdb) == head.format("ZDB") + "5userffhddfalse"
    k8s = {
        **base,
        "workload_type": 4,
        "size": 1,
        "cluster_secret": "cc",
        "network_id": "net",
        "ipaddress": "10.1.2.3",
        "master_ips": ["10.1.2.2"],
        "ssh_keys": ["k1", "k2"],
    }
    assert workload_challenge(k8s) == head.format("KUBERNETES") + "1ccnet10.1.2.310.1.2.2k1k2"
    nr = {
        **base,
        "workload_type": 10,
        "name": "net",
        "network_iprange": "10.1.0.0/16",
        "wireguard_private_key_encrypted": "ee",
        "wireguard_public_key": "pk",
        "wireguard_listen_port": 4000,
        "iprange": "10.1.1.0/24",
        "peers": [{"public_key": "p2", "endpoint": "", "iprange": "10.1.2.0/24", "allowed_iprange": ["a", "b"]}],
    }
    assert (
        workload_challenge(nr) == head.format("NETWORK_RESOURCE") + "net10.1.0.0/16eepk400010.1.1.0/24p210.1.2.0/24ab"
    )


def test_ipv6_addresses_are_signed_in_canonical_form() -> None:
    loud = {**SUBDOMAIN, "ips": ["2A02:1802:005E:0000:0000:0000:0000:0001"]}
    assert workload_challenge(loud).endswith("gateway.example2a02:1802:5e::1")


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no challenge"):
        workload_challenge({**SUBDOMAIN, "workload_type": 3})


def test_a_value_of_another_type_is_refused_by_name() -> None:
    base = {**INFO, "node_id": "N"}
    with pytest.raises(ValueError, match=r"^cannot put a float into a workload challenge$"):
        workload_challenge({**base, "workload_type": 2, "size": 1.5, "type": 1})
