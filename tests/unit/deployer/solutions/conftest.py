"""Helpers for planner tests: a fake deployer that places, builds every stage and reports results."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from services.common.settings import Settings
from services.deployer.gateways import owner_label
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import gateway, images
from services.deployer.solutions.base import (
    Deployed,
    Marketplace,
    Placed,
    PlacedGateway,
    PlanContext,
    Planner,
    Sealed,
    SealedTemplate,
    Spec,
    WorkloadPlan,
    WorkloadView,
    gateway_requests,
)

NETWORK = "alice.3bot_net"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnV3Zp alice@laptop"
NODE_ID = "CBDY1Fu4CuxGpdU3zLL9QT5DGaRkxjpuJmzV6V5CBWg3"


def node_of(role: str) -> str:
    return f"node-{role}"


GATEWAY_ID = "GW1xGpdU3zLL9QT5DGaRkxjpuJmzV6V5CBWg3CBDY1Fu4"
GATEWAY_POOL = 900
MARKETPLACE = Marketplace(tid=7, test_cert=False, flists={
    "gitea": "https://hub.grid.tf/threefolddev/threefolddev-gitea_all_in_one-latest.flist",
    "gollum": "https://hub.grid.tf/threefolddev/threefolddev-gollum-latest.flist",
    "tls_proxy": "https://hub.grid.tf/tf-official-apps/tls-proxy:latest.flist",
    **images.registry(Settings.model_construct(**{n: f.default for n, f in Settings.model_fields.items()})),
})  # fmt: skip


def context(planner: Planner, spec: Spec, network: str | None = NETWORK,
            marketplace: Marketplace = MARKETPLACE) -> PlanContext:  # fmt: skip
    """Resolve every placement as the deployer would: node ``node-<role>`` (or the node of the placement it is
    colocated with), grid pool 100+i, IP ``10.1.<i+2>.2``; each gateway request on gateway ``GATEWAY_ID`` in grid
    pool 900 with ``<label>.gw1.grid.example`` (or its exact domain)."""
    placed: dict[str, Placed] = {}
    for request in gateway_requests(planner, spec):
        request = owner_label(request, "alice.3bot")
        domain = request.domain or f"{request.label}.{request.parent or 'gw1.grid.example'}"
        info = PlacedGateway(domain, ("185.69.250.2",), ("ns1.gw1.grid.example",), 18000)
        placed[request.role] = Placed(request.role, GATEWAY_ID, GATEWAY_POOL, None, info)
    for i, p in enumerate(planner.placements(spec)):
        node = placed[p.colocate].node_id if p.colocate else node_of(p.role)
        placed[p.role] = Placed(p.role, node, 100 + i, (p.ip or f"10.1.{i + 2}.2") if p.network else None)
    return PlanContext(owner="alice.3bot", network=network, placed=placed, marketplace=marketplace)


def result_data(plan: WorkloadPlan, placed: Placed) -> dict[str, Any]:
    """What a node reports for a deployed workload (GRID_API §5.10)."""
    if plan.kind is Kind.ZDB:
        return {"Namespace": f"ns-{plan.key}", "IPs": [f"2a02:1802:5e::{plan.key[-1]}"], "Port": 9900}
    if plan.kind is Kind.CONTAINER:
        return {"id": "c1", "ipv4": placed.ip, "ipv6": ""}
    if plan.kind is Kind.KUBERNETES:
        return {"id": "k1", "ip": placed.ip}
    if plan.kind.on_gateway:
        return {}
    return {"volume_id": "v1"}


@dataclass
class Run:
    """Every stage's plans, what the fake deployer recorded, and the listing's view of it."""

    ctx: PlanContext
    stages: list[list[WorkloadPlan]]
    deployed: dict[str, Deployed]
    contexts: list[PlanContext]

    @property
    def plans(self) -> dict[str, WorkloadPlan]:
        return {p.key: p for stage in self.stages for p in stage}

    def views(self, state: str = "deployed") -> list[WorkloadView]:
        return [
            WorkloadView(
                key=p.key,
                kind=p.kind,
                role=p.role,
                node_id=self.ctx.placed[p.role].node_id,
                grid_pool_id=self.ctx.placed[p.role].grid_pool_id,
                grid_id=self.deployed[p.key].grid_id,
                state=state,
                fields=p.fields,
                data=self.deployed[p.key].data,
                gateway=self.ctx.placed[p.role].gateway,
            )
            for p in self.plans.values()
        ]


def run(planner: Planner, spec: Spec, ctx: PlanContext | None = None) -> Run:
    """Build stage 0, 1, … until ``None``, 'deploying' each stage (grid ids from 1001) before building the next."""
    ctx = ctx or context(planner, spec)
    deployed: dict[str, Deployed] = {}
    stages: list[list[WorkloadPlan]] = []
    contexts: list[PlanContext] = []
    for stage in range(20):
        stage_ctx = replace(ctx, deployed=dict(deployed))
        plans = planner.build(spec, stage_ctx, stage)
        if plans is None:
            return Run(ctx, stages, deployed, contexts)
        stages.append(plans)
        contexts.append(stage_ctx)
        for plan in plans:
            placed = ctx.placed[plan.role]
            grid_id = 1001 + len(deployed)
            deployed[plan.key] = Deployed(plan.key, grid_id, placed.node_id, result_data(plan, placed))
    raise AssertionError("build never returned None")


def sealed_values(value: Any) -> list[Sealed | SealedTemplate]:
    """Every sealed value anywhere inside ``value``."""
    if isinstance(value, Sealed | SealedTemplate):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in sealed_values(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in sealed_values(v)]
    return []


def assert_tunnelled_layout(result: Run, fqdn: str, local: str = "80", local_tls: str = "443",
                            colocated: bool = True) -> dict[str, Any]:  # fmt: skip
    """The four workloads every app behind a gateway tunnel (Gitea, Gollum, 3Bot) plans, checked once here so the
    three planners cannot drift: the order, the gateway workloads on the gateway and paid by the gateway pool, the
    app and its tunnel client on nodes of the user's pool with their own IPs (one node where ``colocated``: Gollum
    and 3Bot; Gitea's tunnel client has a placement of its own), the tunnel to the app's ports, the
    name and the tunnel secret. Returns the container's fields for the app's own checks."""
    kinds = [[(p.key, p.kind) for p in stage] for stage in result.stages]
    assert kinds == [[("subdomain", Kind.SUBDOMAIN)], [("container", Kind.CONTAINER)],
                     [("reverse_proxy", Kind.REVERSE_PROXY)], [("tcprouter", Kind.CONTAINER)]]  # fmt: skip
    placed = result.ctx.placed
    pools = {p.key: placed[p.role].grid_pool_id for p in result.plans.values()}
    nodes = {p.key: placed[p.role].node_id for p in result.plans.values()}
    # Gateway workloads on the gateway, paid by the gateway pool (the original used the app pool).
    assert pools["subdomain"] == pools["reverse_proxy"] == GATEWAY_POOL
    assert nodes["subdomain"] == nodes["reverse_proxy"] == GATEWAY_ID
    assert GATEWAY_POOL not in (pools["container"], pools["tcprouter"])
    assert GATEWAY_ID not in (nodes["container"], nodes["tcprouter"])
    if colocated:
        assert nodes["tcprouter"] == nodes["container"]
    tcprouter = result.plans["tcprouter"].fields
    app_ip = placed["container"].ip
    assert tcprouter["entrypoint"] == f"/bin/trc -local {app_ip}:{local} -local-tls {app_ip}:{local_tls} " \
                                      "-remote ns1.gw1.grid.example:18000"  # fmt: skip
    assert tcprouter["network_connection"][0]["ipaddress"] == placed["tcprouter"].ip != app_ip
    assert result.plans["subdomain"].fields == {"domain": fqdn, "ips": ["185.69.250.2"]}
    assert result.plans["reverse_proxy"].fields["secret"] == gateway.tunnel_secret(MARKETPLACE)
    return dict(result.plans["container"].fields)
