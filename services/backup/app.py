"""The backup web service, reached through Caddy at `/api/backup/*`.

Run by `gunicorn "services.backup.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "backup"
PREFIX = "/api/backup"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the backup app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, or the backup schema lacks migrations.
    """
    return create_service_app(SERVICE, PREFIX, settings)
