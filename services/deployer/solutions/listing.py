"""Listing keys shared by the container-based solutions (SOLUTIONS §6.2)."""

from __future__ import annotations

from typing import Any

from services.deployer.solutions.base import WorkloadView

LIVE_STATES = frozenset({"recorded", "sending", "sent", "deployed"})


def wids(workloads: list[WorkloadView]) -> list[int]:
    """Every live workload id of the solution on the grid."""
    return sorted(w.grid_id for w in workloads if w.grid_id is not None and w.state in LIVE_STATES)


def find(workloads: list[WorkloadView], key: str) -> WorkloadView | None:
    return next((w for w in workloads if w.key == key), None)


def container_listing(workloads: list[WorkloadView], key: str, network: str, prefix: str = "") -> dict[str, Any]:
    """``IPv4 Address``, ``IPv6 Address``, ``Node``, ``Pool``, ``Network``, ``CPU``, ``Memory``, ``RootFS …``.

    The IPv4 address is the one we asked for (known before the node reports); IPv6 comes from the node's result.
    ``prefix`` gives the monitoring/minio form (``"Redis "`` → ``"Redis IPv4"``).
    """
    w = find(workloads, key)
    if w is None:
        return {}
    capacity = w.fields.get("capacity", {})
    connection = (w.fields.get("network_connection") or [{}])[0]
    ipv4_key = f"{prefix}IPv4" if prefix else "IPv4 Address"
    ipv6_key = f"{prefix}IPv6" if prefix else "IPv6 Address"
    return {
        ipv4_key: w.data.get("ipv4") or connection.get("ipaddress", ""),
        ipv6_key: w.data.get("ipv6", ""),
        f"{prefix}Node": w.node_id,
        f"{prefix}Pool": w.grid_pool_id,
        **({} if prefix else {"Network": network}),
        f"{prefix}CPU": capacity.get("cpu"),
        f"{prefix}Memory": capacity.get("memory"),
        f"{prefix}RootFS Type": "SSD" if capacity.get("disk_type", 1) == 1 else "HDD",
        f"{prefix}RootFS Size": capacity.get("disk_size"),
    }


def public_domain(workloads: list[WorkloadView], key: str = "subdomain") -> str:
    """The public name of a solution on a gateway (its subdomain workload's), ``""`` before planning chose one."""
    sub = find(workloads, key)
    if sub is not None and sub.gateway is not None:
        return sub.gateway.domain
    return str(sub.fields.get("domain", "")) if sub is not None else ""
