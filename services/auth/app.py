"""The auth service, reached through Caddy at `/auth/*`: 3Bot Connect login, sessions, terms, forward_auth.

Run by `gunicorn "services.auth.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.auth.sessions import SessionStore
from services.auth.verify import AssertionCache
from services.auth.views import AuthContext, bp
from services.common.identity import IdentityError, load_identity
from services.common.settings import Settings
from services.common.web import create_service_app, deps

SERVICE = "auth"
PREFIX = "/auth"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the auth app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, a missing key, or the auth schema lacks migrations.
    """
    app = create_service_app(SERVICE, PREFIX, settings)
    settings = app.extensions["marketplace"].settings
    if settings.auth_signing_seed_file is None:
        raise SystemExit("configuration error: AUTH_SIGNING_SEED_FILE is not set")
    try:
        identity = load_identity(settings.identity_seed_file, create=settings.is_dev)
        signer = load_identity(Path(settings.auth_signing_seed_file), create=settings.is_dev)
    except IdentityError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    with app.app_context():
        sessions = SessionStore(deps().redis, settings)
        app.extensions["auth"] = AuthContext(identity, signer, sessions, AssertionCache(signer, settings.assertion_ttl))
    app.register_blueprint(bp)
    return app
