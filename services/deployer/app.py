"""The deployer web service, reached through Caddy at `/api/solutions/*`.

Run by `gunicorn "services.deployer.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.common.identity import IdentityError, load_identity
from services.common.settings import Settings
from services.common.web import create_service_app
from services.deployer.service import install_apps
from services.deployer.views import bp

SERVICE = "deployer"
PREFIX = "/api/solutions"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the deployer app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, a bad app definition, no identity, or the deployer schema lacks
            migrations.
    """
    app = create_service_app(SERVICE, PREFIX, settings)
    settings = app.extensions["marketplace"].settings
    install_apps(settings)  # the operator's apps are listed like the built-in ones
    try:
        app.extensions["deployer_identity"] = load_identity(settings.identity_seed_file, create=settings.is_dev)
    except IdentityError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    app.register_blueprint(bp)
    return app
