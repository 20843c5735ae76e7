"""What the deployer's work needs at hand: the database, the grid, the marketplace identity, settings, Celery."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from redis import Redis

from services.common import contracts
from services.common.db import Database
from services.common.identity import Identity
from services.common.settings import Settings
from services.common.tasks import send
from services.deployer.grid.client import GridClient


class Transient(Exception):
    """Something we depend on is unavailable right now: try again later (the solution keeps its state)."""


class PlanningFailed(Exception):
    """The solution cannot be deployed as asked; the message is what the user reads."""


class Moved(Exception):
    """A compare-and-set found the solution no longer in the state the pass loaded (a cancel, the reconciler):
    the pass stops what it was doing and the next one starts from a fresh load."""


@dataclass
class Deployer:
    db: Database
    grid: GridClient
    identity: Identity
    settings: Settings
    celery: Celery
    redis: Redis

    @property
    def tid(self) -> int:
        return self.grid.tid

    def wake(self, solution_id: str, token: str | None = None, countdown: float | None = None) -> None:
        """Send ``deployer.advance_solution`` (after ``countdown`` seconds)."""
        payload = contracts.AdvanceSolution(solution_id=solution_id, wake_token=token)
        # Nobody waits for its result: do not subscribe to it (a result subscription per message is costly).
        send(self.celery, contracts.DEPLOYER_ADVANCE, payload, countdown=countdown, ignore_result=True)
