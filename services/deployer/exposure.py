"""The rules of Solution Expose and Domain Delegation that need our tables (SOLUTIONS §3.9, §3.10, §6.3).

* What can be exposed: the owner's deployed solutions of a type, each with the address the tunnel client forwards
  to, its network and its pool (the Kubernetes master's, MinIO's primary's, else the container's).
* At submit: an exposure names a live target of its owner (the one the wizard offered, unchanged since) and, on a
  delegated domain, a delegation of its owner on the same gateway. The delegation row is share-locked in the
  submit's transaction, so a concurrent cancel of it either waits and then sees the exposure, or ran first and the
  exposure is refused.
* At cancel: a delegation still carrying a live exposed solution is refused (409, naming them).

Which solutions are targets, exposers and delegations is declared by their planners (``solutions/expose_use.py``).
"""

from __future__ import annotations

from typing import Any

from services.common import contracts, gateway_contracts
from services.deployer import exposure_store, pool_capacity, store
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.expose_use import expose_hooks

# The types of the exposers and of the delegations (SOLUTIONS §3.9, §3.10), as their planners declare them.
EXPOSERS = [t for t, planner in PLANNERS.items() if expose_hooks(planner).publishes_a_target]
DELEGATIONS = [t for t, planner in PLANNERS.items() if expose_hooks(planner).delegates_domain]


def target(cur: Any, sol: dict[str, Any]) -> gateway_contracts.ExposeTarget | None:
    """The exposable address of a deployed solution, or None (not an exposable type, or not placed)."""
    role = expose_hooks(PLANNERS.get(sol["type"])).exposed_role  # where the port lives (§3.9 "Target IP and pool")
    placed = (sol["placed"] or {}).get(role or "") if role else None
    network = (sol["spec"] or {}).get("network")
    if not placed or not placed.get("ip") or not isinstance(network, str):
        return None
    grid_pool_id = int(placed["grid_pool_id"])
    pool_id = next((p for p, g in pool_capacity.verified(cur, str(sol["id"])).items() if g == grid_pool_id), None)
    if pool_id is None:
        return None
    return gateway_contracts.ExposeTarget(solution_id=str(sol["id"]), name=sol["name"], ip=placed["ip"],
                                          network=network, grid_pool_id=grid_pool_id, pool_id=pool_id)  # fmt: skip


def targets(cur: Any, owner: str, type: str) -> list[gateway_contracts.ExposeTarget]:
    """The owner's deployed solutions of ``type`` that Solution Expose can publish."""
    found = (target(cur, sol) for sol in store.solutions_of(cur, owner, type) if sol["status"] == "deployed")
    return [t for t in found if t is not None]


def delegated_domains(cur: Any, owner: str) -> list[gateway_contracts.DelegatedDomain]:
    return [gateway_contracts.DelegatedDomain(domain=d["name"], gateway_id=d["spec"]["gateway"]["node_id"],
                                              pool_id=d["spec"]["gateway"]["pool_id"])
            for d in exposure_store.delegations(cur, owner, DELEGATIONS)]  # fmt: skip


def submit_problem(cur: Any, owner: str, type: str, spec: Any) -> contracts.SubmitError | None:
    """Why this submission cannot be accepted as it stands in our tables (None: it can), checked in the submit's
    transaction."""
    if not expose_hooks(PLANNERS.get(type)).publishes_a_target:
        return None
    sol = store.solution(cur, spec.solution_id, owner=owner)
    found = target(cur, sol) if sol is not None and sol["status"] == "deployed" else None
    if sol is None or sol["type"] != spec.solution_type or found is None:
        return contracts.SubmitError(field="solution_id", description=f"you have no deployed {spec.solution_type} "
                                     "with this id")  # fmt: skip
    wanted = spec.target
    if (found.ip, found.network, found.pool_id) != (wanted.ip, wanted.network, wanted.pool_id):
        return contracts.SubmitError(field="target", description=f"{sol['name']} is no longer at {wanted.ip} in "
                                     f"network {wanted.network}; start again")  # fmt: skip
    if spec.domain_type == "delegated":
        held = exposure_store.delegations(cur, owner, DELEGATIONS, spec.parent, share_lock=True)
        if not any(d["spec"]["gateway"]["node_id"] == spec.gateway.node_id for d in held):
            return contracts.SubmitError(field="parent", description=f"you have no domain {spec.parent} delegated "
                                         f"to gateway {spec.gateway.node_id}")  # fmt: skip
    return None


class SolutionExposure:
    """:class:`~services.deployer.solutions.expose_use.ExposeOps` for the owner of the solution being cancelled."""

    def __init__(self, cur: Any, owner: str) -> None:
        self.cur = cur
        self.owner = owner

    def exposed_under(self, domain: str) -> list[str]:
        return [u["name"] for u in exposure_store.exposed_under(self.cur, self.owner, EXPOSERS, domain)]


def cancel_conflict(cur: Any, sol: dict[str, Any]) -> str | None:
    """Why cancelling ``sol`` must wait (a delegation that live exposed solutions stand on), or None."""
    return expose_hooks(PLANNERS.get(sol["type"])).cancel_refusal(sol["name"], SolutionExposure(cur, sol["owner"]))
