"""One pass over one solution: what it loaded, and the failure any of its steps may end in.

Shared by the lifecycle's steps (``lifecycle.py``) and the network stage (``network_stage.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.deployer import networks, store, teardown
from services.deployer.context import Deployer, Moved
from services.deployer.grid.kinds import Kind
from services.deployer.grid.render import render
from services.deployer.solutions.base import Placed, WorkloadPlan

SOLUTION_LOCK = 0x736F6C  # advisory lock namespace "sol": at most one pass per solution (lifecycle.advance)


@dataclass
class Pass:
    """One pass over one solution: what it loaded, and the rows it recorded itself (sent without a lookup)."""

    dep: Deployer
    sol: dict[str, Any]
    rows: list[dict[str, Any]]
    fresh: set[int] = field(default_factory=set)
    resent: bool = False  # a network version was re-sent by this pass (at most once per pass)
    known: Any = None  # what the load read for planning (``planning.Known``), when the solution is to be planned

    @property
    def id(self) -> str:
        return str(self.sol["id"])

    def workloads(self, stage: int | None = None) -> list[dict[str, Any]]:
        """The solution's own workloads (network resources aside), of ``stage`` when given."""
        return [w for w in self.rows if w["kind"] != Kind.NETWORK_RESOURCE.value
                and (stage is None or w["stage"] == stage)]  # fmt: skip


def secrets_of(dep: Deployer, sol: dict[str, Any]) -> dict[str, str]:
    """The solution's secrets in plain text (for rendering).

    Raises:
        IdentityError: they cannot be decrypted (the pass fails the deployment with that reason).
    """
    return dep.identity.decrypt_secrets(sol["secrets"]) if sol["secrets"] else {}


def record(cur: Any, dep: Deployer, sol: dict[str, Any], placed: Mapping[str, Placed], plans: list[WorkloadPlan],
           stage: int, secrets: Mapping[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    """Record every workload of ``stage`` in the caller's transaction (rendered, signed, secrets sealed, marked
    attempted) before any is sent; returns the rows.

    A crash before the commit leaves nothing; after it, the rows are marked attempted, so a later pass looks each up
    on the grid before sending it (the POST may have happened). The pass that recorded them sends them at once
    without that lookup (``Pass.fresh``): it knows it has not sent them yet. The metadata names the row, so the
    row is inserted first and its body written once rendered.
    """
    rows = []
    for plan in plans:
        where = placed[plan.role]
        row_id = store.record_workload(cur, solution_id=str(sol["id"]), key=plan.key, kind=plan.kind.value,
                                       role=plan.role, stage=stage, node_id=where.node_id,
                                       pool_id=where.grid_pool_id, body={}, network_id=sol["network_id"])  # fmt: skip
        body = render(plan, where, tid=dep.tid, identity=dep.identity, metadata=networks.metadata(sol, row_id),
                      secrets=secrets, epoch=int(time.time()))  # fmt: skip
        rows.append(store.set_body(cur, row_id, body, attempted=True))
    return rows


def add_recorded(p: Pass, recorded: list[dict[str, Any]]) -> None:
    """The rows this pass recorded join what it loaded; it sends them without a lookup."""
    known = {w["id"] for w in p.rows}
    p.rows.extend(w for w in recorded if w["id"] not in known)
    p.fresh.update(w["id"] for w in recorded)


def teardown_seconds(dep: Deployer) -> int:
    """How long a rollback may take: one workload deadline and a minute."""
    return dep.settings.workload_deadline + 60


def fail(p: Pass, reason: str) -> str:
    """The deployment fails (compare-and-set from the loaded status); the next step rolls it back."""
    with p.dep.db.transaction() as cur:
        if not teardown.fail(cur, p.sol, reason, teardown_seconds=teardown_seconds(p.dep)):
            raise Moved(p.id)
    return "progress"
