"""A container on a public HTTPS name under a managed domain of one of the user's gateways, terminating TLS itself
(pattern T on ports 80/443): Gollum and the hosted 3Bot.

Workloads, each stage awaited before the next: (0) the subdomain, in the **gateway** pool; (1) the container in
the user's pool (:meth:`TunnelledContainer.container`, the solution's own); (2) the reverse proxy, in the gateway
pool; (3) the tcprouter client on the container's node, forwarding ports 80/443 to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import Field

from services.deployer.solutions import gateway
from services.deployer.solutions.base import (
    GatewayRequest,
    Placement,
    PlanContext,
    Spec,
    WorkloadPlan,
    WorkloadView,
)
from services.deployer.solutions.fields import ContainerResources, Domain, NetworkName, PoolId, Where
from services.deployer.solutions.listing import container_listing, public_domain, wids

HTTP_PORT, TLS_PORT = 80, 443


class TunnelledSpec(Spec):
    """The answers the shared stages read, declared once; a solution's spec adds its own fields (and may redeclare
    ``resources`` for other defaults)."""

    generated_secrets: ClassVar[tuple[str, ...]] = (gateway.TUNNEL_SECRET,)

    resources: ContainerResources = Field(default_factory=ContainerResources)
    where: Where
    network: NetworkName
    # A managed domain the user chose among their gateways' (the name is ``<owner>-<name>.<parent>``).
    parent_domain: Domain
    # The user's pools to find the gateway in (SOLUTIONS §1.9); the chatflow verifies each like any pool id.
    gateway_pool_ids: list[PoolId] = Field(min_length=1, max_length=256)


class TunnelledContainer(ABC):
    """The shared stages, for a :class:`TunnelledSpec`. ``suffix``: a taken name gets a number appended (False:
    planning fails instead)."""

    spec_model: ClassVar[type[Spec]]
    suffix: ClassVar[bool] = True

    def public_ipv6(self, spec: Any) -> bool:
        return False

    @abstractmethod
    def container(self, spec: Any, ctx: PlanContext) -> WorkloadPlan:
        """The solution's own container (stage 2), on the node of the ``container`` placement."""

    def gateways(self, spec: Any) -> list[GatewayRequest]:
        return [GatewayRequest("gateway", tuple(spec.gateway_pool_ids), label=spec.name, parent=spec.parent_domain,
                               owner_prefix="advanced", suffix=self.suffix)]  # fmt: skip

    def placements(self, spec: Any) -> list[Placement]:
        where = spec.where
        return [
            Placement(
                "container",
                where.pool_id,
                spec.resources.query(),
                where.node_id,
                ip=where.ip,
                public_ipv6=self.public_ipv6(spec),
            ),
            # The tunnel client beside the container on its node, with its own IP in the network.
            Placement("tcprouter", where.pool_id, gateway.tcprouter_resources(), colocate="container"),
        ]

    def network_of(self, spec: Any) -> str | None:
        return str(spec.network)

    def build(self, spec: Any, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        gw, app = ctx.placed["gateway"], ctx.placed["container"]
        assert ctx.network is not None and app.ip is not None  # the deployer placed them
        if stage == 0:
            return [gateway.subdomain(gw)]
        if stage == 1:
            return [self.container(spec, ctx)]
        if stage == 2:
            return [gateway.reverse_proxy(gw, ctx.marketplace)]
        if stage == 3:
            return [gateway.tcprouter_client(gw, ctx.placed["tcprouter"], ctx.marketplace, network=ctx.network,
                                             target_ip=app.ip, port=HTTP_PORT, tls_port=TLS_PORT)]  # fmt: skip
        return None

    def listing(self, spec: Any, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Name": spec.name, "wids": wids(workloads), **container_listing(workloads, "container", spec.network),
                "Domain": public_domain(workloads)}  # fmt: skip
