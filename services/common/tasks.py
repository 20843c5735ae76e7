"""The Celery factory and the one task wrapper every service uses.

Conventions (STYLE §3, DESIGN "How services talk"): JSON only; one queue per service; ``acks_late`` with
``reject_on_worker_lost`` so a task whose worker died is redelivered; a hard and soft time limit on every task;
retry with exponential backoff and jitter on the errors a task declares transient; ``prefetch_multiplier=1`` so
a slow task never holds others hostage. Tasks are sent by name (``send_task``) to the target service's queue.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from pydantic import BaseModel, ValidationError

from services.common import contracts
from services.common.settings import Settings

log = structlog.get_logger(__name__)

P = TypeVar("P", bound=BaseModel)

_ALLOWED_OPTIONS = frozenset({"time_limit", "retry_on", "max_retries", "retry_backoff_max"})


def make_celery(settings: Settings, service: str | None = None) -> Celery:
    """A Celery app for ``service`` (a worker consuming its queue) or, with ``service=None``, a producer only.

    Any process may *send* tasks of any service by name; only a service's own worker registers its tasks.
    """
    app = Celery(f"marketplace.{service or 'client'}", set_as_current=False)
    app.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=service or "default",
        # Messages for "<service>.*" always land on that service's queue, whoever sends them.
        task_routes=(_route_by_prefix,),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 10),
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # Unacked messages come back after this; every countdown must stay well below it (Celery guide).
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout},
        result_backend_transport_options={"socket_timeout": 5, "socket_connect_timeout": 5},
        redis_socket_timeout=5,
        redis_socket_connect_timeout=5,
        enable_utc=True,
    )
    return app


def close_celery(app: Celery) -> None:
    """Close the broker pool and the result backend's Redis connections (pub/sub included)."""
    # Only if it was ever used (reading `app.backend` would create one). Celery keeps it per thread unless
    # the backend is thread-safe; this closes the calling thread's.
    backend = app._backend_cache or getattr(app._local, "backend", None)  # type: ignore[attr-defined]
    if backend is not None:
        consumer = getattr(backend, "result_consumer", None)
        pubsub = getattr(consumer, "_pubsub", None)
        if pubsub is not None:
            pubsub.close()
        client = getattr(backend, "client", None)
        if client is not None:
            client.connection_pool.disconnect()
    app.close()


def _route_by_prefix(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    try:
        return {"queue": contracts.queue_of(name)}
    except ValueError:
        return None


def define_task(
    app: Celery,
    name: str,
    payload: type[P],
    **options: Any,
) -> Callable[[Callable[[P], Any]], Task[Any, Any]]:
    """Register ``fn(payload_model) -> json`` as the task ``name`` on ``app``.

    The message body is ``{"payload": {...}}``; it is validated against ``payload`` before the function runs (an
    invalid message is logged and dropped: retrying cannot fix it). Options: ``time_limit`` (seconds),
    ``retry_on`` (tuple of exception types that are transient), ``max_retries`` (default 5),
    ``retry_backoff_max`` (seconds, default 300).

    Raises:
        TypeError: an unknown option (a typo must not silently become a default).
        ValueError: the name does not have the ``<service>.<verb_noun>`` form.
    """
    unknown = set(options) - _ALLOWED_OPTIONS
    if unknown:
        raise TypeError(f"unknown task option(s): {', '.join(sorted(unknown))}")
    contracts.queue_of(name)
    time_limit = options.get("time_limit")
    celery_options: dict[str, Any] = {
        "name": name,
        "bind": True,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": tuple(options.get("retry_on", ())),
        "max_retries": options.get("max_retries", 5),
        "retry_backoff": True,
        "retry_backoff_max": options.get("retry_backoff_max", 300),
        "retry_jitter": True,
    }
    if time_limit is not None:
        celery_options["time_limit"] = time_limit
        celery_options["soft_time_limit"] = max(1, time_limit - 5)

    def decorate(fn: Callable[[P], Any]) -> Task[Any, Any]:
        def run(self: Task[Any, Any], payload_json: dict[str, Any] | None = None) -> Any:
            try:
                model = payload.model_validate(payload_json or {})
            except ValidationError as exc:  # retrying cannot fix a malformed message
                log.error("invalid task payload dropped", error=str(exc).splitlines()[0])
                return None
            result = fn(model)
            return result.model_dump(mode="json") if isinstance(result, BaseModel) else result

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        return app.task(**celery_options)(run)  # type: ignore[no-any-return]

    return decorate


def send(app: Celery, name: str, payload: BaseModel, **options: Any) -> Any:
    """Send task ``name`` with ``payload`` to its service's queue; returns the AsyncResult.

    Call it from :func:`services.common.db.after_commit` when the task reads a row you just wrote.
    """
    return app.send_task(
        name,
        kwargs={"payload_json": payload.model_dump(mode="json")},
        queue=contracts.queue_of(name),
        **options,
    )


def register_ping(app: Celery, service: str) -> None:
    """The ``<service>.ping`` task every worker answers."""

    @define_task(app, f"{service}.ping", contracts.Ping, time_limit=10)
    def ping(payload: contracts.Ping) -> contracts.Pong:
        return contracts.Pong(service=service, echo=payload.echo, worker=socket.gethostname())


def bind_task_logging() -> None:
    """Put ``task_id`` and ``task_name`` on every log line a task writes."""

    @task_prerun.connect(weak=False)
    def _bind(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task_id=task_id, task_name=getattr(task, "name", None))

    @task_postrun.connect(weak=False)
    def _unbind(**_: Any) -> None:
        structlog.contextvars.clear_contextvars()
