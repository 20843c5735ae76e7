"""Timing profiles: "fast" by default, "realistic" with the latencies of GRID_API §12 (low end of each band)."""

from __future__ import annotations

import time
from collections.abc import Callable

from grid_emulator_client import EmulatorProcess, Grid
from grid_emulator_signing import Identity


def test_the_realistic_profile_sets_every_latency_and_fast_restores_them(grid: Grid) -> None:
    fast = grid.admin("GET", "/config").body
    realistic = grid.admin("POST", "/config", {"profile": "realistic"}).body
    assert realistic["profile"] == "realistic" and realistic["extra_latency"] == 0.1
    assert realistic["delete_latency"] == 5.0
    kinds = realistic["deploy_latency"]
    assert (kinds["container"], kinds["kubernetes"], kinds["network_resource"]) == (30.0, 60.0, 10.0)
    assert kinds["volume"] == kinds["zdb"] == kinds["subdomain"] == kinds["gateway4to6"] == 5.0
    both = grid.admin("POST", "/config", {"profile": "realistic", "delete_latency": 2}).body
    assert both["delete_latency"] == 2.0 and both["deploy_latency"] == kinds  # a latency given with it wins
    assert grid.admin("POST", "/config", {"profile": "slow"}).status == 400
    back = grid.admin("POST", "/config", {"profile": "fast"}).body
    assert back["profile"] == "fast" and back["deploy_latency"] == {"default": 2.0} and back["delete_latency"] == 1.0
    assert {k: v for k, v in fast.items() if k not in ("deploy_latency", "delete_latency")} == {
        k: v for k, v in back.items() if k not in ("deploy_latency", "delete_latency")
    }


def test_realistic_latencies_on_the_emulator_clock(grid: Grid, alice: Identity) -> None:
    nodes, _ = grid.farm_nodes(1)
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes], cus=1_000_000, sus=1_000_000)
    grid.admin("POST", "/config", {"profile": "realistic", "extra_latency": 0})
    volume = grid.deploy(alice, grid.workload_body(alice, nodes[0]["node_id"], pool_id, 2, size=1, type=1))
    grid.advance(4.5)
    assert grid.workload(volume)["result"]["workload_id"] == ""  # a volume takes 5 s
    grid.advance(1)
    assert grid.workload(volume)["result"]["state"] == 1
    assert grid.sign_delete(alice, volume).status == 201
    grid.advance(4.5)
    assert grid.workload(volume)["next_action"] == 4  # a deletion takes 5 s
    grid.advance(1)
    assert grid.workload(volume)["next_action"] == 6


def test_profile_flag_and_variable(spawn: Callable[..., EmulatorProcess]) -> None:
    by_flag = spawn("--profile", "realistic").grid()
    config = by_flag.admin("GET", "/config").body
    assert config["profile"] == "realistic" and config["extra_latency"] == 0.1
    started = time.monotonic()
    assert by_flag.api("GET", "/farms").status == 200
    assert time.monotonic() - started >= 0.1  # every explorer call takes its 0.1 s
    # The emulator tests pass explicit --deploy-latency/--delete-latency: those win over the profile's.
    by_env = spawn(extra_env={"GRID_EMULATOR_PROFILE": "realistic"}).grid().admin("GET", "/config").body
    assert by_env["profile"] == "realistic" and by_env["deploy_latency"]["default"] != 30.0
    assert by_env["extra_latency"] == 0.1
