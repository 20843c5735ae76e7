"""The real thing: `python -m emulators.grid` processes (gunicorn), restarts on the same state, CLI flags."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from grid_emulator_client import REPO_ROOT, TEST_LATENCY, EmulatorProcess, Grid, data_json
from grid_emulator_signing import http_signature

pytestmark = pytest.mark.stack


def _wait_deployed(grid: Grid, workload_id: int, timeout: float = 10.0) -> dict[str, Any]:
    """Real waiting here (no clock jumps): the node reports after TEST_LATENCY seconds of wall time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workload = grid.workload(workload_id)
        if workload["result"]["workload_id"]:
            return workload
        time.sleep(0.1)
    raise AssertionError(f"workload {workload_id} not deployed in {timeout} s")


def test_smoke_full_flow_over_http(spawn: Callable[..., EmulatorProcess]) -> None:
    server = spawn()
    grid = server.grid()
    assert grid.admin("GET", "/healthz").body == {"status": "ok"}
    alice = grid.register("alice.3bot")
    nodes, gateways = grid.farm_nodes(1)
    node = nodes[0]
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes + gateways], cus=100_000, sus=100_000)
    grid.network(alice, node, pool_id, "alice.3bot_net", "10.40.3.0/24")
    started = time.monotonic()
    workload_id = grid.deploy(alice, grid.container(alice, node, pool_id, "alice.3bot_net", "10.40.3.2"))
    deployed = _wait_deployed(grid, workload_id)
    assert time.monotonic() - started >= TEST_LATENCY * 0.8
    assert deployed["result"]["state"] == 1 and data_json(deployed)["ipv4"] == "10.40.3.2"
    assert grid.node(node["node_id"])["reserved_resources"]["cru"] == 1
    assert grid.sign_delete(alice, workload_id).status == 201
    deadline = time.monotonic() + 10
    while grid.workload(workload_id)["next_action"] != 6:
        assert time.monotonic() < deadline, "deletion never confirmed"
        time.sleep(0.1)
    assert grid.node(node["node_id"])["reserved_resources"]["cru"] == 0
    unsigned = grid.api("POST", "/reservations/pools", {"json": "{}"})
    assert unsigned.status == 401 and unsigned.headers["WWW-Authenticate"].startswith("Signature")
    assert grid.api("GET", "/nope").body == {"error": "not found"}
    assert grid.api("PUT", "/nodes", {}).status == 405
    assert grid.api("POST", "/users", raw=b"{").status == 400


def test_state_survives_a_restart_without_reseeding(spawn: Callable[..., EmulatorProcess], tmp_path: Path) -> None:
    state = tmp_path / "restart.sqlite3"
    first = spawn("--nodes", "20", "--seed", "7", state=state)
    grid = first.grid()
    alice = grid.register("alice.3bot")
    nodes_before = grid.nodes()
    node = nodes_before[0]
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes_before if n["farm_id"] == 1], 50_000, 50_000)
    workload_id = grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 2, size=3, type=1))
    _wait_deployed(grid, workload_id)
    grid.advance(600)
    pool_before = grid.pool(pool_id)
    first.stop()

    # Different world flags: they must be ignored because the state file already exists.
    second = spawn("--nodes", "5", "--seed", "99", state=state)
    grid = second.grid()
    nodes_after = grid.nodes()
    strip = ("updated", "uptime", "reserved_resources", "used_resources", "workloads")
    assert [{k: v for k, v in n.items() if k not in strip} for n in nodes_after] == [
        {k: v for k, v in n.items() if k not in strip} for n in nodes_before
    ]
    assert grid.api("GET", "/users?name=alice.3bot").body[0]["id"] == alice.tid
    assert grid.admin("GET", "/info").body["seeded"] == {"seed": 7, "farms": 3, "nodes": 20, "gateways": 3}
    # The emulator clock offset was kept, so the pool continued from where it was.
    assert grid.admin("GET", "/clock").body["offset"] >= 600
    pool_after = grid.pool(pool_id)
    assert pool_after["active_workload_ids"] == [workload_id]
    assert pool_after["cus"] <= pool_before["cus"]
    assert grid.workload(workload_id)["result"]["state"] == 1
    assert grid.node(node["node_id"])["reserved_resources"]["sru"] == 3.0
    # The same identity can keep working: signing still verifies against the stored pubkey.
    assert grid.sign_delete(alice, workload_id).status == 201


