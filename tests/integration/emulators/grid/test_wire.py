"""Bad input everywhere gets a 4xx `{"error": ...}` answer, never a 500 or an HTML page (§2.2)."""

from __future__ import annotations

from typing import Any

import pytest
from grid_emulator_client import Grid, Reply
from grid_emulator_signing import Identity


def _assert_client_error(reply: Reply, status: int | None = None) -> None:
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    if status is not None:
        assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    assert isinstance(reply.body, dict) and isinstance(reply.body["error"], str) and reply.body["error"]


DEEP = b"[" * 100_000 + b"]" * 100_000
BIG_NUMBER = b'{"name": ' + b"9" * 10_000 + b"}"


@pytest.mark.parametrize("raw", [b"{", b"", b"null", b"[]", b'"x"', b"\xff\xfe", DEEP, BIG_NUMBER, b"{'a': 1}"])
def test_malformed_bodies(grid: Grid, alice: Identity, raw: bytes) -> None:
    _assert_client_error(grid.api("POST", "/users", raw=raw), 400)
    for path in ("/reservations/pools", "/reservations/workloads", "/reservations/workloads/1/sign/delete"):
        _assert_client_error(grid.api("POST", path, raw=raw, signer=alice), 400)
    for path in ("/config", "/clock", "/pay", "/fail"):
        _assert_client_error(grid.call("POST", "/_emulator" + path, raw=raw), 400)


@pytest.mark.parametrize(
    "data_reservation",
    [
        {"pool_id": 0, "cus": "10", "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 0, "cus": -1, "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 0, "cus": 1.5, "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 0, "cus": 10**20, "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 2**70, "cus": 1, "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 0, "cus": True, "sus": 1, "node_ids": ["a"], "currencies": ["TFT"]},
        {"pool_id": 0, "cus": 1, "sus": 1, "node_ids": "a", "currencies": ["TFT"]},
        {"pool_id": 0, "cus": 1, "sus": 1, "node_ids": [1], "currencies": ["TFT"]},
        [],
    ],
)
def test_wrong_types_in_pool_requests(grid: Grid, alice: Identity, data_reservation: Any) -> None:
    body = {"json": "{}", "data_reservation": data_reservation, "customer_tid": alice.tid, "customer_signature": "ab"}
    _assert_client_error(grid.api("POST", "/reservations/pools", body, signer=alice), 400)
    _assert_client_error(grid.api("POST", "/reservations/pools", {**body, "customer_tid": 10**30}, signer=alice), 400)
    _assert_client_error(grid.api("POST", "/reservations/pools", {**body, "json": 5}, signer=alice), 400)


@pytest.mark.parametrize(
    "change",
    [
        {"workload_type": "1"},
        {"workload_type": True},
        {"workload_type": None},
        {"capacity": {"cpu": "1", "memory": 1, "disk_size": 1, "disk_type": 1}},
        {"capacity": {"cpu": 1, "memory": 1, "disk_size": 1, "disk_type": 7}},
        {"capacity": []},
        {"network_connection": [{"network_id": "n", "ipaddress": "not-an-ip", "public_ip6": False}]},
        {"network_connection": {"network_id": "n"}},
        {"environment": {"A": 1}},
        {"epoch": -1},
        {"pool_id": 2**70},
        {"customer_tid": 1.0},
        {"signing_request_delete": {"signers": ["1"], "quorum_min": 1}},
        {"interactive": "yes"},
    ],
)
def test_wrong_types_in_workloads(grid: Grid, alice: Identity, change: dict[str, Any]) -> None:
    body = {
        "workload_id": 1,
        "node_id": "x",
        "pool_id": 1,
        "customer_tid": alice.tid,
        "customer_signature": "ab",
        "workload_type": 1,
        "epoch": 1,
        "network_connection": [],
        "capacity": {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1},
    }
    _assert_client_error(grid.api("POST", "/reservations/workloads", {**body, **change}, signer=alice), 400)


@pytest.mark.parametrize(
    "body", [{"signature": 5, "tid": 1}, {"signature": "ab", "tid": "1"}, {"signature": "ab", "tid": -1}, [1]]
)
def test_wrong_types_in_signatures(grid: Grid, alice: Identity, body: Any) -> None:
    for purpose in ("delete", "provision"):
        path = f"/reservations/workloads/1/sign/{purpose}"
        _assert_client_error(grid.api("POST", path, body, signer=alice), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/users/abc",
        "/users/1.5",
        "/users/-1",
        "/users/\u0661\u0662",
        "/users/99999999999999999999999",
        "/reservations/pools/abc",
        "/reservations/pools/owner/1e3",
        "/reservations/workloads/0x10",
        "/reservations/workloads/99999999999999999999999",
        "/nodes?page=abc",
        "/nodes?size=1e3",
        "/nodes?page=1000000000000000000000000000000",
        "/nodes?farm=x",
        "/nodes?cru=99999999999999999999999",
        "/gateways?farm_id=one",
        "/farms?owner=x",
        "/reservations/workloads?customer_tid=x",
        "/reservations/workloads?next_action=1.0",
    ],
)
def test_bad_ids_and_query_parameters(grid: Grid, path: str) -> None:
    _assert_client_error(grid.api("GET", path), 400)


