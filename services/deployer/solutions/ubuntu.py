"""Ubuntu (SOLUTIONS §3.3): one container reachable over ssh inside one of the user's networks."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from services.deployer.grid.kinds import Kind
from services.deployer.solutions import images
from services.deployer.solutions.base import Placement, PlanContext, Spec, WorkloadPlan, WorkloadView, container_fields
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import ContainerResources, Logs, NetworkName, SshKey, Where
from services.deployer.solutions.listing import container_listing, wids


class UbuntuSpec(Spec):
    version: Literal["ubuntu-18.04", "ubuntu-19.10", "ubuntu-20.04"] = "ubuntu-20.04"
    resources: ContainerResources = Field(default_factory=ContainerResources)
    where: Where
    network: NetworkName
    logs: Logs | None = None
    ssh_key: SshKey
    public_ipv6: bool = False


class Ubuntu(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = UbuntuSpec
    type: ClassVar[str] = "ubuntu"
    exposed_role: ClassVar[str | None] = "container"  # where Solution Expose publishes a port

    def placements(self, spec: UbuntuSpec) -> list[Placement]:
        where = spec.where
        # A public IPv6 only exists on nodes that have one: the node must be chosen for it.
        return [Placement("container", where.pool_id, spec.resources.query(), where.node_id, ip=where.ip,
                          public_ipv6=spec.public_ipv6)]  # fmt: skip

    def network_of(self, spec: UbuntuSpec) -> str | None:
        return spec.network

    def build(self, spec: UbuntuSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage > 0:
            return None
        placed = ctx.placed["container"]
        assert ctx.network is not None and placed.ip is not None  # the deployer placed it
        fields = container_fields(
            flist=images.ubuntu(spec.version),
            cpu=spec.resources.cpu,
            memory=spec.resources.memory,
            disk=spec.resources.disk,
            network=ctx.network,
            ip=placed.ip,
            public_ipv6=spec.public_ipv6,
            entrypoint="/bin/bash /start.sh",
            environment={"pub_key": spec.ssh_key},
            logs=spec.logs.wire() if spec.logs else None,
        )
        return [WorkloadPlan("container", Kind.CONTAINER, "container", fields)]

    def listing(self, spec: UbuntuSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Name": spec.name, "wids": wids(workloads), **container_listing(workloads, "container", spec.network)}

    def outputs(self, spec: UbuntuSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        listing = container_listing(workloads, "container", spec.network)
        out: dict[str, Any] = {"IPv4 Address": listing["IPv4 Address"], "ssh": f"ssh root@{listing['IPv4 Address']}"}
        if listing["IPv6 Address"]:
            out["IPv6 Address"] = listing["IPv6 Address"]
            out["ssh (IPv6)"] = f"ssh root@{listing['IPv6 Address']}"
        return out


PLANNER = Ubuntu()
