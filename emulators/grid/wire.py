"""JSON in and out: request bodies, responses, and the `{"error": ...}` shape of every failure (§2.2).

Anything a client can send must end in a 4xx JSON answer, never a 500 or an HTML page; the only 500s are the
ones fault injection asks for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import structlog
from flask import Flask, Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from emulators.grid.models import describe

log = structlog.get_logger("grid-emulator")

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answer: HTTP status, message, optional extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def json_body() -> Any:
    """The parsed JSON request body. Raises ApiError(400) when it is not valid JSON.

    Parsed by hand rather than with request.get_json so that absurd inputs (deep nesting, 10k-digit numbers)
    are a 400 as well.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "request body must be a JSON document")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None


def json_object() -> dict[str, Any]:
    """The JSON body, which must be an object. Raises ApiError(400)."""
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def validated(model: type[M], data: Any) -> M:
    """``data`` validated into ``model``. Raises ApiError(400) naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, describe(exc)) from None


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        # Unknown routes (404), wrong methods (405), oversized bodies (413) ... as JSON, not Werkzeug's HTML.
        status = error.code or 400
        headers = None
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {"Allow": ", ".join(error.valid_methods)}
        message = {404: "not found", 405: "method not allowed"}.get(status, error.description or error.name)
        return error_response(status, message, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # A bug, not a client error: log the stack, answer in the contract's shape without internals.
        log.exception("unhandled error", path=request.path, method=request.method)
        return error_response(500, "internal error")
