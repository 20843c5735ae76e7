"""The deployer's metrics (README "Operating"): solutions by state and the stuck ones (read from PostgreSQL when
scraped, by the deployer's web process), time from submission to deployed by solution type, rollbacks by reason
class and the poller's tick duration (observed in the worker's pool processes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.common.db import after_commit
from services.common.metrics import enabled, read_database
from services.common.settings import Settings
from services.deployer import states, store

SUBMIT_TO_DEPLOYED = Histogram(
    "marketplace_deployer_submit_to_deployed_seconds",
    "Time from a solution's submission to its deployed state, by solution type",
    ["type"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
ROLLBACKS = Counter(
    "marketplace_deployer_rollbacks",
    "Deployments failed and rolled back, by reason class (deadline, grid, removed, capacity, dependency, error, other)",
    ["reason"],
)
POLL_TICK = Histogram(
    "marketplace_deployer_poll_tick_duration_seconds",
    "Time one tick of the grid poller took (its listing of the grid included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# The reasons a deployment fails are sentences for its owner (lifecycle, network_stage, reconcile); their class
# is the first of these phrases found in the sentence.
_REASON_CLASSES = (
    ("not ready within", "deadline"),
    ("in time", "deadline"),
    ("deadline", "deadline"),
    ("could not go on", "dependency"),
    ("unexpected error", "error"),
    ("removed", "removed"),
    ("no node", "capacity"),
    ("refused", "grid"),
    ("grid", "grid"),
    ("node", "grid"),
)


def reason_class(reason: str) -> str:
    """The class of a failure's reason (a bounded label for its sentence)."""
    text = reason.lower()
    return next((label for phrase, label in _REASON_CLASSES if phrase in text), "other")


def deployed(sol: dict[str, Any]) -> None:
    """A solution reached ``deployed`` in the current transaction: once it commits, observe the time since its
    submission."""
    created, kind = sol.get("created_at"), str(sol.get("type", "unknown"))
    if enabled() and isinstance(created, datetime):
        seconds = max(0.0, (datetime.now(UTC) - created).total_seconds())
        after_commit(lambda: SUBMIT_TO_DEPLOYED.labels(kind).observe(seconds))


def failed(reason: str) -> None:
    """A deployment failed in the current transaction (it is rolled back from here): count it once committed."""
    if enabled():
        label = reason_class(reason)
        after_commit(lambda: ROLLBACKS.labels(label).inc())


def tick(seconds: float) -> None:
    """One tick of the grid poller took ``seconds``."""
    if enabled():
        POLL_TICK.observe(seconds)


class SolutionStates(Collector):
    """``marketplace_deployer_solutions{state}`` (every state, 0 included) and
    ``marketplace_deployer_stuck_solutions``, read from PostgreSQL at each scrape."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[Metric]:
        found = read_database(self.database_url, lambda cur: (store.count_by_status(cur), store.count_stuck(cur)))
        if found is None:
            return  # no PostgreSQL: no sample rather than a false 0 (the readiness probe says why)
        by_status, stuck = found
        family = GaugeMetricFamily("marketplace_deployer_solutions", "Solutions in each state", labels=["state"])
        for state in states.SOLUTION_STATES:
            family.add_metric([state], float(by_status.get(state, 0)))
        yield family
        yield GaugeMetricFamily(
            "marketplace_deployer_stuck_solutions",
            "Solutions on their way up or down past their deadline or their sent workloads' (must be 0)",
            value=float(stuck),
        )


def collectors(settings: Settings) -> list[Collector]:
    """What the deployer's web process serves besides the samples of its workers."""
    return [SolutionStates(settings.database_url)]
