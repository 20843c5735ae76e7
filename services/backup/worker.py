"""The backup worker: `celery -A services.backup.worker worker -Q backup`."""

from __future__ import annotations

from services.common.worker import lazy_app

SERVICE = "backup"

# `app` is built when Celery first reads it (settings are parsed at process start, not at import).
__getattr__ = lazy_app(SERVICE, needs_grid_identity=False)
