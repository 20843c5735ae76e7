"""Directory endpoints (§4.1-§4.4, §5): seeded world, pagination with `Pages`, filters, node objects."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from grid_emulator_client import Grid
from grid_emulator_signing import identity


def test_pagination_header_size_cap_and_page_floor(grid: Grid) -> None:
    first = grid.api("GET", "/nodes?size=20")
    assert first.headers["Pages"] == "3"  # 50 nodes
    assert [n["id"] for n in first.body] == list(range(1, 21))
    last = grid.api("GET", "/nodes?size=20&page=3")
    assert [n["id"] for n in last.body] == list(range(41, 51))
    assert grid.api("GET", "/nodes?size=20&page=4").body == []
    assert [n["id"] for n in grid.api("GET", "/nodes?size=20&page=0").body] == list(range(1, 21))
    assert [n["id"] for n in grid.api("GET", "/nodes?size=20&page=-3").body] == list(range(1, 21))
    default = grid.api("GET", "/nodes")
    assert len(default.body) == 50 and default.headers["Pages"] == "1"
    capped = grid.api("GET", "/nodes?size=5000")
    assert len(capped.body) == 50 and capped.headers["Pages"] == "1"
    assert grid.api("GET", "/nodes?farm=99").headers["Pages"] == "0"
    assert grid.api("GET", "/farms").headers["Pages"] == "1"
    assert grid.api("GET", "/users?size=2").headers["Pages"] == "2"  # three seeded farmers


def test_node_filters(grid: Grid) -> None:
    everything = grid.nodes()
    for farm_id in (1, 2, 3):
        assert {n["farm_id"] for n in grid.nodes(f"farm={farm_id}")} == {farm_id}
    assert sum(len(grid.nodes(f"farm={f}")) for f in (1, 2, 3)) == 50
    country = everything[0]["location"]["country"]
    by_country = grid.nodes(f"country={country}")
    assert by_country and all(n["location"]["country"] == country for n in by_country)
    assert len(by_country) == sum(n["location"]["country"] == country for n in everything)
    city = everything[0]["location"]["city"]
    assert all(n["location"]["city"] == city for n in grid.nodes(f"city={city}"))
    for unit, value in (("cru", 16), ("mru", 64), ("sru", 1000), ("hru", 8000)):
        found = grid.nodes(f"{unit}={value}")
        expected = [n["id"] for n in everything if n["total_resources"][unit] >= value]
        assert [n["id"] for n in found] == expected and 0 < len(expected) < 50
    combined = grid.nodes("farm=1&cru=16")
    assert all(n["farm_id"] == 1 and n["total_resources"]["cru"] >= 16 for n in combined)


def test_seeded_nodes_look_like_real_ones(grid: Grid) -> None:
    nodes = grid.nodes()
    now = time.time()
    kinds = {"public_config": 0, "hidden": 0, "ipv6_only": 0}
    for node in nodes:
        assert len(node["public_key_hex"]) == 64 and node["node_id"]
        assert node["updated"] >= now - 600  # up
        assert node["farm_id"] == 1 or not node["free_to_use"]  # only the free farm has free-to-use nodes
        assert all(1000 <= port <= 8999 for port in node["wg_ports"])
        assert "proofs" not in node
        addresses = [ipaddress.ip_interface(a).ip for iface in node["ifaces"] for a in iface["addrs"]]
        public = [a for a in addresses if a.is_global]
        if node["public_config"]:
            kinds["public_config"] += 1
        elif not public:
            kinds["hidden"] += 1
        elif all(a.version == 6 for a in public):
            kinds["ipv6_only"] += 1
    assert all(count > 0 for count in kinds.values()), kinds
    # ... and it mixes them with paid ones, as real farms did.
    assert {n["free_to_use"] for n in nodes if n["farm_id"] == 1} == {True, False}
    assert len({n["location"]["country"] for n in nodes}) > 3
    with_proofs = grid.api("GET", f"/nodes/{nodes[0]['node_id']}?proofs=true").body
    assert with_proofs["proofs"] and with_proofs["node_id"] == nodes[0]["node_id"]


def test_farms_and_gateways(grid: Grid) -> None:
    farms = grid.api("GET", "/farms").body
    assert farms[0]["name"] == "freefarm"
    assert {w["asset"] for w in farms[0]["wallet_addresses"]} == {"TFT", "FreeTFT"}
    assert all(w["address"].startswith("G") and len(w["address"]) == 56 for f in farms for w in f["wallet_addresses"])
    assert [f["id"] for f in grid.api("GET", "/farms?name=freefarm").body] == [1]
    assert [f["id"] for f in grid.api("GET", f"/farms?owner={farms[1]['threebot_id']}").body] == [2]
    assert grid.api("GET", "/farms/77").status == 404
    assert grid.api("GET", "/farms/abc").status == 404

    gateways = grid.api("GET", "/gateways").body
    assert len(gateways) == 3
    for gateway in gateways:
        assert gateway["managed_domains"][0].endswith(".grid.example")
        assert gateway["dns_nameserver"] and gateway["tcp_router_port"] > 0
        assert len(gateway["public_key_hex"]) == 64
    assert [g["farm_id"] for g in grid.api("GET", "/gateways?farm_id=2").body] == [2]
    assert grid.api("GET", f"/gateways/{gateways[0]['node_id']}").body["node_id"] == gateways[0]["node_id"]
    # Nodes and gateways are different collections.
    assert grid.api("GET", f"/nodes/{gateways[0]['node_id']}").status == 404
    node_id = grid.nodes()[0]["node_id"]
    assert grid.api("GET", f"/gateways/{node_id}").status == 404
    assert grid.api("GET", "/nodes/unknown").body == {"error": "node not found"}


def test_users_lookup(grid: Grid) -> None:
    alice = grid.register("alice.3bot")
    assert grid.api("GET", f"/users/{alice.tid}").body["name"] == "alice.3bot"
    assert grid.api("GET", "/users/4242").status == 404
    assert grid.api("GET", "/users/x").status == 400
    assert grid.api("GET", "/users?name=nobody").body == []


def test_users_file_is_registered_when_seeding(make_grid: Callable[..., Grid], tmp_path: Path) -> None:
    market = identity("marketplace.3bot")
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps([{"name": "marketplace.3bot", "email": "m@example.org", "pubkey": market.pubkey}]))
    grid = make_grid(users_file=users_file)
    found = grid.api("GET", "/users?name=marketplace.3bot").body
    assert [u["pubkey"] for u in found] == [market.pubkey]
    users_file.write_text(json.dumps([{"name": "x", "email": "x", "pubkey": "nothex"}]))
    with pytest.raises(ValueError, match="64 hex"):
        make_grid(users_file=users_file, state_path=tmp_path / "other.sqlite3")
