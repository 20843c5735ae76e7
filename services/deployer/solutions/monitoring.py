"""Monitoring (SOLUTIONS §3.7): Redis (log sink), Prometheus with a data volume, and Grafana in a user network."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, StrictInt

from services.deployer.grid.kinds import DiskType, Kind
from services.deployer.solutions import images
from services.deployer.solutions.base import Placement, PlanContext, Spec, WorkloadPlan, WorkloadView, container_fields
from services.deployer.solutions.fields import ContainerResources, Frozen, Logs, NetworkName, SshKey, Where
from services.deployer.solutions.listing import container_listing, wids

REDIS_PORT = 6379
FLISTS = {"redis": images.REDIS, "prometheus": images.PROMETHEUS, "grafana": images.GRAFANA}
# One container per stage, in this order, each waited: Prometheus and Grafana log into the Redis before them.
CONTAINER_STAGES = ("redis", "prometheus", "grafana")


class Component(Frozen):
    """One of the three containers: its resources and where it goes."""

    resources: ContainerResources = Field(default_factory=ContainerResources)
    where: Where


class MonitoringSpec(Spec):
    ssh_key: SshKey
    redis: Component
    prometheus: Component
    grafana: Component
    volume_size: StrictInt = Field(default=10, ge=1, le=10 * 1024)
    network: NetworkName


class Monitoring:
    spec_model: ClassVar[type[Spec]] = MonitoringSpec
    type: ClassVar[str] = "monitoring"

    def placements(self, spec: MonitoringSpec) -> list[Placement]:
        placements = []
        for role in CONTAINER_STAGES:
            component: Component = getattr(spec, role)
            volume = spec.volume_size if role == "prometheus" else 0
            query = component.resources.query(extra_sru=volume)
            placements.append(
                Placement(role, component.where.pool_id, query, component.where.node_id, ip=component.where.ip)
            )
        return placements

    def network_of(self, spec: MonitoringSpec) -> str | None:
        return spec.network

    def build(self, spec: MonitoringSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage == 0:
            volume = {"size": spec.volume_size, "type": int(DiskType.SSD)}
            return [WorkloadPlan("prometheus-volume", Kind.VOLUME, "prometheus", volume)]
        if stage > len(CONTAINER_STAGES):
            return None
        return [_container(spec, ctx, CONTAINER_STAGES[stage - 1])]

    def listing(self, spec: MonitoringSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": spec.name, "wids": wids(workloads)}
        for role in CONTAINER_STAGES:
            out |= container_listing(workloads, role, spec.network, prefix=f"{role.capitalize()} ")
        return out

    def outputs(self, spec: MonitoringSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        ips = {
            role: container_listing(workloads, role, spec.network).get("IPv4 Address", "") for role in CONTAINER_STAGES
        }
        return {
            "Workload IDs": wids(workloads),
            "ssh": f"ssh root@{ips['prometheus']}",
            "Prometheus": f"http://{ips['prometheus']}:9090/graph",
            "Grafana": f"http://{ips['grafana']}:3000",
            "Redis": f"redis-cli -h {ips['redis']}",
        }


def _container(spec: MonitoringSpec, ctx: PlanContext, role: str) -> WorkloadPlan:
    component: Component = getattr(spec, role)
    placed = ctx.placed[role]
    redis_ip = ctx.placed["redis"].ip
    assert ctx.network is not None and placed.ip is not None and redis_ip is not None  # the deployer placed them
    logs = (
        None
        if role == "redis"
        else Logs(channel_type="redis", host=redis_ip, port=REDIS_PORT, channel_name=role).wire()
    )
    volumes = None
    if role == "prometheus":
        volumes = [{"volume_id": f"{ctx.deployed['prometheus-volume'].grid_id}-1", "mountpoint": "/data"}]
    fields = container_fields(
        flist=FLISTS[role],
        cpu=component.resources.cpu,
        memory=component.resources.memory,
        # SOLUTIONS §3.7 note: the volume is paid as a volume, not again in the root disk.
        disk=component.resources.disk,
        network=ctx.network,
        ip=placed.ip,
        environment={"SSH_KEY": spec.ssh_key},
        volumes=volumes,
        logs=logs,
    )
    return WorkloadPlan(role, Kind.CONTAINER, role, fields)


PLANNER = Monitoring()
