"""The backup worker: `celery -A services.backup.worker worker -Q backup`.

It completes accounts one server missed during `init` (beat sends `backup.complete_accounts` every
BACKUP_RETRY_INTERVAL). Like the web app it stops at start when a BACKUP_* variable is missing or malformed.
"""

from __future__ import annotations

import redis
from celery import Celery

from services.backup import accounts
from services.backup.config import backup_config_or_exit
from services.common import contracts
from services.common.db import Database
from services.common.settings import Settings
from services.common.tasks import define_task
from services.common.worker import lazy_app

SERVICE = "backup"


def register(app: Celery, settings: Settings) -> None:
    config = backup_config_or_exit(settings)
    backend = accounts.Backend(
        Database(settings.database_url, minconn=1, maxconn=settings.db_pool_max),
        redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5),
        config,
    )

    @define_task(app, contracts.BACKUP_COMPLETE, contracts.CompleteAccounts, time_limit=240)
    def complete_accounts(payload: contracts.CompleteAccounts) -> int:
        """Copy every incomplete account to the server that missed it; returns how many were copied."""
        return accounts.complete(backend)


# `app` is built when Celery first reads it (settings are parsed at process start, not at import).
__getattr__ = lazy_app(SERVICE, register=register, needs_grid_identity=False)
