"""What happens after a pass, and the wakes that must never be lost (DESIGN "Deployment lifecycle" 7).

A pass that waits for the grid schedules nothing: the poller (``poller.py``) lists our workloads once per tick and
wakes the solutions whose workloads changed, those past their deadline and those waiting on nothing it watches. A
pass that made progress and stopped (its step budget ran out, another writer moved the solution) asks for another
pass at once.

A wake can arrive while another pass holds the solution's lock; that pass may already have read the state the
wake is about. So a wake that finds the lock taken leaves a *wake request* behind (a Redis key) and answers
"busy"; the holder looks for a request after it releases the lock and runs again (``lifecycle.advance``). The
request is left before the lock is tried a second time, and taken after the lock is won and before the pass loads
anything: whatever the interleaving, a pass that loads after the wake's cause runs. If Redis loses a request, the
poller's idle sweep wakes the solution a few ticks later: a delay, never a stuck solution.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from services.deployer.context import Deployer

log = structlog.get_logger(__name__)
REQUEST_TTL = 3600  # seconds: a request nobody took (its holder died) is swept up by the poller long before


def _key(solution_id: str) -> str:
    return f"deployer:wake-request:{solution_id}"


def after_pass(dep: Deployer, solution_id: str, outcome: str) -> None:
    """Progress: another pass right after this one (the caller, ``advance``, still holds the lock). Waiting: the
    poller wakes it. Done, busy, stale, unknown: nothing."""
    if outcome == "progress":
        request(dep, solution_id)


def request(dep: Deployer, solution_id: str) -> None:
    """Leave a wake request for the pass holding the solution's lock (or the next one to take it)."""
    try:
        dep.redis.set(_key(solution_id), "1", ex=REQUEST_TTL)
    except RedisError as exc:
        log.warning("could not leave a wake request; sending a wake instead", solution=solution_id, reason=str(exc))
        dep.wake(solution_id, countdown=1)


def take(dep: Deployer, solution_id: str) -> bool:
    """Clear the solution's wake request (holding its lock, before the pass loads); True when there was one."""
    try:
        return bool(dep.redis.delete(_key(solution_id)))
    except RedisError:
        return False


def pending(dep: Deployer, solution_id: str) -> bool:
    """A wake request was left while the lock was held (look after releasing it)."""
    try:
        return bool(dep.redis.exists(_key(solution_id)))
    except RedisError:
        return False
