"""What happens after a pass: when the solution is looked at next (the seam between a pass and its scheduling)."""

from __future__ import annotations

import uuid

from services.deployer import store
from services.deployer.context import Deployer


def after_pass(dep: Deployer, solution_id: str, outcome: str) -> None:
    """Schedule the next pass: at once after progress, after the poll interval while waiting, never when done."""
    if outcome not in ("waiting", "progress"):
        return
    token = uuid.uuid4()
    with dep.db.transaction() as cur:
        store.update_solution(cur, solution_id, wake_token=str(token))
    dep.wake(solution_id, str(token), countdown=dep.settings.deploy_poll_interval if outcome == "waiting" else 0)
