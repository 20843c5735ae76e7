"""The auth service's metrics (README "Operating"): sign-ins by outcome — ``ok`` or the reason it was refused —
counted by the web processes, and the sessions alive now, read from Redis when scraped."""

from __future__ import annotations

import re
from collections.abc import Iterator

import redis
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.auth.sessions import count_sessions
from services.common.metrics import enabled
from services.common.settings import Settings

LOGINS = Counter(
    "marketplace_auth_logins",
    "Sign-in callbacks by outcome: ok, cancelled, expired_attempt, rate_limited, upstream_failure, or"
    " rejected:<reason> (the refusal the person read)",
    ["outcome"],
)
ATTEMPTS = Counter("marketplace_auth_login_attempts", "Sign-ins started (sent off to 3Bot Connect)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def rejected(reason: str) -> str:
    """The outcome label of a refusal: ``rejected:`` and its sentence as a word (the sentences are fixed)."""
    words = _NOT_WORD.sub("_", reason.lower()).strip("_")
    return f"rejected:{words.removeprefix('the_').removeprefix('your_')}"


def login(outcome: str) -> None:
    """One sign-in callback ended with ``outcome``."""
    if enabled():
        LOGINS.labels(outcome).inc()


def attempt() -> None:
    """A sign-in was started: the browser is sent to 3Bot Connect."""
    if enabled():
        ATTEMPTS.inc()


class ActiveSessions(Collector):
    """``marketplace_auth_active_sessions``: sessions alive in Redis at each scrape (no sample when Redis does not
    answer)."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def collect(self) -> Iterator[Metric]:
        try:
            alive = count_sessions(self.client)
        except redis.RedisError:
            return
        yield GaugeMetricFamily("marketplace_auth_active_sessions", "Sessions alive now", value=float(alive))


def collectors(settings: Settings) -> list[Collector]:
    """What auth's web process serves besides the samples of its workers."""
    return [ActiveSessions(settings.redis_url)]
