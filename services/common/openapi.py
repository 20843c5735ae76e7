"""OpenAPI 3.1 for every service, generated from the routes it serves and the pydantic models its views use.

A view says what it takes and answers with :func:`operation`; the document is assembled with apispec from the
Flask URL map (paths, path parameters and their converters) and the models' own JSON Schema (pydantic), so it
cannot drift from the code: a route under the service's prefix without an :func:`operation` is an error, and a
model changed in the code is changed in the document. Served at ``<prefix>/openapi.json`` (``/auth/openapi.json``,
``/api/pools/openapi.json``…), public through Caddy.

Every operation also answers ``4XX`` (and 502/503 when a dependency fails) in the standard error shape,
:class:`ErrorBody` (``services/common/errors.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema
from werkzeug.routing import IntegerConverter, Rule

REF = "#/components/schemas/{model}"
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_DOCUMENTED = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
SPEC_KEY = "marketplace.openapi"
SESSION = "session"


class ErrorItem(BaseModel):
    """One problem with one input field (``field`` null: the request as a whole)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    field: str | None
    description: str


class ErrorBody(BaseModel):
    """The one error shape of every service (``services/common/errors.py``)."""

    model_config = ConfigDict(extra="forbid")

    message: str
    errors: list[ErrorItem]
    request_id: str | None


@dataclass(frozen=True)
class Media:
    """A body that is not JSON: a file, an image, a page (``schema`` describes its text or bytes)."""

    mimetype: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Redirect:
    """A redirect (``Location`` says where); its small body is not part of the contract."""

    description: str


@dataclass(frozen=True)
class Empty:
    """An answer without a body (204, or a 200 whose meaning is in its headers)."""

    description: str


Answer = type[BaseModel] | Media | Redirect | Empty


def header(name: str, description: str, pattern: str) -> dict[str, Any]:
    """A request header an operation reads (optional), as an OpenAPI parameter."""
    schema = {"type": "string", "pattern": pattern}
    return {"name": name, "in": "header", "required": False, "schema": schema, "description": description}


@dataclass(frozen=True)
class Operation:
    """What one view takes and answers (see :func:`operation`)."""

    summary: str
    responses: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: tuple[dict[str, Any], ...] = ()
    description: str = ""
    public: bool = False


F = TypeVar("F", bound=Callable[..., Any])


def operation(
    summary: str,
    responses: Mapping[int, Answer],
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: tuple[dict[str, Any], ...] = (),
    description: str = "",
    public: bool = False,
) -> Callable[[F], F]:
    """Declare a view's request body model, query model, headers and answers (status → model or media);
    ``public``: Caddy lets it through without a session (every other operation needs one)."""

    def mark(view: F) -> F:
        described = Operation(summary, responses, body, query, headers, description, public)
        view.openapi = described  # type: ignore[attr-defined]
        return view

    return mark


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    params = []
    for name in _ARGUMENT.findall(rule.rule):
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
            if converter.max is not None:
                schema["maximum"] = converter.max
        else:
            schema = {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


class _Models:
    """Every model the document names, turned into components by pydantic in one pass."""

    def __init__(self) -> None:
        self.wanted: dict[tuple[type[BaseModel], str], None] = {(ErrorBody, "serialization"): None}

    def add(self, model: type[BaseModel], mode: str) -> None:
        self.wanted[(model, mode)] = None

    def build(self) -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
        refs, top = models_json_schema(list(self.wanted), ref_template=REF)  # type: ignore[arg-type]
        return refs, top.get("$defs", {})  # type: ignore[return-value]


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def _response(answer: Answer, refs: Mapping[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    if isinstance(answer, Media):
        return {"description": answer.description, "content": {answer.mimetype: {"schema": dict(answer.schema)}}}
    if isinstance(answer, Redirect):
        location = {"Location": {"schema": {"type": "string"}, "description": "where to go"}}
        return {"description": answer.description, "headers": location}
    if isinstance(answer, Empty):
        return {"description": answer.description}
    return {"description": answer.__doc__.strip().splitlines()[0] if answer.__doc__ else answer.__name__,
            "content": _json(refs[(answer, "serialization")])}  # fmt: skip


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop,
         **({"description": prop["description"]} if "description" in prop else {})}
        for name, prop in schema.get("properties", {}).items()
    ]  # fmt: skip


def _operations(app: Flask, prefix: str) -> list[tuple[Rule, str, Operation]]:
    found: list[tuple[Rule, str, Operation]] = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule == prefix or rule.rule.startswith(f"{prefix}/")):
            continue
        view = app.view_functions[rule.endpoint]
        described: Operation | None = getattr(view, "openapi", None)
        if described is None:
            raise LookupError(f"{rule.rule} ({rule.endpoint}) has no OpenAPI description: decorate it with operation")
        found.extend((rule, method, described) for method in sorted((rule.methods or set()) & _DOCUMENTED))
    return found


def build_spec(app: Flask, service: str, prefix: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route ``app`` serves under ``prefix``.

    Raises:
        LookupError: a route under ``prefix`` has no :func:`operation` description.
    """
    found = _operations(app, prefix)
    models = _Models()
    for _, _, op in found:
        if op.body is not None:
            models.add(op.body, "validation")
        for answer in op.responses.values():
            if isinstance(answer, type):
                models.add(answer, "serialization")
    refs, defs = models.build()
    error = {"description": "the standard error shape", "content": _json(refs[(ErrorBody, "serialization")])}
    spec = APISpec(
        title=f"Marketplace {service} API",
        version="1",
        openapi_version="3.1.0",
        info={"description": f"Every route of the {service} service, served through Caddy at {prefix}."},
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, op in found:
        parameters = _path_parameters(rule)
        if op.query is not None:
            parameters += _query_parameters(op.query, defs)
        parameters += list(op.headers)
        entry: dict[str, Any] = {
            "operationId": f"{method.lower()}_{rule.endpoint.replace('.', '_')}",
            "summary": op.summary,
            "security": [] if op.public else [{SESSION: []}],
            "responses": {"4XX": error, "502": error, "503": error}
            | {str(status): _response(answer, refs) for status, answer in op.responses.items()},
        }
        if op.description:
            entry["description"] = op.description
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": _json(refs[(op.body, "validation")])}
        paths.setdefault(_ARGUMENT.sub(r"{\1}", rule.rule), {})[method.lower()] = entry
    spec.components.security_scheme(
        SESSION,
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "mp_session",
            "description": "the session cookie (__Host-mp_session over HTTPS)",
        },
    )
    for name, schema in sorted(defs.items()):
        spec.components.schema(name, schema)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


class SpecDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


@operation("This OpenAPI document", {200: SpecDocument}, public=True)
def _serve() -> Response:
    cached = current_app.extensions.get(SPEC_KEY)
    if cached is None:
        service, prefix = current_app.extensions[f"{SPEC_KEY}.of"]
        cached = current_app.extensions[SPEC_KEY] = build_spec(current_app, service, prefix)
    return jsonify(cached)


def install(app: Flask, service: str, prefix: str) -> None:
    """Serve the document of ``app`` at ``<prefix>/openapi.json`` (built at the first request, then kept)."""
    app.extensions[f"{SPEC_KEY}.of"] = (service, prefix)
    bp = Blueprint("openapi", __name__)
    bp.add_url_rule(f"{prefix}/openapi.json", "openapi", _serve, methods=["GET"])
    app.register_blueprint(bp)
