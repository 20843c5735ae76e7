"""Domain Delegation (SOLUTIONS §3.10): a gateway becomes authoritative for a domain the user owns.

One ``DOMAIN_DELEGATE{domain}`` workload on the chosen gateway, paid by the user's pool that contains it. The user
then points NS records of the domain at the gateway's name servers (the end message names each); the domain is
offered as ``Delegated <domain>`` in Solution Expose, and cannot be cancelled while an exposed solution stands on it
(its exposure hooks, :mod:`.expose_use`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import GatewayRequest, Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.expose_use import Delegation
from services.deployer.solutions.fields import Domain, GatewayChoice
from services.deployer.solutions.listing import find, wids


class DelegatedDomainSpec(Spec):
    """``name`` is the delegated domain (the listing's ``Name``, SOLUTIONS §6.2): one delegation per domain."""

    name: Domain  # a domain, not a short name
    gateway: GatewayChoice


class DelegatedDomain(Delegation):
    spec_model: ClassVar[type[Spec]] = DelegatedDomainSpec
    type: ClassVar[str] = "delegated_domain"

    def placements(self, spec: DelegatedDomainSpec) -> list[Placement]:
        return []

    def gateways(self, spec: DelegatedDomainSpec) -> list[GatewayRequest]:
        return [GatewayRequest("gateway", (spec.gateway.pool_id,), domain=spec.name, gateway_id=spec.gateway.node_id)]

    def network_of(self, spec: DelegatedDomainSpec) -> str | None:
        return None

    def build(self, spec: DelegatedDomainSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage > 0:
            return None
        return [WorkloadPlan("delegate", Kind.DOMAIN_DELEGATE, "gateway", {"domain": spec.name})]

    def listing(self, spec: DelegatedDomainSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        w = find(workloads, "delegate")
        return {"Name": spec.name, "wids": wids(workloads), "Gateway": spec.gateway.node_id,
                "Pool": w.grid_pool_id if w else None}  # fmt: skip

    def outputs(self, spec: DelegatedDomainSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        w = find(workloads, "delegate")
        nameservers = list(w.gateway.nameservers) if w is not None and w.gateway is not None else []
        return {
            "Workload": w.grid_id if w else None,
            "Name servers": ", ".join(nameservers),
            "Next step": f"create NS records for {spec.name} pointing to: {', '.join(nameservers)}",
        }


PLANNER = DelegatedDomain()
