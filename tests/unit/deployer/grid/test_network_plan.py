"""The network address plan and WireGuard peers of GRID_API §11."""

from __future__ import annotations

import base64
import random
from typing import Any

import nacl.public
import pytest

from services.deployer.grid.network_plan import (
    AccessPeer,
    Member,
    NetworkFull,
    is_private_slash16,
    network_resource_fields,
    next_subnet,
    peers_for,
    public_addresses,
    random_network_range,
    random_wg_port,
    routing_ip,
    wg_config,
    wg_keypair,
)


def member(n: int, ipv4: str | None = None, ipv6: str | None = None) -> Member:
    return Member(f"node{n}", f"10.1.{n}.0/24", f"key{n}", 4000 + n, ipv4, ipv6)


def by_key(peers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["public_key"]: p for p in peers}


def test_subnets_are_handed_out_in_order_until_the_network_is_full() -> None:
    assert next_subnet("10.20.0.0/16", []) == "10.20.0.0/24"
    assert next_subnet("10.20.0.0/16", ["10.20.0.0/24", "10.20.2.0/24"]) == "10.20.1.0/24"
    everything = [f"172.16.{i}.0/24" for i in range(256)]
    with pytest.raises(NetworkFull):
        next_subnet("172.16.0.0/16", everything)


def test_routing_ip_takes_the_second_and_third_octets() -> None:
    assert routing_ip("10.20.3.0/24") == "100.64.20.3/32"
    assert routing_ip("172.31.0.0/16") == "100.64.31.0/32"


def test_network_ranges_are_private_slash16s() -> None:
    rng = random.Random(1)
    ranges = {random_network_range(rng) for _ in range(200)}
    assert all(is_private_slash16(r) for r in ranges)
    assert any(r.startswith("10.") for r in ranges) and any(r.startswith("172.") for r in ranges)
    assert is_private_slash16("192.168.0.0/16")
    for bad in ("10.20.0.0/24", "8.8.0.0/16", "10.20.1.0/16", "fd00::/16", "nonsense"):
        assert not is_private_slash16(bad)


def test_wireguard_port_avoids_the_ports_in_use() -> None:
    used = set(range(1000, 8999))
    assert random_wg_port(random.Random(3), used) == 8999
    with pytest.raises(ValueError):
        random_wg_port(random.Random(3), range(1000, 9000))


def test_keypair_is_a_matching_pair_of_32_byte_keys() -> None:
    private, public = wg_keypair()
    raw_private, raw_public = base64.b64decode(private), base64.b64decode(public)
    assert len(raw_private) == 32 and len(raw_public) == 32
    assert bytes(nacl.public.PrivateKey(raw_private).public_key) == raw_public
    assert wg_keypair()[0] != private


def test_public_addresses_of_explorer_nodes() -> None:
    master = {"public_config": {"master": "eth1", "ipv4": "185.69.166.2/24", "ipv6": "2a02:1802:5e::2/64"},
              "ifaces": [{"addrs": ["185.69.166.99/24"]}]}  # fmt: skip
    assert public_addresses(master) == ("185.69.166.2", "2a02:1802:5e::2")
    ifaces = {"public_config": None, "ifaces": [{"addrs": ["10.0.1.10/24", "fe80::1/64", "2a02:1802:5e::1/64"]}]}
    assert public_addresses(ifaces) == (None, "2a02:1802:5e::1")
    hidden = {"ifaces": [{"addrs": ["192.168.1.5/24", "fd00::5/64", "127.0.0.1/8", "169.254.1.1/16"]}]}
    assert public_addresses(hidden) == (None, None)


def test_all_public_ipv4_nodes_peer_directly() -> None:
    members = [member(1, "1.1.1.1"), member(2, "2.2.2.2"), member(3, "3.3.3.3")]
    assert peers_for(members[0], members, []) == [
        {"public_key": "key2", "endpoint": "2.2.2.2:4002", "iprange": "10.1.2.0/24",
         "allowed_iprange": ["10.1.2.0/24", "100.64.1.2/32"]},
        {"public_key": "key3", "endpoint": "3.3.3.3:4003", "iprange": "10.1.3.0/24",
         "allowed_iprange": ["10.1.3.0/24", "100.64.1.3/32"]},
    ]  # fmt: skip


def test_ipv6_is_preferred_between_public_nodes() -> None:
    members = [member(1, "1.1.1.1", "2a02::1"), member(2, "2.2.2.2", "2a02::2")]
    assert peers_for(members[0], members, [])[0]["endpoint"] == "[2a02::2]:4002"


def test_hidden_node_reaches_the_rest_through_the_ipv4_relay() -> None:
    relay, plain, hidden = member(1, "1.1.1.1"), member(2, "2.2.2.2"), member(3)
    members = [relay, plain, hidden]
    peers = by_key(peers_for(hidden, members, []))
    assert peers["key1"]["endpoint"] == "1.1.1.1:4001"
    assert peers["key2"]["endpoint"] == "2.2.2.2:4002"
    # The relay's entry on every other public node also carries the hidden /24.
    on_plain = by_key(peers_for(plain, members, []))
    assert on_plain["key1"]["allowed_iprange"] == ["10.1.1.0/24", "100.64.1.1/32", "10.1.3.0/24", "100.64.1.3/32"]
    assert on_plain["key3"] == {
        "public_key": "key3", "endpoint": "", "iprange": "10.1.3.0/24",
        "allowed_iprange": ["10.1.3.0/24", "100.64.1.3/32"],
    }  # fmt: skip
    # The relay itself talks to the hidden node directly (it dials in).
    assert by_key(peers_for(relay, members, []))["key3"]["endpoint"] == ""


