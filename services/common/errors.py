"""The one JSON error shape, and the Flask handlers that produce it.

Every error answer of every service looks like::

    {"message": "...", "errors": [{"code": "...", "field": "...", "description": "..."}], "request_id": "..."}

422 for validation (one entry per field), 401/403/404 as usual, 503 when a dependency is down. A 500 never leaks
internals: the stack goes to the log with the request id, the client gets a generic message and that id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog
from celery.exceptions import TimeoutError as CeleryTimeout
from flask import Flask, Response, current_app, g, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from services.common.db import DatabaseUnavailable
from services.common.explorer import ExplorerRejected, ExplorerUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (or with the request as a whole when ``field`` is None)."""

    code: str
    description: str
    field: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "description": self.description}


@dataclass
class ApiError(Exception):
    """Raise anywhere in a request to answer with the standard error shape."""

    status: int
    message: str
    errors: Sequence[FieldError] = field(default_factory=tuple)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


class ServiceUnavailable(ApiError):
    """A dependency (PostgreSQL, Redis, another service, the explorer) did not answer in time."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message, (FieldError("unavailable", message),))


def field_errors_from_pydantic(exc: ValidationError) -> list[FieldError]:
    """One :class:`FieldError` per failing field, with dotted field paths (``items.0.name``)."""
    result = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in err["loc"]) or None
        result.append(FieldError(code=err["type"], field=path, description=err["msg"]))
    return result


def error_response(
    status: int,
    message: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the standard error response (used by handlers and by code that answers errors directly)."""
    body = {
        "message": message,
        "errors": [e.as_json() for e in errors],
        "request_id": g.get("request_id"),
    }
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.errors, exc.headers)


def _handle_validation(exc: ValidationError) -> Response:
    return error_response(422, "the request is not valid", field_errors_from_pydantic(exc))


def _handle_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {
        404: "no such resource",
        405: "method not allowed on this resource",
        413: f"the request body is too large: at most {current_app.config.get('MAX_CONTENT_LENGTH')} bytes",
    }.get(status, exc.description or exc.name)
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return error_response(status, message, (FieldError(exc.name.lower().replace(" ", "_"), message),), headers)


def _handle_unavailable(exc: Exception) -> Response:
    what = {
        DatabaseUnavailable: "the database",
        CeleryTimeout: "a background service",
    }.get(type(exc), "the message broker")
    log.warning("dependency unavailable", dependency=what, error_type=type(exc).__name__)
    message = f"{what} is unavailable; try again shortly"
    return error_response(503, message, (FieldError("unavailable", message),), {"Retry-After": "5"})


def _handle_explorer_unavailable(exc: Exception) -> Response:
    message = f"the grid explorer is unavailable; try again ({exc})"
    return error_response(503, message, (FieldError("explorer_unavailable", message),), {"Retry-After": "10"})


def _handle_explorer_rejected(exc: Exception) -> Response:
    message = f"the grid explorer refused the request: {getattr(exc, 'message', exc)}"
    log.warning("explorer refused", error=message)
    return error_response(502, message, (FieldError("explorer_rejected", message),))


def _handle_unexpected(exc: Exception) -> Response:
    # The stack trace goes to the log with the request id; the client learns only that id.
    log.exception("unhandled error", error_type=type(exc).__name__)
    return error_response(
        500,
        "internal error; quote the request id when reporting it",
        (FieldError("internal", "internal error"),),
    )


def register_error_handlers(app: Flask) -> None:
    """Install the JSON handlers: no HTML error page can leave the app."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(ValidationError, _handle_validation)
    app.register_error_handler(HTTPException, _handle_http)
    for unavailable in (DatabaseUnavailable, CeleryTimeout, redis.ConnectionError, redis.TimeoutError):
        app.register_error_handler(unavailable, _handle_unavailable)
    app.register_error_handler(ExplorerUnavailable, _handle_explorer_unavailable)
    app.register_error_handler(ExplorerRejected, _handle_explorer_rejected)
    app.register_error_handler(Exception, _handle_unexpected)
