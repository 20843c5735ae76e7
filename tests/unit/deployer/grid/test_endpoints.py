"""Public endpoints of a node (GRID_API §11): what the WireGuard peers of a network can connect to."""

from __future__ import annotations

from typing import Any

import pytest

from services.deployer.grid.node_finder import endpoints_of


def _node(addrs: list[str], public_config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "node_id": "n1",
        "ifaces": [{"name": "zos", "addrs": addrs, "gateway": [], "macaddress": "0c:c4:7a:00:00:01"}],
        "public_config": public_config,
    }


def test_public_config_master_wins_over_interface_addresses() -> None:
    node = _node(
        ["185.69.166.2/24", "2a02:1802:5e::1/64"],
        {"master": "eth1", "type": "macvlan", "ipv4": "185.69.170.9/24", "ipv6": "2a02:1802:5f::2/64"},
    )
    assert endpoints_of(node) == ("185.69.170.9", "2a02:1802:5f::2")


def test_public_config_without_master_falls_back_to_interfaces() -> None:
    node = _node(["185.69.166.2/24"], {"master": "", "ipv4": "185.69.170.9/24", "ipv6": ""})
    assert endpoints_of(node) == ("185.69.166.2", None)


def test_interfaces_give_the_first_public_address_of_each_family() -> None:
    node = _node(["10.1.2.10/24", "fe80::ec4:7aff:fe00:1/64", "185.69.166.2/24", "2a02:1802:5e::1/64", "8.8.8.8/32"])
    node["ifaces"].append({"name": "eth1", "addrs": ["2a02:1802:60::5/64"]})
    assert endpoints_of(node) == ("185.69.166.2", "2a02:1802:5e::1")


def test_ipv6_only_node() -> None:
    assert endpoints_of(_node(["10.0.0.5/24", "2a02:1802:5e::1/64"])) == (None, "2a02:1802:5e::1")


def test_node_with_private_addresses_only_is_hidden() -> None:
    private = ["10.1.2.3/8", "172.16.5.4/12", "172.31.255.1/16", "192.168.1.20/24", "127.0.0.1/8", "169.254.3.3/16"]
    assert endpoints_of(_node(private)) == (None, None)


@pytest.mark.parametrize("address", ["::1/128", "fe80::1/64", "febf::1/64", "fc00::1/7", "fd12:3456::1/64",
                                     "200::1/7", "3ff:ffff::1/64", "::/0", "ff02::1/16"])  # fmt: skip
def test_non_public_ipv6_ranges_are_excluded(address: str) -> None:
    assert endpoints_of(_node([address])) == (None, None)


def test_addresses_just_outside_the_private_ranges_are_public() -> None:
    assert endpoints_of(_node(["172.32.0.1/16", "400::1/64"])) == ("172.32.0.1", "400::1")
    assert endpoints_of(_node(["172.15.255.254/16"]))[0] == "172.15.255.254"


def test_private_addresses_in_public_config_are_not_endpoints() -> None:
    node = _node(["185.69.166.2/24"], {"master": "eth1", "ipv4": "192.168.0.2/24", "ipv6": None})
    assert endpoints_of(node) == (None, None)


def test_missing_or_malformed_fields_do_not_raise() -> None:
    assert endpoints_of({"node_id": "n1"}) == (None, None)
    assert endpoints_of({"node_id": "n1", "ifaces": None, "public_config": None}) == (None, None)
    assert endpoints_of(_node(["not an address", "", "185.69.166.2"])) == ("185.69.166.2", None)
