"""The pools web service, reached through Caddy at `/api/pools/*`.

Run by `gunicorn "services.pools.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "pools"
PREFIX = "/api/pools"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the pools app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, or the pools schema lacks migrations.
    """
    return create_service_app(SERVICE, PREFIX, settings)
