"""The backup web service, reached through Caddy at `/api/backup/*`.

Run by `gunicorn "services.backup.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.backup.config import backup_config_or_exit
from services.backup.views import BackupContext, bp
from services.common.explorer import Explorer
from services.common.identity import load_identity
from services.common.settings import Settings, load_or_exit
from services.common.web import create_service_app

SERVICE = "backup"
PREFIX = "/api/backup"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the backup app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment (a BACKUP_* variable included), or the backup schema lacks migrations.
    """
    settings = settings or load_or_exit()
    config = backup_config_or_exit(settings)
    app = create_service_app(SERVICE, PREFIX, settings)
    identity = load_identity(settings.identity_seed_file, create=settings.is_dev)
    app.extensions["backup"] = BackupContext(config, identity, Explorer(settings, identity))
    app.register_blueprint(bp)
    return app
