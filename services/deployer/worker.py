"""The deployer worker: `celery -A services.deployer.worker worker -Q deployer`."""

from __future__ import annotations

from services.common.worker import lazy_app
from services.deployer.tasks import register

SERVICE = "deployer"

# `app` is built when Celery first reads it (settings are parsed at process start, not at import).
__getattr__ = lazy_app(SERVICE, register=register, needs_grid_identity=True)
