"""Kubernetes (SOLUTIONS §3.5): a k3s master and N worker VMs on distinct nodes spread over the chosen pools."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictInt, model_validator

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import Placement, PlanContext, Sealed, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import IPv4, NetworkName, PoolId, SshKey
from services.deployer.solutions.listing import find, wids

# GRID_API §10.1: what a VM of each size uses; the listing shows the same numbers in its own units.
QUERIES = {1: Resources(cru=1, mru=2, sru=50), 2: Resources(cru=2, mru=4, sru=100)}
LISTED = {1: (1, 2048, "50GiB"), 2: (2, 4096, "100GiB")}


def spread(pool_ids: tuple[int, ...], count: int) -> list[tuple[int, tuple[int, ...]]]:
    """``count`` (pool, alternatives) pairs, round-robin over ``pool_ids``; the alternatives are the other pools."""
    n = len(pool_ids)
    return [(pool_ids[i % n], pool_ids[i % n + 1 :] + pool_ids[: i % n]) for i in range(count)]


def _distinct(values: tuple[Any, ...], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"the {what} must be distinct")


class KubernetesSpec(Spec):
    secret_names: ClassVar[tuple[str, ...]] = ("cluster_secret",)

    size: Literal[1, 2] = 1
    workers: StrictInt = Field(default=1, ge=1, le=20)
    pool_ids: tuple[PoolId, ...] = Field(min_length=1, max_length=64)
    network: NetworkName
    # The chatflow splits a multi-line upload: one key per non-empty line.
    ssh_keys: tuple[SshKey, ...] = Field(min_length=1, max_length=32)
    master_ip: IPv4 | None = None
    worker_ips: tuple[IPv4 | None, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesSpec:
        if len(self.worker_ips) > self.workers:
            raise ValueError("more worker IPs than workers")
        _distinct(self.pool_ids, "pools")
        _distinct(tuple(ip for ip in (self.master_ip, *self.worker_ips) if ip), "IPs")
        return self

    def roles(self) -> list[str]:
        return ["master", *(f"worker-{i}" for i in range(1, self.workers + 1))]


class Kubernetes(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = KubernetesSpec
    type: ClassVar[str] = "kubernetes"
    exposed_role: ClassVar[str | None] = "master"  # where Solution Expose publishes a port

    def placements(self, spec: KubernetesSpec) -> list[Placement]:
        ips = (spec.master_ip, *spec.worker_ips)
        roles = spec.roles()
        return [
            Placement(
                role,
                pool,
                QUERIES[spec.size],
                ip=ips[i] if i < len(ips) else None,
                group="vm",
                alternatives=others,
            )
            for i, (role, (pool, others)) in enumerate(zip(roles, spread(spec.pool_ids, len(roles)), strict=True))
        ]

    def network_of(self, spec: KubernetesSpec) -> str | None:
        return spec.network

    def build(self, spec: KubernetesSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage > 0:
            return None
        master_ip = ctx.placed["master"].ip
        assert ctx.network is not None and master_ip is not None  # the deployer placed it
        plans = []
        for role in spec.roles():
            ip = ctx.placed[role].ip
            assert ip is not None
            is_master = role == "master"
            fields = {
                "size": spec.size,
                "network_id": ctx.network,
                "ipaddress": ip,
                "cluster_secret": Sealed("cluster_secret"),
                "master_ips": [] if is_master else [master_ip],
                "ssh_keys": list(spec.ssh_keys),
                "stats_aggregator": [],
            }
            description = json.dumps({"role": "master" if is_master else "worker"})
            plans.append(WorkloadPlan(role, Kind.KUBERNETES, role, fields, description))
        return plans

    def listing(self, spec: KubernetesSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        master, *vms = _vms(spec, workloads)
        cpu, memory, disk = LISTED[spec.size]
        return {
            "Name": spec.name,
            "wids": wids(workloads),
            "Network": spec.network,
            "Master IP": _ip(master) if master else "",
            "Master Pool": master.grid_pool_id if master else None,
            "Slave IPs": [_ip(w) for w in vms if w],
            "Slave Pools": [w.grid_pool_id for w in vms if w],
            "CPU": cpu,
            "Memory": memory,
            "Disk Size": disk,
        }

    def outputs(self, spec: KubernetesSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {
            w.key: {"Workload ID": w.grid_id, "IP": _ip(w), "ssh": f"ssh rancher@{_ip(w)}"}
            for w in _vms(spec, workloads)
            if w
        }


def _vms(spec: KubernetesSpec, workloads: list[WorkloadView]) -> list[WorkloadView | None]:
    """The master then each worker in order (``None`` where a VM is missing)."""
    return [find(workloads, role) for role in spec.roles()]


def _ip(vm: WorkloadView) -> str:
    return str(vm.fields.get("ipaddress") or vm.data.get("ip", ""))


PLANNER = Kubernetes()
