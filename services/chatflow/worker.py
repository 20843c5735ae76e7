"""The chatflow worker: `celery -A services.chatflow.worker worker -Q chatflow` (session expiry)."""

from __future__ import annotations

from services.chatflow.tasks import register
from services.common.worker import lazy_app

SERVICE = "chatflow"

# `app` is built when Celery first reads it (settings are parsed at process start, not at import).
__getattr__ = lazy_app(SERVICE, register=register)
