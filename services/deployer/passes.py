"""One pass over one solution: what it loaded, and the failure any of its steps may end in.

Shared by the lifecycle's steps (``lifecycle.py``) and the network stage (``network_stage.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.deployer import teardown
from services.deployer.context import Deployer, Moved
from services.deployer.grid.kinds import Kind

SOLUTION_LOCK = 0x736F6C  # advisory lock namespace "sol": at most one pass per solution (lifecycle.advance)


@dataclass
class Pass:
    """One pass over one solution: what it loaded, and the rows it recorded itself (sent without a lookup)."""

    dep: Deployer
    sol: dict[str, Any]
    rows: list[dict[str, Any]]
    fresh: set[int] = field(default_factory=set)
    resent: bool = False  # a network version was re-sent by this pass (at most once per pass)

    @property
    def id(self) -> str:
        return str(self.sol["id"])

    def workloads(self, stage: int | None = None) -> list[dict[str, Any]]:
        """The solution's own workloads (network resources aside), of ``stage`` when given."""
        return [w for w in self.rows if w["kind"] != Kind.NETWORK_RESOURCE.value
                and (stage is None or w["stage"] == stage)]  # fmt: skip


def teardown_seconds(dep: Deployer) -> int:
    """How long a rollback may take: one workload deadline and a minute."""
    return dep.settings.workload_deadline + 60


def fail(p: Pass, reason: str) -> str:
    """The deployment fails (compare-and-set from the loaded status); the next step rolls it back."""
    with p.dep.db.transaction() as cur:
        if not teardown.fail(cur, p.sol, reason, teardown_seconds=teardown_seconds(p.dep)):
            raise Moved(p.id)
    return "progress"
