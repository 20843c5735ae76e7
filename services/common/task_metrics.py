"""Celery's metrics: tasks by name and outcome, their duration and retries (from Celery's signals, in the
forked pool processes), and the depth of each queue (read from Redis when scraped).

The depth is served by the service's web process (``deploy/gunicorn_metrics.py``), not by its worker: it must go on
rising while every worker of the queue is stopped, which is exactly when "add deployer workers" is the answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun, task_retry
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

TASKS = Counter(
    "marketplace_celery_tasks",
    "Celery tasks run, by task name and outcome (success, failure, retry…)",
    ["task", "outcome"],
)
DURATION = Histogram(
    "marketplace_celery_task_duration_seconds",
    "Time a task ran in its worker, by task name",
    ["task"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
RETRIES = Counter(
    "marketplace_celery_task_retries", "Retries a task asked for (backoff on a transient error)", ["task"]
)

_started: dict[str, float] = {}


def install() -> None:
    """Connect the signal handlers (once per worker; they run in the pool's processes)."""
    task_prerun.connect(_prerun, weak=False)
    task_postrun.connect(_postrun, weak=False)
    task_retry.connect(_retry, weak=False)


def _prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.monotonic()


def _postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = str(getattr(task, "name", "unknown"))
    TASKS.labels(name, (state or "unknown").lower()).inc()
    started = _started.pop(task_id or "", None)
    if started is not None:
        DURATION.labels(name).observe(time.monotonic() - started)


def _retry(request: Any = None, **_: Any) -> None:
    RETRIES.labels(str(getattr(request, "task", None) or "unknown")).inc()


class QueueDepth(Collector):
    """``marketplace_celery_queue_depth{queue}``: the messages waiting in each queue (its Redis list), at scrape
    time. A Redis that does not answer leaves the sample out (the scrape still answers)."""

    def __init__(self, redis_url: str, queues: tuple[str, ...]) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "marketplace_celery_queue_depth", "Messages waiting in a Celery queue, not yet taken", labels=["queue"]
        )
        for queue in self.queues:
            try:
                family.add_metric([queue], float(self.client.llen(queue)))
            except redis.RedisError:
                continue
        yield family
