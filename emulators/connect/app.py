"""Flask application factory: blueprints, request ids, security headers and the error handlers.

Every error a client can cause is answered with a 4xx (JSON, or an HTML page for the browser pages); the only
intended 500 is KYC's "Invalid or corrupted signature", which mirrors the real service and is produced by its
view, not by an exception.
"""

from __future__ import annotations

import re
import uuid

import structlog
from flask import Flask, Response, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from .admin import bp as admin_bp
from .api import bp as api_bp
from .emulator import EXTENSION_KEY, Emulator, EmulatorConfig
from .errors import EmulatorError
from .views import bp as pages_bp

log = structlog.get_logger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Only inline styles: the page loads nothing from anywhere (no CDN), and no script at all.
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def _wants_html() -> bool:
    if request.blueprint != "pages" or request.is_json:
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def _error_response(status: int, message: str, errors: list[dict[str, str]]) -> tuple[Response | str, int]:
    request_id = getattr(g, "request_id", "")
    if _wants_html():
        return render_template("error.html", status=status, message=message, errors=errors), status
    return jsonify({"message": message, "errors": errors, "request_id": request_id}), status


def _register_handlers(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.blueprint == "pages":
            response.headers["Content-Security-Policy"] = _PAGE_CSP
            response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.errorhandler(EmulatorError)
    def emulator_error(exc: EmulatorError) -> tuple[Response | str, int]:
        return _error_response(exc.status, exc.message, [e.as_json() for e in exc.errors])

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> HTTPException | tuple[Response | str, int]:
        if exc.code is None or exc.code < 400:
            return exc
        # Unknown route, wrong method, body too large, undecodable form: JSON, never Werkzeug's HTML.
        return _error_response(exc.code, f"{exc.name}: {exc.description}", [])

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        log.exception("unhandled_error", request_id=getattr(g, "request_id", ""), path=request.path)
        return _error_response(500, "Internal error (logged with this request id)", [])


def create_app(config: EmulatorConfig | None = None) -> Flask:
    """Build the emulator app; tests pass their own config, the CLI one built from flags and env."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False  # keep protocol objects in the order the doc shows them
    app.extensions[EXTENSION_KEY] = Emulator(config or EmulatorConfig())
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    _register_handlers(app)
    return app