def test_ten_thousand_nodes(spawn: Callable[..., EmulatorProcess], tmp_path: Path) -> None:
    server = spawn("--nodes", "10000", state=tmp_path / "big.sqlite3")
    grid = server.grid()
    first = grid.api("GET", "/nodes?size=1000")
    assert first.status == 200 and first.headers["Pages"] == "10" and len(first.body) == 1000
    capped = grid.api("GET", "/nodes?size=5000&page=2")
    assert capped.headers["Pages"] == "10" and [n["id"] for n in capped.body] == list(range(1001, 2001))
    last = grid.api("GET", "/nodes?size=1000&page=10")
    assert [n["id"] for n in last.body][-1] == 10000
    farm = grid.api("GET", "/nodes?size=1000&farm=2")
    assert farm.headers["Pages"] == "4" and all(n["farm_id"] == 2 for n in farm.body)
    assert len({n["node_id"] for n in first.body + last.body}) == 2000


def test_flags_and_environment(spawn: Callable[..., EmulatorProcess], tmp_path: Path) -> None:
    server = spawn(
        "--error-rate",
        "1",
        state=tmp_path / "faulty.sqlite3",
        extra_env={
            "GRID_EMULATOR_ERROR_RATE": "0",
            "GRID_EMULATOR_EXTRA_LATENCY": "0.2",
            "GRID_EMULATOR_GATEWAYS": "5",
        },
    )
    grid = server.grid()
    config = grid.admin("GET", "/config").body
    assert config["error_rate"] == 1.0  # the flag wins over its variable
    assert config["extra_latency"] == 0.2
    assert config["deploy_latency"] == {"default": TEST_LATENCY}
    started = time.monotonic()
    reply = grid.api("GET", "/gateways")
    assert (reply.status, reply.body) == (500, {"error": "injected fault"})
    assert time.monotonic() - started >= 0.2
    grid.admin("POST", "/config", {"error_rate": 0, "extra_latency": 0})
    assert len(grid.api("GET", "/gateways").body) == 5
    # Signed GETs work through the real server too (and reveal emails).
    alice = grid.register("alice.3bot")
    signed = grid.api("GET", "/farms/1", headers=http_signature(alice.key, alice.tid))
    assert signed.status == 200 and "email" in signed.body


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--error-rate", "2"], {}, "error_rate"),
        (["--nodes", "many"], {}, "--nodes"),
        (["--deploy-latency", "teleport=3"], {}, "teleport"),
        (["--port", "0"], {}, "--port"),
        ([], {"GRID_EMULATOR_EXTRA_LATENCY": "soon"}, "GRID_EMULATOR_EXTRA_LATENCY"),
        (["--bogus"], {}, "--bogus"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], env: dict[str, str], needle: str) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRID_EMULATOR_")}
    command = [sys.executable, "-m", "emulators.grid", "--state", str(tmp_path / "s.sqlite3"), *args]
    done = subprocess.run(command, cwd=REPO_ROOT, env={**environ, **env}, capture_output=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "s.sqlite3").exists()


def test_unusable_state_or_users_file_exit_2(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRID_EMULATOR_")}
    not_a_database = tmp_path / "garbage.sqlite3"
    not_a_database.write_bytes(b"this is not sqlite" * 100)
    bad_users = tmp_path / "users.json"
    bad_users.write_text("{")
    for args, needle in (
        (["--state", str(not_a_database)], "state file"),
        (["--state", str(tmp_path / "new.sqlite3"), "--users-file", str(bad_users)], "users file"),
        (["--state", str(tmp_path / "new2.sqlite3"), "--down-nodes", "nope"], "unknown node id"),
    ):
        command = [sys.executable, "-m", "emulators.grid", *args]
        done = subprocess.run(command, cwd=REPO_ROOT, env=environ, capture_output=True, timeout=30)
        lines = done.stderr.decode().strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], lines
