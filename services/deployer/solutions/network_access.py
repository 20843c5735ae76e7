"""Network "Add Access" (SOLUTIONS §3.2): another laptop (or phone) joins an existing network over WireGuard.

The access point gets the next free /24 of the network on an access node with a public address of the chosen
family (added to the network first if needed); every node's network resource is rewritten (GRID_API §11). Like the
network itself, all of its work is stage -1, declared through its network hooks (:mod:`.network_use`): the
deployer's network code records the new network-resource versions under the network's solution, and the WireGuard
config is handed to the user once. Its teardown takes the peer out again (every resource rewritten without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from services.common.capacity import Resources
from services.deployer.solutions.base import Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.fields import NetworkName, PoolId
from services.deployer.solutions.network_use import LaptopAccess, NetworkOps, NetworkUse


class NetworkAccessSpec(Spec):
    """``name`` labels the access point ("laptop", "phone"); ``network`` is the short name of the network."""

    network: NetworkName
    pool_ids: tuple[PoolId, ...] = Field(min_length=1, max_length=64)
    ipv6: bool = False


class NetworkAccess(LaptopAccess):
    spec_model: ClassVar[type[Spec]] = NetworkAccessSpec
    type: ClassVar[str] = "network_access"
    use: ClassVar[NetworkUse | None] = NetworkUse.ACCESS

    def placements(self, spec: NetworkAccessSpec) -> list[Placement]:
        first, *rest = spec.pool_ids
        return [Placement("access", first, Resources(), network=False, public_ipv4=not spec.ipv6,
                          public_ipv6=spec.ipv6, alternatives=tuple(rest))]  # fmt: skip

    def network_of(self, spec: NetworkAccessSpec) -> str | None:
        return spec.network

    def build(self, spec: NetworkAccessSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        return None  # stage -1 (the rewritten network resources) was all of it

    def open_network(self, spec: NetworkAccessSpec, short: str | None, placements: Sequence[Placement],
                     ops: NetworkOps) -> None:  # fmt: skip
        ops.enter(spec.network)  # an access point always needs its network, though no placement gets an IP

    def leave_network(self, ops: NetworkOps) -> None:
        ops.revoke_laptop()

    def listing(self, spec: NetworkAccessSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Name": spec.name, "wids": [], "Network": spec.network}

    def outputs(self, spec: NetworkAccessSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {"Network": spec.network, "Connection": "IPv6" if spec.ipv6 else "IPv4"}


PLANNER = NetworkAccess()
