"""Celery worker bootstrap shared by the deployer, pools and backup workers.

``celery -A services.<name>.worker worker -Q <name>`` imports the service's ``worker`` module and reads its
``app`` attribute. The module builds the app on first access (PEP 562 ``__getattr__``), not at import, so that
settings are parsed once, at process start, and tests can build workers with their own settings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import structlog
from celery import Celery
from celery.signals import worker_init, worker_process_shutdown, worker_ready

from services.common import metrics, task_metrics
from services.common.identity import load_identity
from services.common.log import configure_logging
from services.common.production import check_start_or_exit
from services.common.settings import Settings, load_or_exit
from services.common.tasks import bind_task_logging, make_celery, register_ping

log = structlog.get_logger(__name__)


def create_worker(
    service: str,
    settings: Settings | None = None,
    *,
    register: Callable[[Celery, Settings], None] | None = None,
    needs_grid_identity: bool = False,
) -> Celery:
    """A Celery app consuming ``service``'s queue, with its ping task and ``register``'s tasks.

    With ``needs_grid_identity`` the worker makes sure, once ready, that the marketplace identity is in the
    explorer phonebook (it signs explorer requests).
    """
    settings = settings or load_or_exit()
    check_start_or_exit(settings, f"{service}-worker")
    configure_logging(json=settings.app_env == "production", level=settings.log_level)
    app = make_celery(settings, service)
    register_ping(app, service)
    if register is not None:
        register(app, settings)
    bind_task_logging()
    metrics.switch(settings.metrics)
    if settings.metrics:
        _serve_metrics(service, settings)
    if needs_grid_identity:

        def _register_identity() -> None:
            from services.common.grid_identity import ensure_registered_with_retry

            identity = load_identity(settings.identity_seed_file, create=settings.is_dev)
            tid = ensure_registered_with_retry(settings, identity)
            log.info("grid identity", name=settings.identity_name, tid=tid)

        @worker_ready.connect(weak=False)
        def _on_ready(**_: Any) -> None:
            # In a thread: the explorer may start after us, and retrying must not hold up consuming tasks.
            threading.Thread(target=_register_identity, name="grid-identity", daemon=True).start()

    return app


def _serve_metrics(service: str, settings: Settings) -> None:
    """Instrument the tasks; the main process serves the pool's samples on METRICS_PORT (when set), and a pool
    process that ends takes its live gauges with it."""
    task_metrics.install()
    port = settings.metrics_port
    if port is not None:

        @worker_init.connect(weak=False)
        def _on_init(**_: Any) -> None:  # the main process, before the pool forks
            metrics.serve(port, settings.bind_host)

    @worker_process_shutdown.connect(weak=False)
    def _on_exit(pid: int | None = None, **_: Any) -> None:
        metrics.mark_process_dead(pid or os.getpid())


def lazy_app(service: str, **kwargs: Any) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds the worker app the first time ``app``/``celery`` is read."""
    built: list[Celery] = []

    def module_getattr(name: str) -> Any:
        if name not in ("app", "celery"):
            raise AttributeError(name)
        if not built:
            built.append(create_worker(service, **kwargs))
        return built[0]

    return module_getattr
