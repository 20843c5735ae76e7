"""gunicorn's hooks for metrics (``-c python:deploy.gunicorn_metrics``, set by ``deploy/role.py``).

The master serves, on ``METRICS_PORT``, the samples its workers write under ``PROMETHEUS_MULTIPROC_DIR`` and the
service's scrape-time collectors: the depth of its Celery queue and what ``services/<service>/metrics.py`` reads
from the database or Redis (solutions by state, reservations awaiting payment, sessions alive). A worker that exits
takes its live gauges with it.
"""

from __future__ import annotations

import importlib
from typing import Any

from prometheus_client.registry import Collector

from services.common import metrics
from services.common.settings import Settings, load_or_exit
from services.common.task_metrics import QueueDepth

# The services with a Celery queue of their own (deploy/role.py's WORKERS).
QUEUES = ("chatflow", "deployer", "pools", "backup")


def collectors(service: str, settings: Settings) -> list[Collector]:
    """The scrape-time collectors of ``service``'s web process."""
    found: list[Collector] = [QueueDepth(settings.redis_url, (service,))] if service in QUEUES else []
    try:
        module = importlib.import_module(f"services.{service}.metrics")
    except ModuleNotFoundError:
        return found
    return [*found, *module.collectors(settings)]


def when_ready(server: Any) -> None:
    settings = load_or_exit()
    if settings.metrics and settings.metrics_port is not None:
        # proc_name is "marketplace-<service>-web" (deploy/role.py).
        service = str(server.cfg.proc_name).removeprefix("marketplace-").removesuffix("-web")
        metrics.serve(settings.metrics_port, settings.bind_host, collectors(service, settings))


def child_exit(server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid)
