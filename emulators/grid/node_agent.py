"""What a node (or gateway) does when it picks up a workload: the checks a real node makes (§13) and the result.

`check` returns the error message a real node would report, or None; `ok_result` builds a plausible `data_json`.
Secrets are opened with the simulated node's own key, so a value sealed to another node fails here as it would
on the grid. Like a real node it also refuses: an flist the hub does not serve (`known_flists`), a public IPv6 on
a node without one, a volume of another customer or already mounted in a running container, an IP outside the
newest network resource the node *applied*, disks over-committed (other tenants included), and network
resources with a port or peers it cannot use (node_network.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sqlite3
from typing import Any

from emulators.grid import node_network, nodes, workload_store
from emulators.grid.config import Knobs
from emulators.grid.directory_store import Node
from emulators.grid.enums import GATEWAY_TYPES, NextAction, ResultState, WorkloadType
from emulators.grid.keys import open_sealed, sign_hex, wireguard_public_key, x25519_public_from_private_b64
from emulators.grid.workload_store import Workload

ZDB_PORT = 9900
GATEWAY4TO6_PORT = 51820


def check(conn: sqlite3.Connection, workload: Workload, node: Node | None, now: float, knobs: Knobs) -> str | None:
    """The reason the node refuses ``workload`` at ``now``, or None when it deploys."""
    if node is None:
        return f"node {workload.node_id} not found"
    kind = workload.workload_type
    if kind in GATEWAY_TYPES and not node.is_gateway:
        return f"{kind.name} workloads can only be deployed on a gateway, {node.node_id} is a node"
    if kind not in GATEWAY_TYPES and node.is_gateway:
        return f"{kind.name} workloads cannot be deployed on gateway {node.node_id}"
    body = workload.body
    if kind == WorkloadType.CONTAINER:
        return _check_container(conn, workload, node, now, knobs)
    if kind == WorkloadType.KUBERNETES:
        return (
            _check_ip(conn, workload, node, body["network_id"], body["ipaddress"])
            or _check_sealed(node, "cluster_secret", body["cluster_secret"])
            or _check_storage(conn, workload, node, now, knobs)
        )
    if kind in (WorkloadType.VOLUME, WorkloadType.ZDB):
        password = body.get("password", "")
        return (_check_sealed(node, "password", password) if password else None) or _check_storage(
            conn, workload, node, now, knobs
        )
    if kind == WorkloadType.NETWORK_RESOURCE:
        return node_network.check_network_resource(conn, workload, node)
    if kind == WorkloadType.SUBDOMAIN:
        return _check_subdomain(conn, workload, node)
    if kind == WorkloadType.DOMAIN_DELEGATE:
        return _check_delegation(conn, workload, node)
    if kind == WorkloadType.REVERSE_PROXY:
        return _check_sealed(node, "secret", body["secret"])
    if kind == WorkloadType.GATEWAY4TO6 and x25519_public_from_private_b64(body["public_key"].encode()) is None:
        return "public_key is not a base64 WireGuard key"
    return None


def _check_container(conn: sqlite3.Connection, workload: Workload, node: Node, now: float, knobs: Knobs) -> str | None:
    body = workload.body
    if knobs.known_flists is not None and body["flist"] not in knobs.known_flists:
        return f"failed to download flist {body['flist']!r}: not found on the hub"
    if any(c["public_ip6"] for c in body["network_connection"]) and not node_network.has_public_ipv6(node):
        return f"node {node.node_id} has no public IPv6 address to give (public_ip6)"
    # Read only when needed: the mounts of a node running hundreds of containers are hundreds of bodies to decode.
    mounted = workload_store.volume_mounts(conn, node.node_id, workload.id) if body["volumes"] else set()
    for mount in body["volumes"]:
        volume_id = mount["volume_id"]
        head, _, _ = volume_id.partition("-")
        volume = (
            workload_store.get_workload(conn, int(head))
            if head.isascii() and head.isdigit() and len(head) < 19
            else None
        )
        if (
            volume is None
            or volume.workload_type != WorkloadType.VOLUME
            or volume.node_id != node.node_id
            or volume.next_action != NextAction.DEPLOY
        ):
            return f"volume {volume_id} not found on node {node.node_id}"
        if volume.customer_tid != workload.customer_tid:
            return f"volume {volume_id} belongs to another user"
        if head in mounted:
            return f"volume {volume_id} is already mounted in another container"
        mounted.add(head)
    for connection in body["network_connection"]:
        error = _check_ip(conn, workload, node, connection["network_id"], connection["ipaddress"])
        if error:
            return error
    for name, value in body["secret_environment"].items():
        error = _check_sealed(node, f"secret_environment[{name}]", value)
        if error:
            return error
    return _check_storage(conn, workload, node, now, knobs)


def _check_ip(conn: sqlite3.Connection, workload: Workload, node: Node, network: str, ip: str) -> str | None:
    # The node runs the newest version of the network it applied; one sent but not applied yet does not count.
    resource = workload_store.latest_applied_network(conn, node.node_id, workload.customer_tid, network)
    if resource is None:
        return f"network {network!r} has no network resource deployed on node {node.node_id}"
    subnet = ipaddress.ip_network(resource.body["iprange"], strict=False)
    address = ipaddress.ip_address(ip)
    if address not in subnet:
        return f"ip {ip} is not in the range {resource.body['iprange']} of network {network!r} on this node"
    if address in (subnet.network_address, subnet.network_address + 1, subnet.broadcast_address):
        return f"ip {ip} is reserved in {resource.body['iprange']} (network, node or broadcast address)"
    if workload_store.ip_taken(conn, node.node_id, network, ip, workload.id):
        return f"ip {ip} is already used in network {network!r}"
    return None


def _check_sealed(node: Node, field: str, value: str) -> str | None:
    if open_sealed(node.signing_seed, value) is None:
        return f"cannot decrypt {field}: it must be sealed to node {node.node_id} (hex of a NaCl sealed box)"
    return None


def _check_storage(conn: sqlite3.Connection, workload: Workload, node: Node, now: float, knobs: Knobs) -> str | None:
    """Disks are never over-committed: the node's own workloads, other customers' and this one must fit."""
    ours, others = nodes.true_usage(conn, node, now, knobs)
    used = ours + others + workload.units
    total = node.doc["total_resources"]
    if used.sru > total["sru"] or used.hru > total["hru"]:
        return "not enough storage capacity on the node"
    return None


def _check_subdomain(conn: sqlite3.Connection, workload: Workload, node: Node) -> str | None:
    """Under a managed domain of the gateway, or under a domain the same customer delegated to it (§3.9)."""
    domain = workload.body["domain"].lower().rstrip(".")
    managed = [d.lower() for d in node.doc.get("managed_domains", [])]
    delegated = [
        d.domain
        for d in workload_store.live_named(conn, WorkloadType.DOMAIN_DELEGATE)
        if d.node_id == node.node_id and d.customer_tid == workload.customer_tid and d.domain
    ]
    if not any(domain.endswith("." + parent) for parent in managed + delegated):
        return f"domain {domain} is not a subdomain of a domain managed by this gateway ({', '.join(managed)})"
    if workload_store.domain_taken(conn, node.node_id, workload.domain or "", workload.id):
        return f"domain {domain} is already registered on this gateway"
    return None


def _check_delegation(conn: sqlite3.Connection, workload: Workload, node: Node) -> str | None:
    """A gateway serves a delegated domain once: not one of its managed domains, not delegated to it twice."""
    domain = workload.domain or ""
    managed = [d.lower() for d in node.doc.get("managed_domains", [])]
    if any(domain == parent or domain.endswith("." + parent) for parent in managed):
        return f"domain {domain} is managed by this gateway and cannot be delegated to it"
    if workload_store.domain_taken(conn, node.node_id, domain, workload.id):
        return f"domain {domain} is already delegated to this gateway"
    return None


def _zdb_ips(workload: Workload, node: Node, variety: bool) -> list[str]:
    """The addresses a node reports for a ZDB: its public IPv6 and IPv4 where it has them, its yggdrasil address,
    and (with ``variety``) its LAN address too, in an order that varies with the workload id as on the real grid
    (IPv4 or the private address first): a client must choose, not take the first."""
    sim = node.doc["_sim"]
    public6 = [str(ipaddress.IPv6Network(sim["ipv6_prefix"]).network_address + 1)]
    if sim.get("connectivity", "public") not in ("public", "dual", "ipv6"):
        public6 = []
    yggdrasil = [_yggdrasil(node.node_id)]
    if not variety:
        return public6 + yggdrasil
    ipv4 = [sim["ipv4"]] if sim.get("ipv4") else []
    lan = [
        address.split("/")[0]
        for iface in node.doc.get("ifaces", [])
        for address in iface.get("addrs", [])
        if ipaddress.ip_interface(address).ip.is_private and ipaddress.ip_interface(address).version == 4
    ][:1]
    orders = (
        public6 + ipv4 + yggdrasil + lan,
        ipv4 + lan + yggdrasil + public6,
        lan + yggdrasil + public6 + ipv4,
    )
    return orders[workload.id % len(orders)]


def _data_json(workload: Workload, node: Node, variety: bool = False) -> dict[str, Any]:
    body = workload.body
    reference = f"{workload.id}-{body['workload_id']}"
    prefix = ipaddress.IPv6Network(node.doc["_sim"]["ipv6_prefix"]).network_address
    # Per-workload addresses inside the node's /64, clear of the node's own ::1 and ::2.
    own_ipv6 = str(prefix + 0x10000 + workload.id)
    if workload.workload_type == WorkloadType.CONTAINER:
        connections = body["network_connection"]
        wants_ipv6 = any(c["public_ip6"] for c in connections)
        return {
            "id": reference,
            "ipv4": connections[0]["ipaddress"] if connections else "",
            "ipv6": own_ipv6 if wants_ipv6 else "",
            "yggdrasil": _yggdrasil(reference),
        }
    if workload.workload_type == WorkloadType.VOLUME:
        return {"volume_id": reference}
    if workload.workload_type == WorkloadType.ZDB:
        return {"Namespace": reference, "IPs": _zdb_ips(workload, node, variety), "Port": ZDB_PORT}
    if workload.workload_type == WorkloadType.KUBERNETES:
        return {"id": reference, "ip": body["ipaddress"]}
    if workload.workload_type == WorkloadType.GATEWAY4TO6:
        peer = {
            "public_key": wireguard_public_key(node.signing_seed),
            "allowed_ips": ["::/0"],
            "endpoint": f"{node.doc['_sim']['ipv4']}:{GATEWAY4TO6_PORT}",
        }
        return {"ips": [f"{own_ipv6}/64"], "peers": [peer]}
    return {}


def _yggdrasil(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return str(ipaddress.IPv6Address(bytes([0x02, digest[0] | 0x01]) + digest[1:15]))


def _result(workload: Workload, node: Node, now: float, state: ResultState, data: Any, message: str) -> dict[str, Any]:
    reference = f"{workload.id}-{workload.body['workload_id']}"
    signed = f"{reference}{int(state)}{json.dumps(data, sort_keys=True)}{message}".encode()
    return {
        "category": int(workload.workload_type),
        "workload_id": reference,
        "data_json": data,
        "signature": sign_hex(node.signing_seed, hashlib.sha256(signed).digest()),
        "state": int(state),
        "message": message,
        "epoch": int(now),
        "node_id": node.node_id,
    }


def ok_result(workload: Workload, node: Node, now: float, variety: bool = False) -> dict[str, Any]:
    """The Ok result; with ``variety`` (the real explorer's habit) ``data_json`` is JSON *text* for odd ids."""
    data: Any = _data_json(workload, node, variety)
    if variety and workload.id % 2 == 1:
        data = json.dumps(data)
    return _result(workload, node, now, ResultState.OK, data, "")


def error_result(workload: Workload, node: Node | None, now: float, message: str) -> dict[str, Any]:
    if node is None:
        return {**empty_result(), "category": int(workload.workload_type), "state": 0, "message": message}
    return _result(workload, node, now, ResultState.ERROR, {}, message)


def deleted_result(workload: Workload, node: Node | None, now: float) -> dict[str, Any]:
    """The result once the node confirmed a deletion (an earlier Error result is kept instead by the caller)."""
    data = (workload.result or {}).get("data_json") or {}
    if node is None:
        return {**empty_result(), "category": int(workload.workload_type), "state": int(ResultState.DELETED)}
    return _result(workload, node, now, ResultState.DELETED, data, "")


def empty_result() -> dict[str, Any]:
    """What GET shows before the node reported (§4.6): Go zero values."""
    return {
        "category": 0,
        "workload_id": "",
        "data_json": None,
        "signature": "",
        "state": 0,
        "message": "",
        "epoch": 0,
        "node_id": "",
    }
