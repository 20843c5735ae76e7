"""The pools web service, reached through Caddy at `/api/pools/*`: a user's capacity pools and their payment.

Run by `gunicorn "services.pools.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.explorer import Explorer
from services.common.identity import IdentityError, load_identity
from services.common.settings import Settings
from services.common.web import create_service_app
from services.pools.views import bp

SERVICE = "pools"
PREFIX = "/api/pools"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the pools app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, no identity, or the pools schema lacks migrations.
    """
    app = create_service_app(SERVICE, PREFIX, settings)
    settings = app.extensions["marketplace"].settings
    try:
        identity = load_identity(settings.identity_seed_file, create=settings.is_dev)
    except IdentityError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    app.extensions["pools_explorer"] = Explorer(settings, identity)
    app.register_blueprint(bp)
    return app
