"""Nodes and gateways as the explorer shows them: heartbeats (`updated`), usage, and up/down simulation."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from emulators.grid import directory_store, workload_store
from emulators.grid.capacity import Units
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
    conn: sqlite3.Connection, nodes: Sequence[Node], now: float, proofs: bool = False
) -> list[dict[str, Any]]:
    """Wire objects (§5.4/§5.5) with usage summed from the deployed workloads of each node."""
    usage = workload_store.node_usage(conn, [node.node_id for node in nodes])
    out = []
    for node in nodes:
        units, counts = usage.get(node.node_id, (Units(), {}))
        updated, uptime = _heartbeat(node, now)
        item: dict[str, Any] = {"id": node.id, "node_id": node.node_id, **_public_doc(node)}
        item.update(updated=updated, uptime=uptime, workloads=_counters(counts))
        if not node.is_gateway:
            item.update(used_resources=units.as_json(), reserved_resources=units.as_json())
            if proofs:
                item["proofs"] = _proofs(node)
        out.append(item)
    return out


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
