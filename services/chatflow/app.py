"""The chatflow web service, reached through Caddy at `/api/chatflows/*`.

Run by `gunicorn "services.chatflow.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "chatflow"
PREFIX = "/api/chatflows"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the chatflow app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, or the chatflow schema lacks migrations.
    """
    return create_service_app(SERVICE, PREFIX, settings)