def test_ipv6_only_and_several_hidden_nodes() -> None:
    v6only = member(1, None, "2a02::1")
    relay = member(2, "2.2.2.2", "2a02::2")
    hidden_a, hidden_b = member(3), member(4)
    members = [v6only, relay, hidden_a, hidden_b]
    on_hidden = peers_for(hidden_a, members, [])
    # Only IPv4 peers for a hidden node; the relay carries the other hidden and the IPv6-only /24s.
    assert on_hidden == [
        {"public_key": "key2", "endpoint": "2.2.2.2:4002", "iprange": "10.1.2.0/24",
         "allowed_iprange": ["10.1.2.0/24", "100.64.1.2/32", "10.1.4.0/24", "100.64.1.4/32",
                             "10.1.1.0/24", "100.64.1.1/32"]},
    ]  # fmt: skip
    on_v6 = peers_for(v6only, members, [])
    # Without IPv4 the hidden nodes cannot be reached directly: only through the relay.
    assert [p["public_key"] for p in on_v6] == ["key2"]
    assert on_v6[0]["endpoint"] == "[2a02::2]:4002"
    assert on_v6[0]["allowed_iprange"][2:] == ["10.1.3.0/24", "100.64.1.3/32", "10.1.4.0/24", "100.64.1.4/32"]
    on_relay = by_key(peers_for(relay, members, []))
    assert on_relay["key1"]["endpoint"] == "[2a02::1]:4001"
    assert on_relay["key3"]["endpoint"] == on_relay["key4"]["endpoint"] == ""


def test_access_point_is_a_peer_of_its_node_and_routed_everywhere() -> None:
    access_node, other, hidden = member(1, "1.1.1.1", "2a02::1"), member(2, "2.2.2.2"), member(3)
    members = [access_node, other, hidden]
    laptop = AccessPeer("node1", "10.1.200.0/24", "laptop")
    on_access = peers_for(access_node, members, [laptop])
    assert on_access[-1] == {
        "public_key": "laptop", "endpoint": "", "iprange": "10.1.200.0/24",
        "allowed_iprange": ["10.1.200.0/24", "100.64.1.200/32"],
    }  # fmt: skip
    assert [p["public_key"] for p in on_access] == ["key2", "key3", "laptop"]
    # Wherever the access node's /24 is routed, the laptop's /24 follows.
    assert by_key(peers_for(other, members, [laptop]))["key1"]["allowed_iprange"] == [
        "10.1.1.0/24", "100.64.1.1/32", "10.1.200.0/24", "100.64.1.200/32", "10.1.3.0/24", "100.64.1.3/32",
    ]  # fmt: skip
    assert "10.1.200.0/24" in by_key(peers_for(hidden, members, [laptop]))["key1"]["allowed_iprange"]
    with pytest.raises(ValueError, match="outside the network"):
        peers_for(other, members, [AccessPeer("node9", "10.1.201.0/24", "x")])


def test_network_resource_fields() -> None:
    node = member(1, "1.1.1.1")
    fields = network_resource_fields("alice.3bot_apps", "10.1.0.0/16", node, "abcd", [])
    assert fields == {
        "name": "alice.3bot_apps",
        "network_iprange": "10.1.0.0/16",
        "iprange": "10.1.1.0/24",
        "wireguard_private_key_encrypted": "abcd",
        "wireguard_public_key": "key1",
        "wireguard_listen_port": 4001,
        "peers": [],
        "stats_aggregator": [],
    }


def test_wg_quick_config_for_the_user() -> None:
    node = member(1, "1.1.1.1", "2a02::1")
    laptop = AccessPeer("node1", "10.1.200.0/24", "laptop-public")
    text = wg_config(access=laptop, private_key="PRIVATE=", ip_range="10.1.0.0/16", node=node, ipv6=False)
    assert text == (
        "[Interface]\n"
        "Address = 100.64.1.200/32\n"
        "PrivateKey = PRIVATE=\n"
        "[Peer]\n"
        "PublicKey = key1\n"
        "AllowedIPs = 10.1.0.0/16, 100.64.1.0/32\n"
        "PersistentKeepalive = 25\n"
        "Endpoint = 1.1.1.1:4001\n"
    )
    v6 = wg_config(access=laptop, private_key="PRIVATE=", ip_range="10.1.0.0/16", node=node, ipv6=True)
    assert v6.endswith("Endpoint = [2a02::1]:4001\n")
    with pytest.raises(ValueError, match="no public IPv4"):
        wg_config(access=laptop, private_key="P", ip_range="10.1.0.0/16", node=member(1, None, "2a02::1"), ipv6=False)
