"""What every web service shares: the Flask base app, request ids, health and readiness, dependencies.

A service's ``create_app(settings=None)`` calls :func:`create_service_app` and registers its own blueprints.
``/healthz`` says the process is up (no dependency touched); ``/readyz`` says PostgreSQL and Redis answer.
Both are also served under the service's public prefix (``/auth/healthz``, ``/api/pools/readyz``…) so they are
reachable through Caddy.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import psycopg2
import redis
import structlog
from celery import Celery
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from services.common import db as dbmod
from services.common import metrics, web_metrics
from services.common.assertion import User, auth_public_key, current_user, hand_over_pass, require_terms
from services.common.errors import ApiError, FieldError, register_error_handlers
from services.common.jsonin import JSONProvider
from services.common.log import configure_logging
from services.common.migrations import SchemaBehind, ensure_current
from services.common.openapi import install as install_openapi
from services.common.openapi import operation
from services.common.production import check_start_or_exit
from services.common.settings import BODY_LIMIT_CEILING, Settings, load_or_exit
from services.common.tasks import close_celery, make_celery

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
EXTENSION = "marketplace"


@dataclass
class Dependencies:
    """The process-wide clients of one web app (created once per app, opened lazily)."""

    settings: Settings
    db: dbmod.Database
    redis: redis.Redis
    celery: Celery
    _auth_key: bytes | None = None

    @property
    def auth_key(self) -> bytes:
        """The auth service's verify key (read once per process)."""
        if self._auth_key is None:
            self._auth_key = auth_public_key(self.settings)
        return self._auth_key

    def close(self) -> None:
        """Close every pooled connection (tests, and processes that build apps repeatedly)."""
        self.db.close()
        self.redis.close()
        self.redis.connection_pool.disconnect()
        close_celery(self.celery)


def deps() -> Dependencies:
    """The dependencies of the current app (inside a request or app context)."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def user() -> User:
    """The verified caller of the current request.

    Raises:
        ApiError: 401 without a valid assertion from the auth service.
    """
    d = deps()
    return current_user(d.settings, d.auth_key)


def require_accepted_terms() -> User:
    """The verified caller, who must have accepted the current terms (every spending/deploying endpoint).

    Raises:
        ApiError: 401 when not signed in, 403 until the current terms are accepted.
    """
    caller = user()
    require_terms(deps().settings, caller)
    return caller


F = TypeVar("F", bound=Callable[..., Any])


def csrf_exempt(view: F) -> F:
    """Mark a view as server-to-server (no browser, no cookie): the same-origin check does not apply."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded", "multipart/form-data"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _check_same_origin() -> None:
    # Unknown routes and wrong methods fall through to their JSON 404/405.
    if request.method in _SAFE_METHODS or request.url_rule is None:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "csrf_exempt", False):
        return
    expected = deps().settings.public_origin
    origin = request.headers.get("Origin") or _origin_of(request.headers.get("Referer", ""))
    if origin != expected:
        message = "cross-site request refused"
        raise ApiError(403, message, (FieldError("cross_site_request", message),))
    if request.content_length and request.mimetype not in _BODY_TYPES:
        message = "send a JSON body (Content-Type: application/json) or a form"
        raise ApiError(415, message, (FieldError("unsupported_media_type", message),))


def _limit_body() -> None:
    # Read the body now (at most MAX_CONTENT_LENGTH): one over the limit is a 413 on every route, before any other
    # work. A declared length over it is refused unread; a chunked body is read up to the limit, where werkzeug
    # stops quietly (a truncated body, not an error): one byte more left in the stream means it was too large.
    if request.method in _SAFE_METHODS:
        return
    stream = request.environ["wsgi.input"]
    try:
        data = request.get_data(cache=True)
        if request.content_length is None and len(data) >= current_app.config["MAX_CONTENT_LENGTH"] and stream.read(1):
            raise RequestEntityTooLarge()
    except RequestEntityTooLarge:
        # Read what is left (Caddy sends at most BODY_LIMIT_CEILING): answering with the body half-read resets the
        # connection, and Caddy would turn the 413 into a 502.
        left = BODY_LIMIT_CEILING
        with contextlib.suppress(Exception):  # the client or Caddy gave up: nothing more to read
            while left > 0 and (chunk := stream.read(min(65536, left))):
                left -= len(chunk)
        raise