def test_far_pages_are_empty_not_errors(grid: Grid) -> None:
    reply = grid.api("GET", "/nodes?page=9223372036854775807&size=1000")
    assert reply.status == 200 and reply.body == [] and reply.headers["Pages"] == "1"


def test_unknown_routes_and_wrong_methods(grid: Grid, alice: Identity) -> None:
    for path in ("/api/v1/nope", "/nope", "/api/v1/nodes/a/b", "/explorer/nodes", "/_emulator/nope"):
        _assert_client_error(grid.call("GET", path), 404)
    # Signed or not, an unknown route is a 404 and a wrong method a 405.
    _assert_client_error(grid.api("POST", "/nope", {}, signer=alice), 404)
    for method, path in (("PUT", "/nodes"), ("DELETE", "/reservations/workloads/1"), ("POST", "/farms")):
        reply = grid.api(method, path, {})
        _assert_client_error(reply, 405)
        assert "GET" in reply.headers["Allow"]
    _assert_client_error(grid.call("DELETE", "/_emulator/config"), 405)


def test_oversized_body(grid: Grid, alice: Identity) -> None:
    raw = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    _assert_client_error(grid.api("POST", "/users", raw=raw), 413)


def test_garbage_authorization_headers(grid: Grid, alice: Identity) -> None:
    for authorization, tid in (
        ("Signature", "1"),
        (
            'Signature keyId="1",algorithm="ed25519",signature="!!",created="1",headers="(created) date threebot-id"',
            "1",
        ),
        (
            'Signature keyId="1",algorithm="ed25519",signature="AA==",created="99999999999999999999",'
            'headers="(created) date threebot-id"',
            "1",
        ),
        (
            'Signature keyId="99999999999999999999999",algorithm="ed25519",signature="AA==",created="1",'
            'headers="(created) date threebot-id"',
            "99999999999999999999999",
        ),
        ('Signature keyId="1",algorithm="rsa",signature="AA==",created="1",headers="(created) date threebot-id"', "1"),
        ('Signature keyId="1",algorithm="ed25519",signature="AA==",created="1",headers="date"', "1"),
        ('Signature keyId="1" algorithm="ed25519"', "1"),
    ):
        reply = grid.api("GET", "/farms", headers={"Authorization": authorization, "threebot-id": tid})
        _assert_client_error(reply, 401)


def test_admin_inputs(grid: Grid) -> None:
    for path, body in (
        ("/clock", {"advance_seconds": -5}),
        ("/clock", {"advance_seconds": "5"}),
        ("/clock", {"advance_seconds": 1e300}),
        ("/clock", {}),
        ("/pay", {"reservation_id": "1"}),
        ("/pay", {"reservation_id": 1, "amount": 0}),
        ("/pay", {"reservation_id": 1, "extra": 1}),
        ("/fail", {"workload_id": 1, "node_id": "x"}),
    ):
        _assert_client_error(grid.admin("POST", path, body), 400)
    _assert_client_error(grid.admin("GET", "/reservations/abc"), 400)
    _assert_client_error(grid.admin("GET", "/reservations/12"), 404)
