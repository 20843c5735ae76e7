"""Generic container (SOLUTIONS §3.4): any hub.grid.tf image, optionally with a volume, coreX or an entrypoint."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictInt, model_validator

from services.deployer.grid.kinds import DiskType, Kind
from services.deployer.solutions.base import (
    Placement,
    PlanContext,
    Sealed,
    Spec,
    WorkloadPlan,
    WorkloadView,
    container_fields,
)
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import ContainerResources, Frozen, Logs, NetworkName, Where
from services.deployer.solutions.listing import container_listing, find, wids

COREX_PORT = 7681


def _flist_url(value: str) -> str:
    # The HEAD checks of the url and its .md5 belong to the chatflow (network I/O); this is the offline part.
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme != "https" or not (host == "hub.grid.tf" or host.endswith(".hub.grid.tf")):
        raise ValueError("must be an https://hub.grid.tf/… image URL")
    if value.endswith(".md") or any(c.isspace() for c in value):
        raise ValueError("must be the image itself, not its .md page")
    return value


FlistUrl = Annotated[str, Field(max_length=512), AfterValidator(_flist_url)]
EnvKey = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
EnvValue = Annotated[str, Field(max_length=4096)]


class Volume(Frozen):
    """An extra SSD volume on the container's node: size in GiB and where it is mounted."""

    size: StrictInt = Field(default=10, ge=1, le=10 * 1024)
    mountpoint: str = Field(default="/data", max_length=255, pattern=r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$")


class FlistSpec(Spec):
    resources: ContainerResources = Field(default_factory=ContainerResources)
    volume: Volume | None = None
    where: Where
    network: NetworkName
    flist: FlistUrl
    corex: bool = True
    entrypoint: str = Field(default="", max_length=1024)
    environment: dict[EnvKey, EnvValue] = Field(default_factory=dict, max_length=64)
    # Names only: each value is the user's secret ``env_<NAME>`` (stored encrypted, sealed to the node).
    secret_environment: list[EnvKey] = Field(default_factory=list, max_length=64)
    logs: Logs | None = None
    public_ipv6: bool = False

    def required_secrets(self) -> tuple[str, ...]:
        return (*self.secret_names, *(f"env_{key}" for key in self.secret_environment))

    @model_validator(mode="after")
    def _entrypoint_without_corex(self) -> FlistSpec:
        if self.corex and self.entrypoint:
            raise ValueError("coreX replaces the entrypoint: choose one")
        if set(self.secret_environment) & set(self.environment):
            raise ValueError("a variable is either plain or secret environment, not both")
        return self


class Flist(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = FlistSpec
    type: ClassVar[str] = "flist"
    exposed_role: ClassVar[str | None] = "container"  # where Solution Expose publishes a port

    def placements(self, spec: FlistSpec) -> list[Placement]:
        where = spec.where
        # SOLUTIONS §3.4 note: the volume adds its GiB, not ceil(size/1024).
        query = spec.resources.query(extra_sru=spec.volume.size if spec.volume else 0)
        # A public IPv6 only exists on nodes that have one: the node must be chosen for it.
        return [Placement("container", where.pool_id, query, where.node_id, ip=where.ip, public_ipv6=spec.public_ipv6)]

    def network_of(self, spec: FlistSpec) -> str | None:
        return spec.network

    def build(self, spec: FlistSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        container_stage = 1 if spec.volume else 0
        if spec.volume and stage == 0:
            volume = {"size": spec.volume.size, "type": int(DiskType.SSD)}
            return [WorkloadPlan("volume", Kind.VOLUME, "container", volume)]
        if stage != container_stage:
            return None
        placed = ctx.placed["container"]
        assert ctx.network is not None and placed.ip is not None  # the deployer placed it
        mounts = []
        if spec.volume:
            # The container mounts the volume by its grid id, known only once stage 0 is deployed.
            mounts = [{"volume_id": f"{ctx.deployed['volume'].grid_id}-1", "mountpoint": spec.volume.mountpoint}]
        fields = container_fields(
            flist=spec.flist,
            cpu=spec.resources.cpu,
            memory=spec.resources.memory,
            disk=spec.resources.disk,
            network=ctx.network,
            ip=placed.ip,
            public_ipv6=spec.public_ipv6,
            entrypoint="" if spec.corex else spec.entrypoint,
            interactive=spec.corex,
            environment=spec.environment,
            secret_environment={key: Sealed(f"env_{key}") for key in spec.secret_environment},
            volumes=mounts,
            logs=spec.logs.wire() if spec.logs else None,
        )
        return [WorkloadPlan("container", Kind.CONTAINER, "container", fields)]

    def listing(self, spec: FlistSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        out = {"Name": spec.name, "wids": wids(workloads), **container_listing(workloads, "container", spec.network)}
        if spec.volume:
            out |= {"Volume Size": f"{spec.volume.size}GiB", "Volume Mount Point": spec.volume.mountpoint}
        return out

    def outputs(self, spec: FlistSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        listing = container_listing(workloads, "container", spec.network)
        ip = listing["IPv4 Address"]
        out: dict[str, Any] = {"IPv4 Address": ip}
        if spec.corex:
            corex = f"http://{ip}:{COREX_PORT}"
            out["coreX"] = (
                f"open {corex}/api/process/start?arg[]=/bin/bash, then {corex} and click the job to get a shell"
            )
        else:
            container = find(workloads, "container")
            out["Workload ID"] = container.grid_id if container else None
        if listing["IPv6 Address"]:
            out["IPv6 Address"] = listing["IPv6 Address"]
        return out


PLANNER = Flist()
