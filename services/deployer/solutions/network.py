"""Network (SOLUTIONS §3.2): a WireGuard overlay; an access node, the network's resources, the laptop's access.

All of its work is stage -1, declared through its network hooks (:mod:`.network_use`): planning creates the
network, attaches the access node and adds the laptop's peer; the deployer's network code records the network
resources (GRID_API §11) under this solution and the network stage deploys them. ``build`` has nothing more.
Cancelling it is refused while other live solutions use the network; its teardown deletes the network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from services.common.capacity import Resources
from services.common.grid_rules import network_range_problem
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.fields import PoolId
from services.deployer.solutions.listing import LIVE_STATES, wids
from services.deployer.solutions.network_access import NetworkAccess
from services.deployer.solutions.network_use import LaptopAccess, NetworkOps, NetworkUse


def _private_16(value: str) -> str:
    problem = network_range_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return str(ipaddress.IPv4Network(value))


PrivateRange = Annotated[str, Field(max_length=18), AfterValidator(_private_16)]


class NetworkSpec(Spec):
    pool_ids: tuple[PoolId, ...] = Field(min_length=1, max_length=64)
    ipv6: bool = False
    ip_range: PrivateRange | None = None


ACCESS_POINTS = (NetworkAccess.type,)


class Network(LaptopAccess):
    spec_model: ClassVar[type[Spec]] = NetworkSpec
    type: ClassVar[str] = "network"
    use: ClassVar[NetworkUse | None] = NetworkUse.CREATES

    def placements(self, spec: NetworkSpec) -> list[Placement]:
        first, *rest = spec.pool_ids
        access = Placement(
            "access",
            first,
            Resources(),
            network=False,
            public_ipv4=not spec.ipv6,
            public_ipv6=spec.ipv6,
            alternatives=tuple(rest),
        )
        return [access]

    def network_of(self, spec: NetworkSpec) -> str | None:
        return spec.name

    def build(self, spec: NetworkSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        return None  # stage -1 (the network's resources) was all of it

    def open_network(self, spec: NetworkSpec, short: str | None, placements: Sequence[Placement],
                     ops: NetworkOps) -> None:  # fmt: skip
        ops.create(spec.name, spec.ip_range)

    def cancel_refusal(self, ops: NetworkOps) -> str | None:
        users = ops.other_users(ignoring=ACCESS_POINTS)  # they end with the network
        return f"the network is still used by: {', '.join(users)}; delete those first" if users else None

    def end_network(self, ops: NetworkOps) -> None:
        ops.delete(ending=ACCESS_POINTS)

    def listing(self, spec: NetworkSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Name": spec.name, "wids": wids(workloads), **_ranges(spec, workloads)}

    def outputs(self, spec: NetworkSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        # The WireGuard config carries a private key: the deployer hands it out once, never through outputs.
        return _ranges(spec, workloads)


def _ranges(spec: NetworkSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
    """``IP Range`` (the /16) and ``nodes`` (node id → its /24), from the newest live NR of each node."""
    nrs = [w for w in workloads if w.kind is Kind.NETWORK_RESOURCE and w.state in LIVE_STATES]
    # A rewrite (GRID_API §11) replaces every NR, so the highest grid id per node is current; a recorded NR not
    # sent yet (no grid id) is the newest of all.
    nrs.sort(key=lambda w: (w.grid_id is None, w.grid_id or 0))
    nodes = {w.node_id: w.fields.get("iprange", "") for w in nrs}
    ip_range = nrs[-1].fields.get("network_iprange", "") if nrs else spec.ip_range or ""
    return {"IP Range": ip_range, "nodes": nodes}


PLANNER = Network()
