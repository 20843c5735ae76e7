"""The chatflow web service, reached through Caddy at `/api/chatflows/*`.

Run by `gunicorn "services.chatflow.app:create_app()"` (see `deploy/role.py`).
"""

from __future__ import annotations

from flask import Flask

from services.chatflow.queries import Queries
from services.chatflow.service import Engine
from services.chatflow.views import WIZARD_MOVES, bp
from services.common.identity import IdentityError, load_identity
from services.common.ratelimit import PerUserLimits
from services.common.settings import Settings
from services.common.web import create_service_app

SERVICE = "chatflow"
PREFIX = "/api/chatflows"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the chatflow app (settings from the environment when not given).

    Raises:
        SystemExit: malformed environment, no identity, or the chatflow schema lacks migrations.
    """
    app = create_service_app(SERVICE, PREFIX, settings)
    deps = app.extensions["marketplace"]
    try:
        # Secret answers are encrypted to the marketplace identity, at rest and on their way to the deployer.
        identity = load_identity(deps.settings.identity_seed_file, create=deps.settings.is_dev)
    except IdentityError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    s = deps.settings
    limits = PerUserLimits(app, s.redis_url)
    count = limits.counter("chatflow-queries", s.chatflow_query_rate_limit, s.chatflow_rate_window,
                           "questions to other services")  # fmt: skip
    queries = Queries(deps.celery, deps.redis, s.query_timeout, count)
    app.extensions["chatflow_engine"] = Engine(deps.db, identity, queries, s.chatflow_session_ttl,
                                               s.chatflow_open_sessions)  # fmt: skip
    app.register_blueprint(bp)
    # Every wizard move (start, answer, back, restart) shares one per-user counter: CHATFLOW_ANSWER_RATE_LIMIT per
    # CHATFLOW_RATE_WINDOW seconds.
    limits.wrap(app, WIZARD_MOVES, "chatflow-answers", s.chatflow_answer_rate_limit, s.chatflow_rate_window,
                "wizard answers")  # fmt: skip
    return app
