"""The single beat process: ``celery -A services.common.beat beat``.

Beat only *sends* tasks by name to each service's queue; it imports no service code. The schedule lists the
periodic jobs of every service (reconcilers, payment watch… added by the issues that build them) plus a ping of
each worker queue, whose answers show in the worker logs that every queue is being consumed.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from services.common import contracts
from services.common.log import configure_logging
from services.common.settings import Settings, load_or_exit
from services.common.tasks import make_celery

HEARTBEAT_SECONDS = 60.0


def schedule() -> dict[str, dict[str, Any]]:
    """The beat schedule: every entry names a task, its queue, and an expiry so backlogs do not pile up."""
    entries: dict[str, dict[str, Any]] = {}
    for name in contracts.PING_TASKS:
        entries[f"heartbeat {name}"] = {
            "task": name,
            "schedule": HEARTBEAT_SECONDS,
            "kwargs": {"payload_json": contracts.Ping(echo="beat").model_dump(mode="json")},
            "options": {"queue": contracts.queue_of(name), "expires": HEARTBEAT_SECONDS - 5},
        }
    return entries


def create_beat(settings: Settings | None = None) -> Celery:
    settings = settings or load_or_exit()
    configure_logging(json=settings.app_env == "production", level=settings.log_level)
    app = make_celery(settings)
    entries = schedule()
    # Payment watch (SOLUTIONS §7.4): driven here, never a loop in a web process.
    entries["pools watch payments"] = {
        "task": contracts.POOLS_WATCH_PAYMENTS,
        "schedule": settings.payment_watch_interval,
        "kwargs": {"payload_json": contracts.WatchPayments().model_dump(mode="json")},
        "options": {"queue": "pools", "expires": settings.payment_watch_interval},
    }
    # Deployer: the node index stays fresh without any request listing the grid; the poller wakes the deployments
    # whose workloads changed; the reconciler compares our index with the grid, both directions.
    for name, task, payload, every in (
        ("deployer refresh nodes", contracts.DEPLOYER_REFRESH_NODES, contracts.RefreshNodes(),
         settings.node_index_refresh),
        ("deployer reconcile", contracts.DEPLOYER_RECONCILE, contracts.Reconcile(), settings.reconcile_interval),
        # One look at the grid per tick for every deployment in flight (DESIGN "Deployment lifecycle" 7).
        ("deployer poll grid", contracts.DEPLOYER_POLL, contracts.PollGrid(), settings.deploy_poll_interval),
        # The hosted 3Bots' "initialising" wait (SOLUTIONS §3.12): one look at each one's /admin per tick.
        ("deployer await ready", contracts.DEPLOYER_AWAIT_READY, contracts.AwaitReady(),
         settings.threebot_ready_interval),
        ("chatflow expire sessions", contracts.CHATFLOW_EXPIRE, contracts.ExpireSessions(),
         settings.chatflow_expiry_interval),
        # Backup accounts created on one server while the other was down (LOGIN_PROTOCOL §9.3).
        ("backup complete accounts", contracts.BACKUP_COMPLETE, contracts.CompleteAccounts(),
         settings.backup_retry_interval),
    ):  # fmt: skip
        entries[name] = {
            "task": task,
            "schedule": every,
            "kwargs": {"payload_json": payload.model_dump(mode="json")},
            "options": {"queue": contracts.queue_of(task), "expires": every},
        }
    app.conf.beat_schedule = entries
    return app


_built: list[Celery] = []


def __getattr__(name: str) -> Any:
    # Built on first access by `celery -A services.common.beat`, never at import (STYLE §1).
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if not _built:
        _built.append(create_beat())
    return _built[0]
