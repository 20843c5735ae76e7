"""Gitea (SOLUTIONS §3.8): Gitea + PostgreSQL in one container, on a public HTTPS name through a gateway of the
user's pools (raw tunnel, pattern T: Gitea terminates TLS itself).

Workloads, each stage awaited before the next: (0) the subdomain, in the gateway pool; (1) the Gitea container in
the user's pool; (2) the reverse proxy, in the gateway pool; (3) the tcprouter client beside it in the network,
forwarding ports 3000/3000 to Gitea.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import gateway
from services.deployer.solutions.base import (
    GatewayRequest,
    Placement,
    PlanContext,
    Sealed,
    Spec,
    WorkloadPlan,
    WorkloadView,
    container_fields,
)
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import Logs, NetworkName, PoolId, SshKey, Where
from services.deployer.solutions.listing import container_listing, find, public_domain, wids

CPU, MEMORY, DISK = 2, 1024, 6 * 1024  # SOLUTIONS §3.8: query {cru: 2, mru: 1, sru: 6}
HTTP_PORT = 3000
DB_PASSWORD = "db_password"  # noqa: S105 — the name of the user's secret, not a secret

# PostgreSQL identifiers and Gitea's app name go into the container's environment: a closed alphabet, so
# nothing a shell or a config file would interpret can reach the image.
DbIdentifier = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
RepoName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class GiteaSpec(Spec):
    secret_names: ClassVar[tuple[str, ...]] = (DB_PASSWORD,)
    generated_secrets: ClassVar[tuple[str, ...]] = (gateway.TUNNEL_SECRET,)

    where: Where
    network: NetworkName
    ssh_key: SshKey
    db_name: DbIdentifier = "postgres"
    db_user: DbIdentifier = "postgres"
    repository: RepoName = "myrepo"
    logs: Logs | None = None
    # The user's pools to find a gateway in (SOLUTIONS §1.9); the chatflow verifies each like any pool id.
    gateway_pool_ids: list[PoolId] = Field(min_length=1, max_length=256)


def _resources() -> Resources:
    return Resources(cru=CPU, mru=MEMORY // 1024, sru=DISK // 1024, hru=0)


class Gitea(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = GiteaSpec
    type: ClassVar[str] = "gitea"
    exposed_role: ClassVar[str | None] = "container"  # where Solution Expose publishes a port

    def gateways(self, spec: GiteaSpec) -> list[GatewayRequest]:
        return [GatewayRequest("gateway", tuple(spec.gateway_pool_ids), label=spec.name, owner_prefix="advanced")]

    def placements(self, spec: GiteaSpec) -> list[Placement]:
        where = spec.where
        return [
            # "public IPv6 on" (§3.8): only a node with a public IPv6 can give one.
            Placement("container", where.pool_id, _resources(), where.node_id, ip=where.ip, public_ipv6=True),
            # The tunnel client: any node of the same pool in the network, with its own IP.
            Placement("tcprouter", where.pool_id, gateway.tcprouter_resources()),
        ]

    def network_of(self, spec: GiteaSpec) -> str | None:
        return spec.network

    def build(self, spec: GiteaSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        gw, app = ctx.placed["gateway"], ctx.placed["container"]
        assert ctx.network is not None and app.ip is not None  # the deployer placed them
        if stage == 0:
            return [gateway.subdomain(gw)]
        if stage == 1:
            return [self._container(spec, ctx)]
        if stage == 2:
            return [gateway.reverse_proxy(gw, ctx.marketplace)]
        if stage == 3:
            return [gateway.tcprouter_client(gw, ctx.placed["tcprouter"], ctx.marketplace, network=ctx.network,
                                             target_ip=app.ip, port=HTTP_PORT, tls_port=HTTP_PORT)]  # fmt: skip
        return None

    def _container(self, spec: GiteaSpec, ctx: PlanContext) -> WorkloadPlan:
        app, fqdn = ctx.placed["container"], gateway.gateway_of(ctx.placed["gateway"]).domain
        assert ctx.network is not None and app.ip is not None
        env = {
            "pub_key": spec.ssh_key,
            "POSTGRES_DB": spec.db_name,
            "DB_TYPE": "postgres",
            "DB_HOST": "localhost:5432",
            "POSTGRES_USER": spec.db_user,
            "APP_NAME": spec.repository,
            "ROOT_URL": f"https://{fqdn}",
            "HTTP_PORT": str(HTTP_PORT),
            "DOMAIN": fqdn,
        }
        fields = container_fields(flist=ctx.marketplace.flists["gitea"], cpu=CPU, memory=MEMORY, disk=DISK,
                                  network=ctx.network, ip=app.ip, public_ipv6=True, entrypoint="/start_gitea.sh",
                                  environment=env, secret_environment={"POSTGRES_PASSWORD": Sealed(DB_PASSWORD)},
                                  logs=spec.logs.wire() if spec.logs else None)  # fmt: skip
        return WorkloadPlan("container", Kind.CONTAINER, "container", fields)

    def listing(self, spec: GiteaSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Name": spec.name, "wids": wids(workloads), **container_listing(workloads, "container", spec.network),
                "Domain": public_domain(workloads)}  # fmt: skip

    def outputs(self, spec: GiteaSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        container = find(workloads, "container")
        listing = container_listing(workloads, "container", spec.network)
        return {"Workload id": container.grid_id if container else None, "ssh": f"ssh git@{listing['IPv4 Address']}",
                "URL": f"https://{public_domain(workloads)}"}  # fmt: skip


PLANNER = Gitea()
