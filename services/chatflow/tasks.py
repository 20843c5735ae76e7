"""Celery tasks of the chatflow worker: beat's removal of abandoned wizard sessions."""

from __future__ import annotations

import structlog
from celery import Celery

from services.chatflow import store
from services.common import contracts
from services.common.db import Database, DatabaseUnavailable
from services.common.settings import Settings
from services.common.tasks import define_task

log = structlog.get_logger(__name__)


def register(app: Celery, settings: Settings) -> None:
    db = Database(settings.database_url, maxconn=2)

    @define_task(app, contracts.CHATFLOW_EXPIRE, contracts.ExpireSessions, time_limit=60,
                 retry_on=(DatabaseUnavailable,), max_retries=2)  # fmt: skip
    def expire_sessions(payload: contracts.ExpireSessions) -> int:
        deleted = 0
        while True:  # in batches, so one pass never holds many row locks
            with db.transaction() as cur:
                batch = store.delete_expired(cur)
            deleted += batch
            if batch < 1000:
                break
        if deleted:
            log.info("expired wizard sessions deleted", count=deleted)
        return deleted
