"""The deployer web service, reached through Caddy at `/api/solutions/*`.

Run by `gunicorn "services.deployer.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "deployer"
PREFIX = "/api/solutions"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the deployer app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, or the deployer schema lacks migrations.
    """
    return create_service_app(SERVICE, PREFIX, settings)
