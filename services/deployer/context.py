"""What the deployer's work needs at hand: the database, the grid, the marketplace identity, settings, Celery."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError as BrokerError
from redis import Redis
from redis.exceptions import RedisError

from services.common import contracts
from services.common.db import Database
from services.common.identity import Identity
from services.common.settings import Settings
from services.common.tasks import send
from services.deployer.grid.client import GridClient

POOL_VERDICT_TTL = 10  # seconds a positive capacity verdict is reused


class Transient(Exception):
    """Something we depend on is unavailable right now: try again later (the solution keeps its state)."""


class PlanningFailed(Exception):
    """The solution cannot be deployed as asked; the message is what the user reads."""


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

    def check_pool(self, owner: str, pool_id: int, cru: float, mru: float, sru: float, hru: float,
                   ) -> contracts.CapacityVerdict:  # fmt: skip
        """Ask the pools service whether ``pool_id`` is the owner's, active, and has the CU/SU for these resources
        for ``MIN_POOL_RUNTIME`` (nodes are fitted by our own node index).

        Raises:
            Transient: the pools service did not answer within the query timeout.
        """
        cache_key = f"deployer:pool-verdict:{owner}:{pool_id}:{cru}:{mru}:{sru}:{hru}"
        try:
            cached = self.redis.get(cache_key)
        except RedisError:
            cached = None  # the cache is an optimisation; the question itself is still asked
        if cached is not None:
            return contracts.CapacityVerdict.model_validate_json(cached)
        query = contracts.CheckCapacity(owner=owner, pool_id=pool_id, cru=cru, mru=mru, sru=sru, hru=hru,
                                        seconds=self.settings.min_pool_runtime, nodes=False)  # fmt: skip
        try:
            # A bounded wait on another service's queue (never our own, so it cannot deadlock on our workers).
            answer: Any = send(self.celery, contracts.POOLS_CHECK_CAPACITY, query).get(
                timeout=self.settings.query_timeout, disable_sync_subtasks=False
            )
        except (CeleryTimeout, BrokerError, OSError) as exc:
            raise Transient(f"the pools service did not answer ({type(exc).__name__})") from None
        verdict = contracts.CapacityVerdict.model_validate(answer)
        if verdict.transient:
            raise Transient(verdict.reason)  # e.g. the explorer failed a moment: planning retries, it does not fail
        if verdict.ok:
            # A burst of deployments into one pool asks once: ownership and state do not change in seconds, and
            # a pool's remaining capacity moves slowly (each check looks at one deployment anyway).
            with contextlib.suppress(RedisError):
                self.redis.set(cache_key, verdict.model_dump_json(), ex=POOL_VERDICT_TTL)
        return verdict

    def wake(self, solution_id: str, token: str | None = None, countdown: float | None = None) -> None:
        """Send ``deployer.advance_solution`` (after ``countdown`` seconds)."""
        payload = contracts.AdvanceSolution(solution_id=solution_id, wake_token=token)
        # Nobody waits for its result: do not subscribe to it (a result subscription per message is costly).
        send(self.celery, contracts.DEPLOYER_ADVANCE, payload, countdown=countdown, ignore_result=True)
