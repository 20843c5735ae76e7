"""The test vectors of GRID_API.md §3.2 and §7, reproduced by the emulator's own code and by the test client."""

from __future__ import annotations

import hashlib
from typing import Any

from grid_emulator_signing import VECTOR_KEY, http_signature, workload_challenge

from emulators.grid import challenge, httpsig

VECTOR_PUBKEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"

SUBDOMAIN: dict[str, Any] = {
    "workload_id": 1,
    "node_id": "GW1",
    "pool_id": 42,
    "reference": "",
    "customer_tid": 7,
    "workload_type": 7,
    "epoch": 1598350000,
    "description": "",
    "metadata": "",
    "domain": "alice3bot-pad.gateway.example",
    "ips": ["185.69.166.10", "185.69.166.11"],
}
SUBDOMAIN_CHALLENGE = "1GW1427SUBDOMAIN1598350000alice3bot-pad.gateway.example185.69.166.10185.69.166.11"
SUBDOMAIN_SIGNATURE = (
    "ead7fe56f55e498e685f030ee3ab1b0bf8722bc8be66c376c05185fa75402e38"
    "e548903171c94ff78303cbcea7d4bc47449867ba586b7f332bbebdd5f660a808"
)

CONTAINER: dict[str, Any] = {
    "workload_id": 1,
    "node_id": "NODE1",
    "pool_id": 42,
    "reference": "",
    "description": "",
    "customer_tid": 7,
    "epoch": 1598350000,
    "metadata": "",
    "workload_type": 1,
    "flist": "https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
    "hub_url": "",
    "environment": {"SSH_KEY": "ssh-ed25519 AAAA test", "A": "1"},
    "secret_environment": {"PASS": "abcd"},
    "entrypoint": "",
    "interactive": False,
    "volumes": [{"volume_id": "42-1", "mountpoint": "/data"}],
    "network_connection": [{"network_id": "alice.3bot_net", "ipaddress": "10.20.2.5", "public_ip6": True}],
    "logs": [],
    "stats_aggregator": [],
    "capacity": {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1},
}
CONTAINER_CHALLENGE = (
    "1NODE1427CONTAINER1598350000https://hub.grid.tf/tf-official-apps/redis_zinit.flistfalse"
    "A=1SSH_KEY=ssh-ed25519 AAAA testPASS=abcd42-1/dataalice.3bot_net10.20.2.5true11024256ssd"
)
CONTAINER_SHA256 = "c46fc781ccac222dd48b7b8f009d075db25c4b22c828f0cfe4f6187b8801fcee"
CONTAINER_SIGNATURE = (
    "57fcce83afa31c94ce43c86cae602be4389e184881f06055e1967a5e55b419f2"
    "cc1f879512532322ebf739170c0180ee83c3f64f156edff63f8dc64bf55c1c0d"
)


def test_http_signature_vector_is_accepted_by_the_emulator() -> None:
    headers = http_signature(VECTOR_KEY, 7, created=1598350000, date="Tue, 25 Aug 2020 10:06:40 GMT")
    assert (
        'signature="ujDta3iipXGU+D9bLjRuGvpqE7qDJI2GjDkA2v5/Qx475qg/x/LIfIiquZ1cJAUf3Tnw42uGemxLDuSa7XJnDA=="'
        in (headers["Authorization"])
    )
    params = httpsig.parse_authorization(headers["Authorization"])
    lower = {k.lower(): v for k, v in headers.items()}
    text = httpsig.signing_string(params, lower)
    assert text == "(created): 1598350000\ndate: Tue, 25 Aug 2020 10:06:40 GMT\nthreebot-id: 7"
    tid = httpsig.verify_request(headers["Authorization"], lower, {7: VECTOR_PUBKEY}.get, now=1598350010)
    assert tid == 7


