"""Solution Expose (SOLUTIONS §3.9): a port of one of the user's private solutions on a public name, through a
gateway's raw tunnel (pattern T, SOLUTIONS §1.9).

The name is a label under a managed domain of the gateway, a label under a domain the user delegated to it
(§3.10), or a custom domain the user points at the gateway with a CNAME record. Workloads, each awaited before the
next: the subdomain (managed and delegated names only) and the reverse proxy on the gateway, paid by the user's
pool that contains the gateway; then the tcprouter client, on an up node of the target's pool, in the target's
network with an IP of its own, forwarding to the target's address. The tunnel secret only exists sealed
(``gateway.py``). The solution's name is the fully qualified name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import Field, StrictInt, model_validator

from services.common.capacity import Resources
from services.deployer.solutions import gateway
from services.deployer.solutions.base import GatewayRequest, Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import Domain, Frozen, GatewayChoice, IPv4, NetworkName, PoolId
from services.deployer.solutions.listing import find, wids

Port = Field(ge=1, le=65535)
# SOLUTIONS §3.9: one up node of the solution's pool with cru 1, mru 1, sru 1 for the tunnel client.
CLIENT_QUERY = Resources(cru=1, mru=1, sru=1)


class Target(Frozen):
    """Where the tunnel client forwards to, as the wizard found it (checked again at submit, ``exposure.py``)."""

    pool_id: PoolId
    network: NetworkName
    ip: IPv4


class ExposedSpec(Spec):
    """``name`` is the fully qualified name; ``parent`` the managed or delegated domain it is under (none for a
    custom domain)."""

    generated_secrets: ClassVar[tuple[str, ...]] = (gateway.TUNNEL_SECRET,)

    name: Domain  # the fqdn, not a short name
    solution_type: Literal["minio", "kubernetes", "ubuntu", "flist", "gitea"]
    solution_id: str = Field(pattern=r"^[0-9a-f]{32}$|^[0-9a-f-]{36}$")
    port: StrictInt = Port
    tls_port: StrictInt = Port
    domain_type: Literal["managed", "delegated", "custom"]
    parent: Domain | None = None
    gateway: GatewayChoice
    target: Target

    @model_validator(mode="after")
    def _name_under_parent(self) -> Self:
        if self.domain_type == "custom":
            if self.parent is not None:
                raise ValueError("a custom domain has no parent domain")
        elif self.parent is None or "." in self.name.removesuffix(f".{self.parent}") \
                or not self.name.endswith(f".{self.parent}"):  # fmt: skip
            raise ValueError("the name must be one label under the parent domain")
        return self

    @property
    def label(self) -> str:
        return self.name.removesuffix(f".{self.parent}")


class Exposed(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = ExposedSpec
    type: ClassVar[str] = "exposed"
    publishes_a_target: ClassVar[bool] = True  # checked at submit (``exposure.submit_problem``)

    def placements(self, spec: ExposedSpec) -> list[Placement]:
        return [Placement("tcprouter", spec.target.pool_id, CLIENT_QUERY)]

    def gateways(self, spec: ExposedSpec) -> list[GatewayRequest]:
        # Exactly the name the user chose (the wizard saw it free; one that a live solution took since fails the
        # planning, never another name). Not the automatic domain: no Let's Encrypt budget is spent on it — the
        # exposed application terminates TLS itself.
        return [GatewayRequest("gateway", (spec.gateway.pool_id,), domain=spec.name, gateway_id=spec.gateway.node_id)]

    def network_of(self, spec: ExposedSpec) -> str | None:
        return spec.target.network

    def build(self, spec: ExposedSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        gw = ctx.placed["gateway"]
        if stage == 0:
            return [gateway.subdomain(gw)] if spec.domain_type != "custom" else []
        if stage == 1:
            return [gateway.reverse_proxy(gw, ctx.marketplace)]
        if stage == 2:
            assert ctx.network is not None
            return [
                gateway.tcprouter_client(
                    gw,
                    ctx.placed["tcprouter"],
                    ctx.marketplace,
                    network=ctx.network,
                    target_ip=spec.target.ip,
                    port=spec.port,
                    tls_port=spec.tls_port,
                )
            ]
        return None

    def listing(self, spec: ExposedSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        proxy = find(workloads, "reverse_proxy")
        return {"Name": spec.name, "wids": wids(workloads), "Domain": spec.name, "Gateway": spec.gateway.node_id,
                "Pool": proxy.grid_pool_id if proxy else None}  # fmt: skip

    def outputs(self, spec: ExposedSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Domain": spec.name,
            "Reachable": f"your solution is reachable through the gateway at {spec.name}",
        }
        proxy = find(workloads, "reverse_proxy")
        if spec.domain_type == "custom" and proxy is not None and proxy.gateway is not None:
            out["Next step"] = cname_instruction(spec.name, proxy.gateway.nameservers)
        return out


def cname_instruction(domain: str, nameservers: Any) -> str:
    return f"create a CNAME record for {domain} pointing to {', '.join(nameservers)}"


PLANNER = Exposed()
