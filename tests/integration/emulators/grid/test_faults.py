"""Fault injection: random 500s, extra latency, nodes going down, forced workload failures, runtime config."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from grid_emulator_client import TEST_LATENCY, Grid
from grid_emulator_signing import Identity

from emulators.grid.config import Knobs


def _setup(grid: Grid, alice: Identity) -> tuple[int, dict[str, Any], dict[str, Any]]:
    nodes, _ = grid.farm_nodes(1)
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes], cus=1_000_000, sus=1_000_000)
    return pool_id, nodes[0], nodes[1]


def test_error_rate_one_fails_every_api_request_but_not_admin(grid: Grid, alice: Identity) -> None:
    assert grid.admin("POST", "/config", {"error_rate": 1}).body["error_rate"] == 1.0
    for method, path in (("GET", "/nodes"), ("GET", "/farms/1"), ("POST", "/users"), ("GET", "/nope")):
        reply = grid.api(method, path, {} if method == "POST" else None)
        assert (reply.status, reply.body) == (500, {"error": "injected fault"})
    assert grid.admin("GET", "/healthz").body == {"status": "ok"}
    grid.admin("POST", "/config", {"error_rate": 0.5})
    statuses = {grid.api("GET", "/farms").status for _ in range(60)}
    assert statuses == {200, 500}
    grid.admin("POST", "/config", {"error_rate": 0})
    assert grid.api("GET", "/farms").status == 200


def test_extra_latency_delays_api_responses(grid: Grid) -> None:
    grid.admin("POST", "/config", {"extra_latency": 0.3})
    started = time.monotonic()
    assert grid.api("GET", "/farms").status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    grid.admin("GET", "/config")
    assert time.monotonic() - started < 0.3  # admin endpoints are not delayed


def test_config_endpoint_validates(grid: Grid) -> None:
    before = grid.admin("GET", "/config").body
    for bad in (
        {"error_rate": 2},
        {"error_rate": "x"},
        {"extra_latency": -1},
        {"deploy_latency": {"teleport": 3}},
        {"deploy_latency": True},
        {"auto_pay_after": None},
        {"unknown": 1},
    ):
        reply = grid.admin("POST", "/config", bad)
        assert reply.status == 400 and reply.body["error"], bad
    assert grid.admin("GET", "/config").body == before
    changed = grid.admin("POST", "/config", {"deploy_latency": {"default": 1, "container": 7}, "delete_latency": 2})
    assert changed.body["deploy_latency"] == {"default": 1.0, "container": 7.0}
    assert changed.body["delete_latency"] == 2.0


def test_deploy_latency_per_kind(grid: Grid, alice: Identity) -> None:
    pool_id, node, _ = _setup(grid, alice)
    grid.admin("POST", "/config", {"deploy_latency": {"default": 1, "volume": 50}})
    volume = grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 2, size=1, type=1))
    zdb = grid.deploy(
        alice,
        grid.workload_body(alice, node["node_id"], pool_id, 0, size=1, mode=0, password="", disk_type=1, public=False),
    )
    grid.advance(2)
    assert grid.workload(zdb)["result"]["state"] == 1
    assert grid.workload(volume)["result"]["workload_id"] == ""
    grid.advance(50)
    assert grid.workload(volume)["result"]["state"] == 1


def test_node_down_is_not_up_and_deploys_nothing(grid: Grid, alice: Identity) -> None:
    pool_id, node, _ = _setup(grid, alice)
    down = grid.admin("POST", f"/nodes/{node['node_id']}/down")
    assert down.status == 200 and down.body["updated"] < time.time() - 600
    assert grid.node(node["node_id"])["updated"] < time.time() - 600
    workload_id = grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 2, size=1, type=1))
    grid.advance(120)
    assert grid.workload(workload_id)["result"]["workload_id"] == ""
    assert grid.node(node["node_id"])["updated"] < time.time() - 600  # still no heartbeat
    up = grid.admin("POST", f"/nodes/{node['node_id']}/up")
    assert up.body["updated"] >= time.time() - 600
    assert grid.wait_result(workload_id)["result"]["state"] == 1
    assert grid.admin("POST", "/nodes/nope/down").status == 404


def test_forced_failures(grid: Grid, alice: Identity) -> None:
    pool_id, node, other = _setup(grid, alice)
    pending = grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 2, size=1, type=1))
    assert grid.admin("POST", "/fail", {"workload_id": pending, "message": "disk on fire"}).status == 200
    result = grid.wait_result(pending)["result"]
    assert (result["state"], result["message"]) == (0, "disk on fire")

    running = grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 2, size=1, type=1))
    assert grid.wait_result(running)["result"]["state"] == 1
    assert grid.node(node["node_id"])["reserved_resources"]["sru"] == 1.0
    failed = grid.admin("POST", "/fail", {"workload_id": running, "message": "crashed"})
    assert failed.body["result"]["state"] == 0 and failed.body["next_action"] == 4
    assert grid.node(node["node_id"])["reserved_resources"]["sru"] == 0.0
    grid.advance(TEST_LATENCY + 0.1)
    assert grid.workload(running)["next_action"] == 6
    assert grid.admin("POST", "/fail", {"workload_id": running}).status == 409

    # The next workload on `other` fails, the one after it does not.
    assert grid.admin("POST", "/fail", {"node_id": other["node_id"], "message": "no more space"}).status == 200
    first = grid.deploy(alice, grid.workload_body(alice, other["node_id"], pool_id, 2, size=1, type=1))
    second = grid.deploy(alice, grid.workload_body(alice, other["node_id"], pool_id, 2, size=2, type=1))
    assert grid.wait_result(first)["result"]["message"] == "no more space"
    assert grid.wait_result(second)["result"]["state"] == 1

    assert grid.admin("POST", "/fail", {"workload_id": 424242}).status == 404
    assert grid.admin("POST", "/fail", {"message": "x"}).status == 400
    assert grid.admin("POST", "/fail", {"node_id": "nope"}).status == 404


def test_faults_from_start_up_config(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid(knobs=Knobs(error_rate=1.0))
    assert grid.api("GET", "/farms").status == 500
    first_node = make_grid().nodes()[0]["node_id"]
    down = make_grid(down_nodes=(first_node,))
    assert down.node(first_node)["updated"] < time.time() - 600