def _begin_request() -> None:
    # Caddy sets X-Request-Id; a direct caller may too. Anything odd is replaced, never trusted into logs.
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.started = time.monotonic()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _end_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    hand_over_pass(deps().settings, response)
    log.info(
        "request",
        method=request.method,
        path=request.path,
        status=response.status_code,
        ms=round((time.monotonic() - g.get("started", time.monotonic())) * 1000, 1),
    )
    return response


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    """Whether PostgreSQL and Redis answer: names and ok/down only."""

    status: Literal["ready", "not ready"]
    service: str
    checks: dict[str, Literal["ok", "down"]]


def _health_blueprint(prefix: str) -> Blueprint:
    bp = Blueprint("health", __name__)

    @operation("The process is up (no dependency touched)", {200: Health}, public=True)
    def healthz() -> Response:
        return jsonify(status="ok", service=current_app.name)

    @operation("PostgreSQL and Redis answer", {200: Readiness, 503: Readiness}, public=True)
    def readyz() -> tuple[Response, int]:
        d = deps()
        checks: dict[str, str] = {}
        # The answer is public (through Caddy): names and ok/down only. Why a dependency is down (its host, port,
        # driver message) goes to the log, never to the caller.
        try:
            d.db.ping()
            checks["postgres"] = "ok"
        except dbmod.DatabaseUnavailable as exc:
            checks["postgres"] = "down"
            log.warning("not ready", dependency="postgres", reason=str(exc))
        try:
            d.redis.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = "down"
            log.warning("not ready", dependency="redis", reason=f"{type(exc).__name__}: {exc}")
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "not ready", "service": current_app.name, "checks": checks}
        return jsonify(body), 200 if ready else 503

    for base in ("", prefix):
        bp.add_url_rule(f"{base}/healthz", f"healthz{base}", healthz, methods=["GET"])
        bp.add_url_rule(f"{base}/readyz", f"readyz{base}", readyz, methods=["GET"])
    return bp


def create_service_app(
    service: str,
    prefix: str,
    settings: Settings | None = None,
    *,
    check_schema: bool = True,
) -> Flask:
    """The base Flask app of ``service``: JSON errors, request ids, logging, health, dependencies.

    With ``check_schema`` the app refuses to start when the service's schema lacks migrations.

    Raises:
        SystemExit: the environment is malformed (one line names the variable) or the schema is stale.
    """
    settings = settings or load_or_exit()
    check_start_or_exit(settings, f"{service}-web")
    configure_logging(json=settings.app_env == "production", level=settings.log_level)
    if check_schema:
        try:
            ensure_current(settings.database_url, service)
        except (SchemaBehind, psycopg2.Error) as exc:  # stale schema or no PostgreSQL: refuse to start
            log.error("refusing to start", reason=str(exc).splitlines()[0])
            raise SystemExit(3) from None

    app = Flask(f"marketplace.{service}")
    app.json = JSONProvider(app)  # deep request bodies are a 400, not a RecursionError (services/common/jsonin.py)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_body)
    app.json.sort_keys = False
    app.extensions[EXTENSION] = Dependencies(
        settings=settings,
        db=dbmod.Database(settings.database_url, minconn=settings.db_pool_min, maxconn=settings.db_pool_max),
        redis=redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5),
        celery=make_celery(settings),
    )
    register_error_handlers(app)
    # Caddy is the one proxy in front: trust its X-Forwarded-For/-Proto (client address for rate limits).
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.before_request(_begin_request)
    app.before_request(_limit_body)
    app.before_request(_check_same_origin)
    app.after_request(_end_request)
    metrics.switch(settings.metrics)
    if settings.metrics:
        web_metrics.install(app, service)
    app.register_blueprint(_health_blueprint(prefix))
    install_openapi(app, service, prefix)
    return app
