"""The networking a node checks before it runs a workload (GRID_API §5.9, §11, §13).

* A network resource: its /24 inside the network's range, its sealed WireGuard key, a listen port in the range
  the SDKs draw from (1000-8999, §5.9) that no *other* network on the node uses (the node's seeded `wg_ports` and
  the ports of the resources it runs; a newer version of the same network keeps its own port), and well-formed
  peers: a 32-byte base64 key, an endpoint `ipv4:port`, `[ipv6]:port` or empty, ranges in CIDR form.
* A public IPv6 for a container only on a node that has one (§11: `public_config.ipv6`, else a global address
  on its interfaces); hidden and IPv4-only nodes have none.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import sqlite3
from typing import Any

from emulators.grid import workload_store
from emulators.grid.directory_store import Node
from emulators.grid.keys import open_sealed, x25519_public_from_private_b64
from emulators.grid.workload_store import Workload

WIREGUARD_PORTS = range(1000, 9000)


def has_public_ipv6(node: Node) -> bool:
    """Whether the node has a public IPv6 address it can give a container (the endpoint rule of §11)."""
    public_config = node.doc.get("public_config") or {}
    if public_config.get("master"):
        addresses = [public_config.get("ipv6") or ""]
    else:
        addresses = [address for iface in node.doc.get("ifaces") or [] for address in iface.get("addrs") or []]
    for address in addresses:
        try:
            ip = ipaddress.ip_interface(address).ip
        except ValueError:
            continue
        if ip.version == 6 and ip.is_global:
            return True
    return False


def check_network_resource(conn: sqlite3.Connection, workload: Workload, node: Node) -> str | None:
    """The reason the node refuses a network resource, or None."""
    body = workload.body
    network = ipaddress.ip_network(body["network_iprange"], strict=False)
    subnet = ipaddress.ip_network(body["iprange"], strict=False)
    if subnet.version != network.version or not subnet.subnet_of(network):  # type: ignore[arg-type]
        return f"iprange {body['iprange']} is not inside network_iprange {body['network_iprange']}"
    private = open_sealed(node.signing_seed, body["wireguard_private_key_encrypted"])
    if private is None:
        return f"cannot decrypt wireguard_private_key_encrypted: it must be sealed to node {node.node_id}"
    if x25519_public_from_private_b64(private) != body["wireguard_public_key"]:
        return "wireguard_public_key does not match the sealed private key"
    return _check_port(conn, workload, node) or _check_peers(body["peers"])


def _check_port(conn: sqlite3.Connection, workload: Workload, node: Node) -> str | None:
    port = workload.body["wireguard_listen_port"]
    if port not in WIREGUARD_PORTS:
        return f"wireguard_listen_port {port} is outside {WIREGUARD_PORTS.start}-{WIREGUARD_PORTS.stop - 1}"
    own = (workload.customer_tid, workload.body["name"])
    taken_by_others = port in node.doc.get("wg_ports", []) or any(
        used == port and (customer, name) != own
        for used, customer, name in workload_store.wireguard_ports(conn, node.node_id)
    )
    if taken_by_others:
        return f"wireguard port {port} is already in use on the node"
    return None


def _check_peers(peers: list[dict[str, Any]]) -> str | None:
    for index, peer in enumerate(peers):
        where = f"peers[{index}]"
        if not _is_wireguard_key(peer["public_key"]):
            return f"{where}.public_key is not a base64 WireGuard key"
        if peer["endpoint"] and not _is_endpoint(peer["endpoint"]):
            return f"{where}.endpoint {peer['endpoint']!r} must be <ipv4>:<port>, [<ipv6>]:<port> or empty"
        for value in (peer["iprange"], *peer["allowed_iprange"]):
            if not _is_cidr(value):
                return f"{where}: {value!r} is not a range in CIDR form (address/prefix)"
    return None


def _is_wireguard_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _is_endpoint(value: str) -> bool:
    host, colon, port = value.rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or not 0 < int(port) <= 65535:
        return False
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return False
    return ip.version == (6 if bracketed else 4)


def _is_cidr(value: str) -> bool:
    if "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True
