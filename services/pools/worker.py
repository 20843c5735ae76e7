"""The pools worker: `celery -A services.pools.worker worker -Q pools`."""

from __future__ import annotations

from services.common.worker import lazy_app
from services.pools.tasks import register

SERVICE = "pools"

# `app` is built when Celery first reads it (settings are parsed at process start, not at import).
__getattr__ = lazy_app(SERVICE, register=register, needs_grid_identity=True)
