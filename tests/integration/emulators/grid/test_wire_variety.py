"""Wire variety (§5.8, §5.10): ``data_json`` as an object or as JSON text, ZDB addresses in varying order."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

from grid_emulator_client import Grid, data_json
from grid_emulator_signing import Identity, seal

from emulators.grid.config import DeployLatency, Knobs


def _zdb_results(grid: Grid, alice: Identity, count: int) -> dict[int, object]:
    """``count`` ZDBs on a public node of farm 1 (consecutive ids); their raw ``result.data_json``."""
    nodes, _ = grid.farm_nodes(1)
    node = next(n for n in nodes if n["public_config"] and n["total_resources"]["sru"] >= 250)
    pool_id = grid.paid_pool(alice, [node["node_id"]], cus=10_000_000, sus=10_000_000)
    fields = {"size": 1, "mode": 1, "password": seal(node["public_key_hex"], "pw"), "disk_type": 1, "public": False}
    ids = [grid.deploy(alice, grid.workload_body(alice, node["node_id"], pool_id, 0, **fields)) for _ in range(count)]
    return {workload_id: grid.wait_result(workload_id)["result"]["data_json"] for workload_id in ids}


def test_data_json_comes_as_text_for_odd_ids_and_zdb_addresses_vary(grid: Grid, alice: Identity) -> None:
    raw = _zdb_results(grid, alice, 4)
    assert {type(value) for value in raw.values()} == {str, dict}
    for workload_id, value in raw.items():
        assert isinstance(value, str) == (workload_id % 2 == 1)
    firsts = [ipaddress.ip_address(data_json({"result": {"data_json": value}})["IPs"][0]) for value in raw.values()]
    # Sometimes the public IPv6, sometimes the IPv4 or the node's private LAN address comes first.
    assert any(a.version == 6 and a.is_global for a in firsts)
    assert any(a.version == 4 and a.is_private for a in firsts)
    assert any(a.version == 4 and a.is_global for a in firsts)
    for value in raw.values():
        data = json.loads(value) if isinstance(value, str) else value
        assert data["Port"] == 9900 and len(data["IPs"]) == 4


def test_without_wire_variety_data_json_is_an_object_with_the_public_address_first(
    make_grid: Callable[..., Grid],
) -> None:
    grid = make_grid(knobs=Knobs(deploy_latency=DeployLatency(0.3), payment_delay=0, wire_variety=False))
    alice = grid.register("alice.3bot")
    raw = _zdb_results(grid, alice, 2)
    assert all(isinstance(value, dict) for value in raw.values())
    for value in raw.values():
        assert isinstance(value, dict)
        first = ipaddress.ip_address(value["IPs"][0])
        assert first.version == 6 and first.is_global
