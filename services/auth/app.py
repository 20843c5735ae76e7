"""The auth web service, reached through Caddy at `/auth/*`.

Run by `gunicorn "services.auth.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "auth"
PREFIX = "/auth"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the auth app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, or the auth schema lacks migrations.
    """
    return create_service_app(SERVICE, PREFIX, settings)
