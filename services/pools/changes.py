"""Telling the wizards at once that a user's pools changed (item: a pool paid seconds ago must be offered at once).

The chatflow caches the pools service's answers for a few seconds and puts the owner's *pools version* in the
cache keys (services/chatflow/queries.py); bumping the version after a pool's state or capacity changed makes
every cached answer about that owner's pools unreachable at once — invalidation on change, not on a timer.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from redis import Redis
from redis.exceptions import RedisError

from services.common.contracts import pools_version_key

log = structlog.get_logger(__name__)
Notify = Callable[[str], None]  # told the owner whose pools changed state, once committed


def notifier(redis: Redis) -> Notify:
    """``notify(owner)``: call it after the change is committed (a reader told earlier could cache the old state)."""

    def notify(owner: str) -> None:
        try:
            redis.incr(pools_version_key(owner))
        except RedisError as exc:  # the cached answers then expire on their own within seconds
            log.warning("could not tell the wizards that pools changed", owner=owner, error=str(exc))

    return notify
