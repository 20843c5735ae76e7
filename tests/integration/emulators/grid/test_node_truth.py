"""The grid as harsh as the real one: lagging node reports and other tenants, network-resource semantics (§11,
§13), public IPv6 only where a node has one, volumes mounted once by their owner, unknown flists failing."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.public
import pytest
from grid_emulator_client import TEST_LATENCY, Grid, data_json, has_public_ipv6
from grid_emulator_signing import Identity, seal

from emulators.grid.__main__ import parse_args
from emulators.grid.config import OFFICIAL_FLISTS, DeployLatency, Knobs

NET = "alice.3bot_net"


def _knobs(**overrides: Any) -> Knobs:
    values: dict[str, Any] = {"deploy_latency": DeployLatency(TEST_LATENCY), "delete_latency": TEST_LATENCY,
                              "payment_delay": 0.0, "report_lag": 0.0, "other_tenants": 0.0}  # fmt: skip
    return Knobs(**{**values, **overrides})


@dataclass
class World:
    grid: Grid
    alice: Identity
    pool_id: int
    nodes: list[dict[str, Any]]

    def node_where(self, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return next(node for node in self.nodes if test(node))

    def result(self, workload_id: int) -> dict[str, Any]:
        return dict(self.grid.wait_result(workload_id)["result"])

    def error_of(self, body: dict[str, Any]) -> str:
        result = self.result(self.grid.deploy(self.alice, body))
        assert result["state"] == 0, result
        return str(result["message"])

    def ok(self, body: dict[str, Any]) -> int:
        workload_id = self.grid.deploy(self.alice, body)
        result = self.result(workload_id)
        assert result["state"] == 1, result
        return workload_id

    def network_resource(self, node: dict[str, Any], subnet: str = "10.20.2.0/24", port: int = 4000,
                         name: str = NET, peers: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
        key = nacl.public.PrivateKey.generate()
        return self.grid.workload_body(
            self.alice, node["node_id"], self.pool_id, 10, name=name, network_iprange="10.20.0.0/16", iprange=subnet,
            wireguard_private_key_encrypted=seal(node["public_key_hex"], base64.b64encode(key.encode()).decode()),
            wireguard_public_key=base64.b64encode(key.public_key.encode()).decode(), wireguard_listen_port=port,
            peers=peers or [], stats_aggregator=[],
        )  # fmt: skip

    def delete(self, workload_id: int) -> None:
        assert self.grid.sign_delete(self.alice, workload_id).status == 201
        self.grid.advance(TEST_LATENCY + 0.1)
        assert self.grid.workload(workload_id)["next_action"] == 6


def _world(make_grid: Callable[..., Grid], **knobs: Any) -> World:
    grid = make_grid(knobs=_knobs(**knobs))
    alice = grid.register("alice.3bot")
    nodes = grid.nodes("farm=1")
    pool_id = grid.paid_pool(alice, [n["node_id"] for n in nodes], cus=10_000_000, sus=10_000_000)
    return World(grid, alice, pool_id, nodes)


def _ipv4_only(node: dict[str, Any]) -> bool:
    addresses = [ipaddress.ip_interface(a).ip for iface in node["ifaces"] for a in iface["addrs"]]
    return not has_public_ipv6(node) and any(ip.version == 4 and ip.is_global for ip in addresses)


def _hidden(node: dict[str, Any]) -> bool:
    addresses = [ipaddress.ip_interface(a).ip for iface in node["ifaces"] for a in iface["addrs"]]
    return not any(ip.is_global for ip in addresses)


# --- other tenants and report lag -------------------------------------------------------------------------------


def test_reports_lag_behind_the_node_and_show_other_tenants(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid, report_lag=30.0, other_tenants=0.3)
    node = w.node_where(has_public_ipv6)
    before = w.grid.node(node["node_id"])["reserved_resources"]
    w.ok(w.network_resource(node))
    container = w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.5"))

    truth = w.grid.admin("GET", f"/nodes/{node['node_id']}").body
    assert truth["customers"]["cru"] == 1 and truth["wg_ports"]
    reported = w.grid.node(node["node_id"])
    assert reported["reserved_resources"]["cru"] == before["cru"]  # not reported yet
    assert reported["workloads"]["container"] == 0
    w.grid.advance(30)
    reported = w.grid.node(node["node_id"])
    assert reported["workloads"]["container"] == 1
    assert reported["reserved_resources"]["cru"] == truth["other_tenants"]["cru"] + 1

    w.delete(container)
    assert w.grid.node(node["node_id"])["workloads"]["container"] == 1  # the deletion is not reported yet
    w.grid.advance(30)
    assert w.grid.node(node["node_id"])["workloads"]["container"] == 0

    # Other tenants: on most nodes, never above the share, and drifting.
    listing = w.grid.nodes("farm=1")
    others = {n["node_id"]: n["reserved_resources"] for n in listing}
    assert sum(1 for r in others.values() if r["sru"] > 0) > len(others) // 2
    for n in listing:
        for unit in ("cru", "mru", "sru", "hru"):
            assert others[n["node_id"]][unit] <= 0.3 * n["total_resources"][unit] + (1 if unit == "cru" else 0)
    w.grid.advance(1800)
    later = {n["node_id"]: n["reserved_resources"] for n in w.grid.nodes("farm=1")}
    assert later != others


def test_other_tenants_are_the_same_in_two_worlds_of_one_seed(make_grid: Callable[..., Grid], tmp_path: Any) -> None:
    first = make_grid(knobs=_knobs(other_tenants=0.4)).nodes("farm=2")
    second = make_grid(knobs=_knobs(other_tenants=0.4), state_path=tmp_path / "second.sqlite3").nodes("farm=2")
    first_reports = {n["node_id"]: n["reserved_resources"] for n in first}
    # The clocks of the two worlds differ by the time between the calls: compare at whole-GiB precision.
    assert first_reports.keys() == {n["node_id"] for n in second}
    close = sum(1 for n in second if abs(n["reserved_resources"]["sru"] - first_reports[n["node_id"]]["sru"]) <= 1)
    assert close == len(second)


def test_knobs_by_flag_environment_and_admin_endpoint(grid: Grid) -> None:
    config = parse_args(["--report-lag", "5", "--known-flists", "*"], {"GRID_EMULATOR_OTHER_TENANTS": "0.2"})
    assert (config.knobs.report_lag, config.knobs.other_tenants, config.knobs.known_flists) == (5.0, 0.2, None)
    assert parse_args([], {}).knobs.known_flists == OFFICIAL_FLISTS
    with pytest.raises(SystemExit):
        parse_args(["--other-tenants", "0.9"], {})  # nodes must keep room
    reply = grid.admin("POST", "/config", {"report_lag": 12, "known_flists": "+https://hub.grid.tf/a/b.flist"})
    assert reply.status == 200 and reply.body["report_lag"] == 12
    assert reply.body["known_flists"][-1] == "https://hub.grid.tf/a/b.flist"
    assert grid.admin("POST", "/config", {"known_flists": 3}).status == 400


# --- network resources ------------------------------------------------------------------------------------------


def test_deleting_any_version_of_a_network_tears_it_down_on_the_node(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid)
    node = w.node_where(lambda n: 4000 not in n["wg_ports"])
    first = w.ok(w.network_resource(node))
    w.ok(w.network_resource(node))  # a newer version of the same network: same port, no conflict
    container = w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.5"))

    w.delete(first)  # only the superseded version
    broken = w.grid.workload(container)
    assert broken["result"]["state"] == 0 and "was removed from node" in broken["result"]["message"]
    assert broken["next_action"] in (4, 6)
    assert "no network resource" in w.error_of(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.6"))
    assert 4000 not in w.grid.admin("GET", f"/nodes/{node['node_id']}").body["wg_ports"]

    latest = w.ok(w.network_resource(node))  # a new version brings the network back
    container = w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.7"))

    # A resource that fails on its node (forced here) is removed by the node: the same teardown.
    assert w.grid.admin("POST", "/fail", {"workload_id": latest, "message": "wireguard died"}).status == 200
    w.grid.advance(TEST_LATENCY + 0.1)
    assert w.grid.workload(container)["result"]["state"] == 0


def test_the_ip_check_uses_the_newest_applied_version(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid, deploy_latency=DeployLatency(TEST_LATENCY, {"network_resource": 5.0}))
    node = w.node_where(lambda n: 4000 not in n["wg_ports"])
    w.ok(w.network_resource(node))
    pending = w.grid.deploy(w.alice, w.network_resource(node, subnet="10.20.3.0/24"))
    # The node still runs the first version: an address of its /24 is right until the second one is applied.
    w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.5"))
    assert w.result(pending)["state"] == 1
    assert "not in the range" in w.error_of(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.2.6"))
    w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "10.20.3.5"))


def test_a_listen_port_is_taken_while_its_network_runs(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid)
    node = w.node_where(lambda n: 4000 not in n["wg_ports"])
    seeded = w.node_where(lambda n: bool(n["wg_ports"]))
    first = w.ok(w.network_resource(node))
    assert 4000 in w.grid.node(node["node_id"])["wg_ports"]
    other = w.network_resource(node, subnet="10.20.5.0/24", name="alice.3bot_other")
    assert "already in use" in w.error_of(other)
    assert "already in use" in w.error_of(w.network_resource(seeded, port=seeded["wg_ports"][0]))
    assert "outside 1000-8999" in w.error_of(w.network_resource(node, port=999))
    assert "outside 1000-8999" in w.error_of(w.network_resource(node, port=9000))
    w.delete(first)
    assert 4000 not in w.grid.node(node["node_id"])["wg_ports"]
    w.ok(w.network_resource(node, subnet="10.20.5.0/24", name="alice.3bot_other"))


def test_peers_are_validated(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid)
    node = w.node_where(lambda n: 4000 not in n["wg_ports"])
    key = base64.b64encode(nacl.public.PrivateKey.generate().public_key.encode()).decode()

    def peer(**fields: Any) -> list[dict[str, Any]]:
        return [{"public_key": key, "endpoint": "", "iprange": "10.20.9.0/24",
                 "allowed_iprange": ["10.20.9.0/24", "100.64.20.9/32"], **fields}]  # fmt: skip

    bad = {
        "not a base64": peer(public_key="not-a-key"),
        "not a base64 ": peer(public_key=base64.b64encode(b"short").decode()),
        "must be <ipv4>": peer(endpoint="185.69.166.2"),
        "must be <ipv4>:": peer(endpoint="2a02:1802:5e::1:1234"),
        "must be <ipv4>:<port>": peer(endpoint="[185.69.166.2]:1234"),
        "must be <ipv4>:<port>,": peer(endpoint="185.69.166.2:70000"),
        "CIDR": peer(allowed_iprange=["10.20.9.1"]),
    }
    for expected, peers in bad.items():
        assert expected.strip() in w.error_of(w.network_resource(node, peers=peers)), peers
    good = [*peer(endpoint="[2a02:1802:5e::1]:1234"), *peer(endpoint="185.69.166.2:4000"), *peer()]
    w.ok(w.network_resource(node, peers=good))


# --- node truth -----------------------------------------------------------------------------------------------


def test_a_public_ipv6_only_where_the_node_has_one(make_grid: Callable[..., Grid]) -> None:
    grid = make_grid(knobs=_knobs())
    alice = grid.register("alice.3bot")
    for label, test in (("hidden", _hidden), ("IPv4-only", _ipv4_only), ("IPv6", has_public_ipv6)):
        node = next((n for n in grid.nodes() if test(n)), None)
        assert node is not None, f"the seed has no {label} node"
        farm = grid.nodes(f"farm={node['farm_id']}")
        pool_id = grid.paid_pool(alice, [n["node_id"] for n in farm], cus=10_000_000, sus=10_000_000)
        w = World(grid, alice, pool_id, farm)
        name = f"alice.3bot_{label.lower().replace('-', '')}"
        w.ok(w.network_resource(node, port=next(p for p in range(4000, 9000) if p not in node["wg_ports"]),
                                name=name))  # fmt: skip
        asking = w.grid.container(alice, node, pool_id, name, "10.20.2.5", public_ip6=True)
        if label == "IPv6":
            assert data_json(grid.workload(w.ok(asking)))["ipv6"].startswith("2a02:1802:")
        else:
            assert "has no public IPv6" in w.error_of(asking), label
            w.ok(w.grid.container(alice, node, pool_id, name, "10.20.2.6"))


def test_a_volume_mounts_into_one_container_of_its_owner(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid)
    node = w.nodes[0]
    volume = w.ok(w.grid.workload_body(w.alice, node["node_id"], w.pool_id, 2, size=1, type=1))
    mount = [{"volume_id": f"{volume}-1", "mountpoint": "/data"}]
    first = w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "", volumes=mount, network_connection=[]))
    assert "already mounted" in w.error_of(
        w.grid.container(w.alice, node, w.pool_id, NET, "", volumes=mount, network_connection=[])
    )
    bob = w.grid.register("bob.3bot")
    bob_pool = w.grid.paid_pool(bob, [node["node_id"]], cus=10_000_000, sus=10_000_000)
    stolen = w.grid.container(bob, node, bob_pool, NET, "", volumes=mount, network_connection=[])
    result = w.result(w.grid.deploy(bob, stolen))
    assert result["state"] == 0 and "belongs to another user" in result["message"]
    w.delete(first)
    w.ok(w.grid.container(w.alice, node, w.pool_id, NET, "", volumes=mount, network_connection=[]))


def test_an_unknown_flist_fails_the_container(make_grid: Callable[..., Grid]) -> None:
    w = _world(make_grid)
    node = w.nodes[0]
    unknown = "https://hub.grid.tf/nobody/nothing.flist"

    def body(flist: str) -> dict[str, Any]:
        return w.grid.container(w.alice, node, w.pool_id, NET, "", flist=flist, network_connection=[])

    assert "not found on the hub" in w.error_of(body(unknown))
    for flist in OFFICIAL_FLISTS:
        w.ok(body(flist))
    assert w.grid.admin("POST", "/config", {"known_flists": f"+{unknown}"}).status == 200
    w.ok(body(unknown))
    assert w.grid.admin("POST", "/config", {"known_flists": "*"}).status == 200
    w.ok(body("https://hub.grid.tf/anyone/anything.flist"))
