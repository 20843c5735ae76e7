"""Nodes and gateways as the explorer shows them: heartbeats (`updated`), usage, and up/down simulation.

Usage is what the node last *reported*: `reserved_resources`, `used_resources` and the workload counters show the
node as it was `report_lag` seconds ago, plus what other customers use on it (`other_tenants`, seeded per node and
drifting). The node itself always knows its truth (:func:`true_usage`), which is what its checks use. `wg_ports`
lists the seeded ports of other customers and the listen port of every network resource the node runs.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from emulators.grid import directory_store, workload_store
from emulators.grid.capacity import Units, other_tenants
from emulators.grid.config import Knobs
from emulators.grid.directory_store import Node
from emulators.grid.enums import WorkloadType

HEARTBEAT_SECONDS = 60
# A node marked down stops heartbeating; its last heartbeat is put this far back so it is "not up"
# (older than 600 s) at once instead of ten minutes later.
DOWN_NODE_HEARTBEAT_AGE = 900

_COUNTERS = {
    WorkloadType.NETWORK: "network",
    WorkloadType.NETWORK_RESOURCE: "network_resource",
    WorkloadType.VOLUME: "volume",
    WorkloadType.ZDB: "zdb_namespace",
    WorkloadType.CONTAINER: "container",
    WorkloadType.KUBERNETES: "k8s_vm",
    WorkloadType.PROXY: "proxy",
    WorkloadType.REVERSE_PROXY: "reverse_proxy",
    WorkloadType.SUBDOMAIN: "subdomain",
    WorkloadType.DOMAIN_DELEGATE: "delegate_domain",
}


def _heartbeat(node: Node, now: float) -> tuple[int, int]:
    """(updated, uptime): an up node heartbeats every minute (each with its own phase); a down one is frozen."""
    if node.last_seen is not None:
        return int(node.last_seen), 0
    updated = int(now - (now + node.id * 7) % HEARTBEAT_SECONDS)
    uptime = int((now + node.id * 3571) % (30 * 86400)) + 3600
    return updated, uptime


def _counters(counts: dict[int, int]) -> dict[str, int]:
    result = dict.fromkeys(_COUNTERS.values(), 0)
    for workload_type, count in counts.items():
        name = _COUNTERS.get(WorkloadType(workload_type))
        if name:
            result[name] += count
    return result


def _proofs(node: Node) -> list[dict[str, Any]]:
    digest = hashlib.sha256(node.node_id.encode()).hexdigest()
    total = node.doc["total_resources"]
    return [
        {
            "created": node.doc["created"],
            "hardware_hash": digest[:32],
            "disk_hash": digest[32:],
            "hardware": {"cpu_cores": total["cru"], "memory_gib": total["mru"]},
            "disks": {"ssd_gib": total["sru"], "hdd_gib": total["hru"]},
            "hypervisor": [],
        }
    ]


def _public_doc(node: Node) -> dict[str, Any]:
    return {key: value for key, value in node.doc.items() if not key.startswith("_")}


def nodes_json(
    conn: sqlite3.Connection, nodes: Sequence[Node], now: float, knobs: Knobs, proofs: bool = False
) -> list[dict[str, Any]]:
    """Wire objects (§5.4/§5.5) with the usage each node last reported (see the module docstring)."""
    reported_at = now - knobs.report_lag
    usage = workload_store.node_usage(
        conn, [node.node_id for node in nodes], None if knobs.report_lag <= 0 else reported_at
    )
    ports = workload_store.listen_ports(conn, [node.node_id for node in nodes])
    out = []
    for node in nodes:
        units, counts = usage.get(node.node_id, (Units(), {}))
        updated, uptime = _heartbeat(node, now)
        item: dict[str, Any] = {"id": node.id, "node_id": node.node_id, **_public_doc(node)}
        item.update(updated=updated, uptime=uptime, workloads=_counters(counts))
        if not node.is_gateway:
            units = units + other_tenants(node.node_id, node.doc["total_resources"], knobs.other_tenants, reported_at)
            item.update(used_resources=units.as_json(), reserved_resources=units.as_json())
            item["wg_ports"] = sorted(set(node.doc.get("wg_ports", [])) | ports.get(node.node_id, set()))
            if proofs:
                item["proofs"] = _proofs(node)
        out.append(item)
    return out


def true_usage(conn: sqlite3.Connection, node: Node, now: float, knobs: Knobs) -> tuple[Units, Units]:
    """(the marketplace's usage, other customers' usage) on the node right now: what the node itself sees."""
    ours = workload_store.node_usage(conn, [node.node_id]).get(node.node_id, (Units(), {}))[0]
    return ours, other_tenants(node.node_id, node.doc["total_resources"], knobs.other_tenants, now)


def wireguard_ports(conn: sqlite3.Connection, node: Node) -> list[int]:
    """The ports in use: other customers' (seeded) and the listen port of each network resource the node runs."""
    taken = set(node.doc.get("wg_ports", [])) | {
        port for port, _, _ in workload_store.wireguard_ports(conn, node.node_id)
    }
    return sorted(taken)


def mark_down(conn: sqlite3.Connection, node_id: str, now: float) -> bool:
    """Stop the node's heartbeats and make it pick up nothing. False if the node is unknown.

    The frozen heartbeat is placed before both the emulator clock and the real clock (the clock only moves
    forward, so that is the real one): a client comparing `updated` with its own wall clock sees it down too.
    """
    return directory_store.set_last_seen(conn, node_id, min(now, time.time()) - DOWN_NODE_HEARTBEAT_AGE)


def mark_up(conn: sqlite3.Connection, node_id: str, now: float) -> bool:
    """Resume heartbeats; the node handles its backlog from now on. False if the node is unknown."""
    if not directory_store.set_last_seen(conn, node_id, None):
        return False
    workload_store.reschedule_pending(conn, node_id, now)
    return True