def test_http_signature_accepts_unquoted_times_and_rejects_other_keys() -> None:
    headers = http_signature(VECTOR_KEY, 7, created=1598350000, quote_times=False)
    lower = {k.lower(): v for k, v in headers.items()}
    assert "created=1598350000,expires=1598350060" in headers["Authorization"]
    assert httpsig.verify_request(headers["Authorization"], lower, {7: VECTOR_PUBKEY}.get, now=1598350001) == 7
    other = "ab" * 32
    try:
        httpsig.verify_request(headers["Authorization"], lower, {7: other}.get, now=1598350001)
    except httpsig.SignatureError as exc:
        assert "verification failed" in str(exc)
    else:
        raise AssertionError("a signature by another key was accepted")


def test_subdomain_vector() -> None:
    assert challenge.workload_challenge(SUBDOMAIN) == SUBDOMAIN_CHALLENGE
    assert workload_challenge(SUBDOMAIN) == SUBDOMAIN_CHALLENGE
    digest = challenge.challenge_digest(SUBDOMAIN_CHALLENGE)
    assert digest.hex() == "2ebb6216b2b3373812731bb852e2164a9fda8b33c81e956af3a3074a455b591f"
    assert VECTOR_KEY.sign(digest).signature.hex() == SUBDOMAIN_SIGNATURE
    assert challenge.verify_workload_signature(VECTOR_PUBKEY, SUBDOMAIN, SUBDOMAIN_SIGNATURE)
    assert not challenge.verify_workload_signature(VECTOR_PUBKEY, {**SUBDOMAIN, "pool_id": 43}, SUBDOMAIN_SIGNATURE)


def test_container_vector() -> None:
    assert challenge.workload_challenge(CONTAINER) == CONTAINER_CHALLENGE
    assert workload_challenge(CONTAINER) == CONTAINER_CHALLENGE
    assert hashlib.sha256(CONTAINER_CHALLENGE.encode()).hexdigest() == CONTAINER_SHA256
    assert challenge.verify_workload_signature(VECTOR_PUBKEY, CONTAINER, CONTAINER_SIGNATURE)
    # logs and stats_aggregator are not signed; the signed capacity is.
    assert challenge.verify_workload_signature(VECTOR_PUBKEY, {**CONTAINER, "logs": [{"x": 1}]}, CONTAINER_SIGNATURE)
    tampered = {**CONTAINER, "capacity": {**CONTAINER["capacity"], "cpu": 2}}
    assert not challenge.verify_workload_signature(VECTOR_PUBKEY, tampered, CONTAINER_SIGNATURE)


def test_delete_vector() -> None:
    text = challenge.delete_challenge(SUBDOMAIN, 7)
    assert text == SUBDOMAIN_CHALLENGE + "delete7"
    digest = challenge.challenge_digest(text)
    assert digest.hex() == "1034bf62e155114805ed5b6b904a45563402a22e5f8d9512275e0f0a33f4e0eb"
    expected = (
        "5a75e2b6607849383f72585c129ea1640d88a7e89a21b2d2679351f350e724bf"
        "d1e9a0311aff018d678bb2fe46e8db2cabf53f4c09c6e165b3abd89f9e52800a"
    )
    assert challenge.verify_hex_signature(VECTOR_PUBKEY, digest, expected)
    assert challenge.provision_challenge(SUBDOMAIN, 7) == SUBDOMAIN_CHALLENGE + "provision7"


def test_pool_vector() -> None:
    text = '{"pool_id": 0, "cus": 3600, "sus": 7200, "node_ids": ["NODE1", "GW1"], "currencies": ["TFT"]}'
    expected = (
        "7176e62c867a9fc0542d06fe98cb9e2fd71be3a125cba14aaa3d360290c85a18"
        "d69c1c9515a8d092ce2ce44179e86198e5e5af58f2a0ad44b93f3d5fced4740a"
    )
    assert VECTOR_KEY.sign(text.encode()).signature.hex() == expected
    assert challenge.verify_pool_signature(VECTOR_PUBKEY, text, expected)
    assert not challenge.verify_pool_signature(VECTOR_PUBKEY, text.replace("3600", "3601"), expected)
