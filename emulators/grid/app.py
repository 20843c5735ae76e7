"""Flask application factory of the grid emulator."""

from __future__ import annotations

import time
from pathlib import Path

import structlog
from flask import Flask, Response, g, request

from emulators.grid import admin, api_directory, api_reservations, ct_api, request_counts
from emulators.grid.api_auth import authenticate
from emulators.grid.config import EmulatorConfig
from emulators.grid.faults import API_PREFIX, inject_faults, install_lost_answers
from emulators.grid.wire import register_error_handlers
from emulators.grid.world import open_world

log = structlog.get_logger("grid-emulator")

# Workload bodies are a few KiB; anything near this is abuse and gets a 413.
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_STATE_PATH = Path(".local/grid/state.sqlite3")


def create_app(config: EmulatorConfig | None = None) -> Flask:
    """The emulator app; opens (and seeds, if new) the state file named in ``config``.

    Raises ValueError when the configuration names an unreadable users file or an unknown down node.
    """
    config = config or EmulatorConfig(state_path=DEFAULT_STATE_PATH)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["grid_world"] = open_world(config)
    app.config["GRID_DNS_PORT"] = config.dns_port  # shown by /_emulator/info; the server runs in __main__
    request_counts.install(app)
    register_error_handlers(app)
    app.before_request(_start_timer)
    # Order matters: latency and injected 500s come first, so they also hit requests that would fail auth.
    app.before_request(inject_faults)
    app.before_request(authenticate)
    app.after_request(_log_request)
    install_lost_answers(app)  # after _log_request: its hook runs first
    app.register_blueprint(api_directory.bp, url_prefix=API_PREFIX)
    app.register_blueprint(api_reservations.bp, url_prefix=API_PREFIX)
    app.register_blueprint(admin.bp, url_prefix="/_emulator")
    app.register_blueprint(ct_api.bp, url_prefix="/_emulator")
    return app


def _start_timer() -> None:
    g.started = time.monotonic()


def _log_request(response: Response) -> Response:
    started = g.get("started")
    elapsed_ms = round((time.monotonic() - started) * 1000, 1) if started is not None else None
    log.info("request", method=request.method, path=request.path, status=response.status_code, ms=elapsed_ms)
    request_counts.count_request()
    return response
